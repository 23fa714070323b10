"""Trained weights from a file: a ``state_dict`` (``torch.save``), a ``.safetensors`` file or a budgetsearch
checkpoint, loaded into a model the caller built.

A weights file is data: ``torch.load`` runs with ``weights_only=True``, so a
pickle that would run code is refused, and ``.safetensors`` holds tensors only.
Every key must fit: missing, unexpected and mis-shaped keys are one error that
lists the first few of each with their shapes, so nothing is silently left at its
random initialisation unless the caller allows a partial load (``strict=False``),
which returns what stayed at its initialisation.

A transformers model folder is code plus data: it loads through a model
reference (``package.module:callable``) whose callable calls
``from_pretrained(path)``, see ``examples/pretrained.py``.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from ..errors import CheckpointError, WeightsError

# The checkpoint format (budgetsearch.training.save_checkpoint writes it): defined here, where it is read.
CHECKPOINT_FORMAT = "budgetsearch-checkpoint"
CHECKPOINT_VERSION = 1
# How many keys of each kind a mismatch lists.
_LISTED = 5
_STATE_DICT = "a state_dict saved with torch.save, a .safetensors file or a budgetsearch checkpoint"


def read_torch_file(path: Path, error: type = WeightsError, what: str = "weights",
                    expected: str = f"expected {_STATE_DICT}"):
    """``torch.load(path, weights_only=True)`` on the CPU; any failure is one ``error`` naming ``path``."""
    if not path.is_file():
        raise error(f"no {what} file at {path}" + (f" ({path} is a folder)" if path.is_dir() else "") + f"; {expected}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as refused:
        # torch's own message suggests weights_only=False: advice to run the file's code, not repeated here.
        raise error(f"cannot read {what} {path}: it is not a file of tensors and plain data (torch.load with "
                    f"weights_only=True refused it, as it refuses any file whose loading could run code); "
                    f"{expected}") from refused
    except Exception as failure:
        reason = (str(failure).splitlines() or ["an empty file" if path.stat().st_size == 0 else "no message"])[0]
        raise error(f"cannot read {what} {path}: it is truncated or not a file written by torch.save "
                    f"({type(failure).__name__}: {reason}); {expected}") from failure


def is_checkpoint(payload) -> bool:
    return isinstance(payload, dict) and payload.get("format") == CHECKPOINT_FORMAT


def check_checkpoint_records(path: Path, payload: dict) -> dict:
    """``payload`` once it is a whole budgetsearch checkpoint of the version read here; else a CheckpointError."""
    if payload.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {payload.get('version')!r}; "
                              f"this budgetsearch reads version {CHECKPOINT_VERSION}")
    for key in ("architecture", "state_dict", "summary"):
        if not isinstance(payload.get(key), dict):
            raise CheckpointError(f"checkpoint {path} is damaged: its {key!r} record should be a dict, but is "
                                  f"{type(payload.get(key)).__name__}")
    return payload


def _read_safetensors(path: Path) -> dict:
    try:
        from safetensors.torch import load_file
    except ImportError:
        raise WeightsError(f"reading {path} needs the safetensors package: "
                           f"pip install 'budgetsearch[safetensors]'") from None
    if not path.is_file():
        raise WeightsError(f"no weights file at {path}; expected {_STATE_DICT}")
    try:
        return load_file(path, device="cpu")
    except Exception as failure:
        reason = (str(failure).splitlines() or ["no message"])[0]
        raise WeightsError(f"cannot read weights file {path}: it is truncated or not a .safetensors file "
                           f"({type(failure).__name__}: {reason})") from failure


def read_state_dict(path) -> dict:
    """The tensors, by name, that ``path`` holds (a state_dict, a .safetensors file or a checkpoint's weights)."""
    path = Path(path)
    if path.is_dir():
        raise WeightsError(f"weights {path} is a folder, not a file; a transformers model folder loads through a "
                           f"model reference whose callable calls from_pretrained(path) (see examples/pretrained.py)")
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    payload = read_torch_file(path)
    if is_checkpoint(payload):
        return check_checkpoint_records(path, payload)["state_dict"]
    if not isinstance(payload, dict) or not payload:
        raise WeightsError(f"weights file {path} holds a {type(payload).__name__}"
                           f"{' with no entries' if isinstance(payload, dict) else ''}, not tensors by name; "
                           f"expected {_STATE_DICT}")
    other = [f"{key} ({type(value).__name__})" for key, value in payload.items()
             if not isinstance(key, str) or not isinstance(value, torch.Tensor)]
    if other:
        raise WeightsError(f"weights file {path} is not a state_dict: {len(other)} of its entries are not tensors, "
                           f"e.g. {', '.join(other[:_LISTED])}; expected {_STATE_DICT}")
    return payload


def _listed(label: str, entries: list) -> Optional[str]:
    if not entries:
        return None
    more = f" and {len(entries) - _LISTED} more" if len(entries) > _LISTED else ""
    return f"{len(entries)} {label}: {', '.join(entries[:_LISTED])}{more}"


def _shape(tensor: torch.Tensor) -> str:
    return "(" + ", ".join(map(str, tensor.shape)) + ")"


def load_weights(model: nn.Module, path, strict: bool = True) -> list:
    """Load the weights in ``path`` into ``model``; the names of its parameters and buffers left as they were.

    With ``strict`` (the default) every parameter and buffer of ``model`` must be in
    the file with its shape and the file must hold nothing else, so the list is empty;
    otherwise one :class:`WeightsError` lists the first few missing, unexpected and
    mis-shaped keys. ``strict=False`` loads what fits and returns the names of what
    did not (missing or mis-shaped), left at their initialisation; a file of which
    nothing fits is still refused.
    """
    if not isinstance(strict, bool):
        raise WeightsError(f"strict must be a bool, but got strict={strict!r}")
    path = Path(path)
    return load_state(model, read_state_dict(path), strict, f"the weights in {path}")


def load_state(model: nn.Module, theirs: dict, strict: bool, source: str) -> list:
    """:func:`load_weights` of tensors already read; ``source`` names them in errors ("the weights in FILE")."""
    ours = model.state_dict()
    missing = [key for key in ours if key not in theirs]
    unexpected = [key for key in theirs if key not in ours]
    misshaped = [key for key in ours if key in theirs and theirs[key].shape != ours[key].shape]
    if strict and (missing or unexpected or misshaped):
        found = [_listed(*pair) for pair in (
            ("missing from the file", [f"{key} {_shape(ours[key])}" for key in missing]),
            ("not in the model", [f"{key} {_shape(theirs[key])}" for key in unexpected]),
            ("shaped differently", [f"{key} (model {_shape(ours[key])}, file {_shape(theirs[key])})"
                                    for key in misshaped]))]
        raise WeightsError(f"{source} do not fit {type(model).__name__}: {'; '.join(text for text in found if text)}")
    fitting = [key for key in ours if key in theirs and key not in misshaped]
    if not fitting:
        raise WeightsError(f"none of the {len(theirs)} tensors of {source} fits {type(model).__name__} (by name and "
                           f"shape; e.g. file {', '.join(list(theirs)[:3])}, model {', '.join(list(ours)[:3])}): "
                           f"weights for another architecture?")
    with torch.no_grad():
        for key in fitting:
            ours[key].copy_(theirs[key])
    return missing + misshaped
