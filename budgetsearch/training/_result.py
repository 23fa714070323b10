"""The record of one trial: how it ended, its errors, its cost and how it was configured."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Optional

STATUSES = ("complete", "pruned", "diverged", "oom")


@dataclass(frozen=True)
class TrialResult:
    """Outcome of :func:`~budgetsearch.training.train_trial`.

    Errors are top-1 / top-5 error in percent (0-100). ``val_*``, ``train_*``
    are from the last epoch run; ``test_*`` are measured once, at the end of a
    trial that ran all its epochs, and are None otherwise. ``history`` holds
    one metrics dict per epoch run (the ones ``on_epoch`` received).
    """

    status: str
    message: str
    val_error: Optional[float]
    val_top5_error: Optional[float]
    test_error: Optional[float]
    test_top5_error: Optional[float]
    train_error: Optional[float]
    train_loss: Optional[float]
    val_loss: Optional[float]
    test_loss: Optional[float]
    epochs_run: int
    wall_time: float  # seconds, the whole trial (build, count, train, evaluate, save)
    images_per_second: Optional[float]  # training images per second of training-loop time, after the first epoch
    params: int
    mult_adds: int
    reconstruction_mult_adds: int  # rebuilding the structured weights, per training step (any batch)
    reference_params: int  # the same network with the family's reference substitute
    compression_ratio: float  # params / reference_params, the CRS-wd ratio
    convention: dict  # how params and mult-adds were counted
    config: dict  # the resolved configuration
    weight_decay_groups: List[dict]
    history: List[dict] = field(default_factory=list)
    resumed_from_epoch: Optional[int] = None  # epochs restored from the trial's training state (None: from epoch 0)
    # A trial that starts from weights (``TrainConfig.init`` "loaded" or "projected"): the init, the weights file,
    # what a partial load left at its initialisation, and the val/test errors at epoch 0, before any training
    # (``dense_*_error``: the dense original's, when projected). None from scratch.
    initial: Optional[dict] = None
    # A projected trial's ProjectionReport.to_dict(): per layer and pooled, the relative weight and output errors.
    projection: Optional[dict] = None
    # Measured inference of the trained network (train_trial's ``timing``): ms per batch and images per second;
    # None when not asked for or the trial did not complete.
    latency_ms: Optional[float] = None
    inference_images_per_second: Optional[float] = None
    timing_device: Optional[str] = None  # where images_per_second and the latency were measured, e.g. "cpu (2 threads)"
    timing: Optional[dict] = None  # how they were measured: device, batch sizes, warm-up, repeats, precision

    def __post_init__(self):
        assert self.status in STATUSES, self.status

    def to_dict(self) -> dict:
        """A JSON-able dict (non-finite floats become None, as JSON has no NaN)."""
        return _json_safe({name: getattr(self, name) for name in self.__dataclass_fields__})


def _json_safe(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
