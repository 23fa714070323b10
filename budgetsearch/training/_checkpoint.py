"""Checkpoints: the weights plus the architecture record that rebuilds the network by name.

A checkpoint is data. It is a plain dict of tensors, strings and numbers, so
it loads with ``torch.load(..., weights_only=True)``: no pickled classes. Its
architecture record is not trusted either: loading builds a model the caller
names (``model=``: a registered name, or the ``package.module:callable``
reference they gave on their command line or in their own study file), and
the record only has to agree with it. A file that records a reference nobody
named is refused without importing anything. What a checkpoint does choose is
the substitute (a registered name), its setting, the layers and the named
model's keyword options, all checked against the model's signature.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from ..errors import BudgetSearchError, CheckpointError, WeightsError
from ..models import is_registered
from ..models._weights import CHECKPOINT_FORMAT as FORMAT, CHECKPOINT_VERSION as VERSION
from ..models._weights import check_checkpoint_records, is_checkpoint, load_state, read_torch_file
from ._architecture import Architecture
from ._config import DistillConfig

@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: the rebuilt model (eval mode), its architecture and the recorded summary."""

    model: nn.Module
    architecture: Architecture
    summary: dict  # e.g. data set, val/test error of the trial that wrote it


def check_checkpoint_path(path, overwrite: bool) -> Path:
    """Raise CheckpointError now if a checkpoint could not be written to ``path`` later.

    Called before a trial trains, so a typo in the path does not cost the training.
    ``overwrite=False`` also refuses a file that already exists.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"checkpoint path {path} is a directory; give a file name, e.g. {path / 'model.pt'}")
    if path.exists() and not overwrite:
        raise CheckpointError(f"checkpoint {path} already exists; choose another path or allow overwriting it")
    existing = next(parent for parent in path.absolute().parents if parent.exists())
    if not existing.is_dir():
        raise CheckpointError(f"cannot write checkpoint {path}: {existing} is a file, not a directory")
    if not os.access(existing, os.W_OK):
        raise CheckpointError(f"cannot write checkpoint {path}: directory {existing} is not writable")
    return path


def save_checkpoint(path, model: nn.Module, architecture: Architecture, summary: Optional[dict] = None) -> Path:
    """Write ``model``'s weights with ``architecture`` (and a JSON-able ``summary``) to ``path``."""
    path = Path(path)
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    payload = {"format": FORMAT, "version": VERSION, "architecture": architecture.to_dict(),
               "state_dict": state, "summary": dict(summary or {})}
    return write_atomically(path, payload)


def write_atomically(path, payload: dict) -> Path:
    """``torch.save`` ``payload`` to ``path`` through a temporary file, so ``path`` is never half written."""
    path = Path(path)
    temporary = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(payload, temporary)
        os.replace(temporary, path)  # never leave a half-written checkpoint under the real name
    except OSError as error:
        raise CheckpointError(f"cannot write checkpoint {path}: {error}") from error
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _read(path: Path) -> dict:
    written_by = "expected a file written by `budgetsearch train --save`"
    payload = read_torch_file(path, CheckpointError, "checkpoint",
                              written_by if path.exists() else f"write one with `budgetsearch train ... --save {path}`")
    if not is_checkpoint(payload):
        raise CheckpointError(f"{path} is not a budgetsearch checkpoint (no format={FORMAT!r} record); {written_by}")
    return check_checkpoint_records(path, payload)


def load_checkpoint(path, model: Optional[str] = None, device="cpu") -> Checkpoint:
    """Rebuild the network ``path`` records and load its weights; raise CheckpointError if they do not fit.

    ``model`` names the model the caller trusts; the checkpoint must record that
    one. Without it, the checkpoint must record a registered model: a
    ``package.module:callable`` it records is never imported on the file's word.
    """
    path = Path(path)
    payload = _read(path)
    return _rebuilt(path, payload, _recorded(path, payload), model, device)


def load_teacher(distill: DistillConfig, student_model: str, device="cpu") -> Checkpoint:
    """The teacher checkpoint ``distill`` names, built as the model its user named for it (``teacher_model``);
    without one, as the registered model or the student's own model it records (the user named that one too)."""
    path = Path(distill.teacher)
    payload = _read(path)
    architecture = _recorded(path, payload)
    named = distill.teacher_model
    if named is None and architecture.model == student_model:
        named = student_model
    return _rebuilt(path, payload, architecture, named, device)


def _rebuilt(path: Path, payload: dict, architecture: Architecture, named: Optional[str], device) -> Checkpoint:
    """The network ``payload`` records, with its weights, once ``named`` (the caller's model) agrees with it."""
    _check_named(path, architecture.model, named)
    try:
        network = architecture.build()
    except BudgetSearchError as error:
        raise CheckpointError(f"checkpoint {path} records an architecture that cannot be built: {error}") from error
    try:
        load_state(network, payload["state_dict"], True, f"the weights in checkpoint {path}")
    except WeightsError as error:
        raise CheckpointError(f"{error} (the architecture it records: {architecture.label()}, "
                              f"{architecture.num_classes} classes)") from error
    network.to(device).eval()
    return Checkpoint(network, architecture, payload["summary"])


def _recorded(path: Path, payload: dict) -> Architecture:
    try:
        return Architecture.from_dict(payload["architecture"])
    except BudgetSearchError as error:
        raise CheckpointError(f"checkpoint {path} records an architecture that cannot be read: {error}") from None


def _check_named(path: Path, recorded: str, named: Optional[str]) -> None:
    if named is not None:
        if recorded != named:
            raise CheckpointError(f"checkpoint {path} records model {recorded!r}, but {named!r} was named for it; "
                                  f"name the model the checkpoint was trained as, or use a checkpoint of {named!r}")
    elif not is_registered(recorded):
        raise CheckpointError(f"checkpoint {path} records model {recorded!r}, which is not a registered model, and a "
                              f"checkpoint never chooses code to import: name that model where the checkpoint is used "
                              f"(load_checkpoint(path, model={recorded!r}), --teacher-model {recorded}, or "
                              f"teacher_model = {recorded!r} in the study's [distillation])")
