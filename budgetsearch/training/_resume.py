"""Resuming a trial: its training state written at each epoch's end and read back by its next attempt.

A state file holds everything the next epoch depends on: the weights and
buffers, the optimizer's state (momentum), the trial's own generator (data
order and augmentation), the device's global generator (dropout, drop-path)
and the epochs done with their metrics. The learning rate is a pure function
of epoch and step (:mod:`._schedule`), so the epoch count is the schedule's
whole state. A resumed trial therefore draws the same batches and masks from
that epoch on as the uninterrupted one; on CPU it ends with the same weights.

The file is data (read with ``torch.load(weights_only=True)``) written
atomically, and it belongs to one trial: it records the trial's settings,
architecture and data. A file that cannot be read, is torn, or belongs to
another trial is set aside with a warning, and the trial starts from epoch 0.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

import torch

from ..errors import CheckpointError
from ._checkpoint import write_atomically

logger = logging.getLogger(__name__)

FORMAT = "budgetsearch-training-state"
VERSION = 1
_KEYS = ("identity", "epochs_done", "model", "optimizer", "generator", "global_rng", "history", "epoch_throughput")


def training_identity(config, architecture, data) -> str:
    """What a state must have been trained with to continue this trial: settings, network and data, as one string."""
    return json.dumps({"config": config.to_dict(), "architecture": architecture.to_dict(), "data": data.source,
                       "train_images": len(data.train_images), "validation_seed": data.seed},
                      sort_keys=True, default=str)


def _global_state(device: torch.device) -> torch.Tensor:
    return torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()


def save_training_state(path, identity: str, epochs_done: int, network, optimizer, generator: torch.Generator,
                        device: torch.device, history: list, epoch_throughput: list) -> None:
    """Write the state after ``epochs_done`` epochs to ``path`` (replacing the previous epoch's)."""
    write_atomically(path, {
        "format": FORMAT, "version": VERSION, "identity": identity, "epochs_done": epochs_done,
        "model": {name: tensor.detach().cpu() for name, tensor in network.state_dict().items()},
        "optimizer": optimizer.state_dict(), "generator": generator.get_state(),
        "global_rng": _global_state(device).cpu(), "history": list(history),
        "epoch_throughput": [list(pair) for pair in epoch_throughput],
    })


def read_training_state(path, identity: str) -> Optional[dict]:
    """The state at ``path`` if it continues this trial; None (with a warning saying why) if there is none to use."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001  (torn, truncated, not torch's: any of them means start over)
        reason = (str(error).splitlines() or ["no message"])[0][:200]
        return _set_aside(path, f"it cannot be read ({type(error).__name__}: {reason})")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("version") != VERSION:
        return _set_aside(path, f"it is not a {FORMAT} file of version {VERSION}")
    missing = [key for key in _KEYS if key not in payload]
    if missing:
        return _set_aside(path, f"it lacks {', '.join(missing)}")
    if payload["identity"] != identity:
        return _set_aside(path, "it was written by a trial with other settings, network or data")
    return payload


def _set_aside(path: Path, reason: str) -> None:
    logger.warning("cannot resume from %s: %s; training from epoch 0", path, reason)
    return None


def restore_training_state(path, state: dict, network, optimizer, generator: torch.Generator,
                           device: torch.device) -> int:
    """Load ``state`` (read by :func:`read_training_state`) into the trial's objects; returns the epochs done.

    Raises CheckpointError if a state of this very trial does not fit it: that is a fault to report, never a
    reason to train on from a half-loaded state.
    """
    try:
        network.load_state_dict(state["model"], strict=True)
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        if device.type == "cuda":
            torch.cuda.set_rng_state(state["global_rng"], device)
        else:
            torch.set_rng_state(state["global_rng"])
    except (RuntimeError, ValueError, TypeError, KeyError) as error:
        detail = " ".join(str(error).split())[:400]
        raise CheckpointError(f"training state {path} records this trial but does not fit it: {detail}; delete it "
                              f"to train the trial from epoch 0") from error
    return int(state["epochs_done"])
