"""The trial record: the user attributes every trial of a study carries, declared once.

``run`` writes the fields that say what a trial is when it queues it; the
worker that trains it writes the result fields (``written_by="worker"``) when
it ends; the queue copies the first kind into a re-queued trial; the trials
table shows them all, in this order. A field missing from a stored trial
(a journal written before the field existed) reads as missing, never as an error.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Optional, Union

_WORKER = {"written_by": "worker"}


def _result(default=None):
    return field(default=default, metadata=_WORKER)


@dataclass(frozen=True, kw_only=True)
class TrialRecord:
    """One trial's user attributes (None where a field does not apply)."""

    model: str
    dataset: str
    substitute: str
    setting: Union[int, float, None]  # the substitute's size hyperparameter; None for the dense teacher
    budget: str  # the budget's label, "dense" for the teacher
    budget_params: int
    budget_mult_adds: Optional[int]
    seed: int
    # How the network started: "scratch" or "projected" (from the study's dense weights). None: recorded before
    # studies had this axis, when every trial started from scratch.
    init: Optional[str] = None
    cell: str  # substitute|budget|seed, then |projected for a projected start
    role: str  # "student" or "teacher"
    params: int  # the solver's count of the network this trial trains
    mult_adds: int
    dense_params: int
    dense_mult_adds: int
    convention: dict  # how params and mult_adds were counted
    # params / budget_params, so Optuna's own tools (dashboard, trials_dataframe) show how full the budget is.
    fill: Optional[float] = None
    # The budget is above the largest network the substitute reaches (the solver's answer is that network): Optuna
    # sees it as a violated constraint (see budget_constraints). None: not recorded (the teacher, an older journal).
    saturated: Optional[bool] = None
    val_error: Optional[float] = _result()
    val_top5_error: Optional[float] = _result()
    test_error: Optional[float] = _result()
    test_top5_error: Optional[float] = _result()
    train_error: Optional[float] = _result()
    status: Optional[str] = _result()
    message: Optional[str] = _result()
    wall_time: Optional[float] = _result()
    epochs_run: Optional[int] = _result()
    reconstruction_mult_adds: Optional[int] = _result()  # mult-adds of rebuilding factorised weights, per step
    config: Optional[dict] = _result()  # the resolved settings it was trained with
    # Epochs restored from the training state its lost attempt left (resumed there); None: trained from epoch 0.
    resumed_from_epoch: Optional[int] = _result()
    # A projected start (None from scratch): the projection's relative Frobenius error of the substituted layers'
    # weights and of their outputs on the calibration batch, over all layers together; each layer's in
    # projection_layers ({"name", "weight_error", "output_error", ...}); the errors (%) of the projected network
    # before any fine-tuning (epoch 0), to set against val_error and test_error at the end; projection_batch_norms:
    # how many batch norms' running statistics were recomputed on the calibration batch before that measurement.
    projection_weight_error: Optional[float] = _result()
    projection_output_error: Optional[float] = _result()
    projection_layers: Optional[list] = _result()
    projection_batch_norms: Optional[int] = _result()
    initial_val_error: Optional[float] = _result()
    initial_test_error: Optional[float] = _result()
    # Measured speed on the trial's device (timing_device); `timing` says how each number was measured. Training
    # images per second of the loop (after the first epoch); with the study's `measure`, the trained network's
    # inference: ms per batch and images per second.
    train_images_per_second: Optional[float] = _result()
    latency_ms: Optional[float] = _result()
    inference_images_per_second: Optional[float] = _result()
    timing_device: Optional[str] = _result()
    timing: Optional[dict] = _result()
    # Which tuning trial of its cell this is (None: the cell is not tuned).
    tuning_trial: Optional[int] = None
    # Whether a dead worker lost it (a fresh copy was then queued); written last, so it overrules a recoverer.
    lost: bool = False
    # Every budget the trained network serves ({"budget", "budget_params", "budget_mult_adds"}, its own first):
    # cells of one substitute whose settings build the same network train once.
    budgets: Optional[list] = None

    def to_attrs(self) -> dict:
        """The record as Optuna user attributes (JSON values)."""
        return dataclasses.asdict(self)


def budget_constraints(attrs: dict) -> dict:
    """The trial's Optuna constraint as system attributes: positive (violated) where its budget is over the reach.

    The value is the part of the budget its network cannot fill (1 - fill) when
    saturated, else 0. Optuna's ``constraints`` system attribute (a list, the
    form every Optuna version reads) makes ``plot_pareto_front`` and the
    dashboard draw saturated trials as infeasible. Empty where ``saturated`` is
    not recorded.
    """
    from optuna.samplers._base import _CONSTRAINTS_KEY  # private, but the key Optuna's readers look up

    if attrs.get("saturated") is None:
        return {}
    fill = attrs.get("fill")
    shortfall = (1.0 - fill if fill is not None else 1.0) if attrs["saturated"] else 0.0
    return {_CONSTRAINTS_KEY: [float(shortfall)]}


TRIAL_ATTRIBUTES = tuple(f.name for f in dataclasses.fields(TrialRecord))
RESULT_ATTRIBUTES = tuple(f.name for f in dataclasses.fields(TrialRecord) if f.metadata == _WORKER)


def attribute_kinds() -> dict:
    """Each attribute's value kinds, e.g. ``{"params": (int,), "setting": (int, float)}`` (None left out)."""
    hints = typing.get_type_hints(TrialRecord)
    return {name: tuple(k for k in (typing.get_args(hint) or (hint,)) if k is not type(None))
            for name, hint in hints.items()}
