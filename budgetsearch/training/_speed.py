"""How fast a trial's network ran, and how that was measured: its training throughput, and its inference latency.

The training throughput is the loop's own (images per second of training-loop
time, the first epoch left out when later ones ran: it holds compilation and
warm-up). The inference latency is measured once training has ended, when
the study asks for it, with :func:`budgetsearch.timing.measure` on the same
device, so it is the same number ``count --measure`` gives for that network.
"""

from __future__ import annotations

from typing import Optional

import torch

from ..timing import Timing, device_label
from ._config import TrainConfig


def speed_record(device: torch.device, config: TrainConfig, precision: str, epoch_throughput: list,
                 inference: Optional[Timing]) -> dict:
    """The result's speed fields: ``latency_ms``, ``inference_images_per_second``, ``timing_device``, ``timing``.

    ``epoch_throughput``: (images, seconds) of each epoch's training loop, as
    the trainer recorded them; ``inference``: the measured forward (None: not
    measured). ``timing`` says how each number was obtained.
    """
    timed_epochs = max(len(epoch_throughput) - 1, 0) or len(epoch_throughput)
    training = {"batch_size": config.batch_size, "precision": precision, "compiled": config.compile,
                "epochs_timed": timed_epochs, "first_epoch_left_out": len(epoch_throughput) > 1,
                "method": "training images per second of training-loop time (augmentation, forward, backward, "
                          "optimizer step)"}
    measured = None
    if inference is not None:
        measured = {"batch_size": inference.batch_size, "warmup": inference.warmup, "repeats": inference.repeats,
                    "precision": "float32 (no autocast)", "compiled": False,
                    "method": f"forward in eval mode without gradients, random inputs: {inference.method}"}
    return {
        "latency_ms": None if inference is None else 1000.0 * inference.forward_seconds,
        "inference_images_per_second": None if inference is None else inference.inference_images_per_second,
        "timing_device": device_label(device),
        "timing": {"device": device_label(device), "training": training, "inference": measured},
    }
