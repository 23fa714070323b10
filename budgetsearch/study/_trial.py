"""One claimed trial: build its training configuration, train it, record every attribute, finish it.

The trainer knows nothing of Optuna: it calls ``on_epoch`` with the epoch's
metrics, and this module reports the validation error to the trial and asks
the (same-budget) pruner whether to stop.
"""

from __future__ import annotations

import dataclasses
import logging
import hashlib
import math
import re
import time
from pathlib import Path
from typing import Optional

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from ._cells import trial_key
from ._config import StudyConfig
from ._inits import dense_original_teacher, start_record, start_settings
from ._record import RESULT_ATTRIBUTES
from ._pruning import budget_peers, cell_peers, make_pruner, make_sampler
from ._storage import study_dir

logger = logging.getLogger("budgetsearch.study")

TEACHER_CHECKPOINT = "teacher.pt"
RESUME_DIR = "resume"  # runs/<study>/resume/: each running trial's training state, for its next attempt


class TrialLost(Exception):
    """This worker's trial was declared lost (failed and re-queued) by another worker while it ran."""


class _NotTrained(Exception):
    """A trial that cannot start (its teacher failed); recorded as failed with this message."""


def teacher_checkpoint(config: StudyConfig, runs_dir) -> Path:
    """Where the dense teacher's weights live: runs/<study>/teacher.pt, or the study's checkpoint path."""
    teacher = config.distillation.teacher
    if teacher == "train":
        return study_dir(config.name, runs_dir) / TEACHER_CHECKPOINT
    return Path(teacher)


def resume_path(config: StudyConfig, attrs: dict, runs_dir) -> Path:
    """Where a trial's training state lives: named by its cell and tuning index, which a re-queued copy shares."""
    key = trial_key(attrs)
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{key[0]}-{key[1]}")
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:12]  # two cells that read alike stay apart
    return study_dir(config.name, runs_dir) / RESUME_DIR / f"{readable}-{digest}.pt"


def train_config(config: StudyConfig, attrs: dict, tuned: dict, device: str, runs_dir):
    """The trainer's configuration for this trial: the study's training settings, tuned values, seed, device, teacher,
    and how its weights start."""
    training = config.training
    teacher = attrs.get("role") == "teacher"
    start = start_settings(config, attrs)
    distill = None
    if config.distillation.enabled and not teacher:
        distill = config.distillation.distill_config(teacher_checkpoint(config, runs_dir))
    elif start.get("init") == "projected":
        distill = dense_original_teacher(config)
    epochs = (config.distillation.teacher_epochs or training.epochs) if teacher else training.epochs
    return dataclasses.replace(
        training, epochs=epochs, lr=tuned.get("lr", training.lr), momentum=tuned.get("momentum", training.momentum),
        weight_decay=training.weight_decay * tuned.get("weight_decay_scale", 1.0), seed=attrs["seed"], device=device,
        distill=distill, **start,
    )


def run_trial(study: optuna.Study, config: StudyConfig, trial_id: int, *, device: str = "cpu",
              runs_dir="runs", teacher_failure: Optional[str] = None) -> str:
    """Train the claimed (RUNNING) trial ``trial_id`` and record it; returns its status.

    Any exception from training other than the statuses the trainer returns is
    recorded as status "failed" with its message. The trainer keeps the trial's
    training state in :func:`resume_path` at each epoch's end; a copy of a trial
    whose worker died continues from it, and it is removed once the trial is recorded. ``teacher_failure``: the
    reason a student cannot run (its teacher ended without a checkpoint).
    Raises :class:`TrialLost` if another worker declared the trial lost meanwhile.
    """
    from ..training import train_trial

    storage = study._storage
    frozen = storage.get_trial(trial_id)
    attrs = frozen.user_attrs
    started = time.perf_counter()
    resume = resume_path(config, attrs, runs_dir)
    trial = optuna.Trial(budget_peers(storage, study.study_name, frozen, make_pruner(config)), trial_id)
    prune = attrs.get("role") == "student" and config.pruning.pruner != "none"
    reported: list[float] = []

    def on_epoch(epoch: int, metrics: dict) -> bool:
        value = metrics.get("val_error")
        if value is None or not math.isfinite(value):
            return False  # a diverged epoch: the trainer reports the status itself
        try:
            trial.report(float(value), step=epoch)
        except UpdateFinishedTrialError:
            raise TrialLost(f"trial {frozen.number} was failed by another worker") from None
        reported.append(float(value))
        return bool(prune and trial.should_prune())

    resolved = {"study": config.name, "model": config.model, "dataset": config.dataset,
                "input_size": list(config.input_size), "num_classes": config.num_classes,
                "substitute": attrs["substitute"], "setting": attrs["setting"], "role": attrs["role"],
                "pruning": dataclasses.asdict(config.pruning), "tuned": None, "train": None}
    try:
        if teacher_failure is not None:
            raise _NotTrained(teacher_failure)
        resolved["tuned"] = tuned = _suggest(study, config, frozen)
        tc = train_config(config, attrs, tuned, device, runs_dir)
        resolved["train"] = tc.to_dict()
        save = teacher_checkpoint(config, runs_dir) if attrs.get("role") == "teacher" else None
        result = train_trial(model=config.model, substitute=attrs["substitute"], setting=attrs["setting"],
                             dataset=config.dataset, config=tc, on_epoch=on_epoch,
                             num_classes=config.num_classes, save=None if save is None else str(save),
                             model_options=config.model_options, resume=str(resume), timing=config.measure,
                             **config.model_selection)
        record = _result_record(result.to_dict()) | start_record(result.to_dict())
        if result.params is not None and result.params != attrs.get("params"):
            logger.warning("trial %d (%s): the trainer counted %s params, the solver %s", frozen.number,
                           attrs.get("cell"), result.params, attrs.get("params"))
    except TrialLost:
        raise
    except _NotTrained as reason:
        record = {"status": "failed", "message": str(reason)}
    except Exception as error:  # noqa: BLE001  (any failure is recorded, and the worker goes on)
        logger.warning("trial %d (%s) failed: %s: %s", frozen.number, attrs.get("cell"), type(error).__name__, error)
        record = {"status": "failed", "message": f"{type(error).__name__}: {error}"}
    if record.get("wall_time") is None:
        record["wall_time"] = time.perf_counter() - started
    record["config"] = resolved
    record["lost"] = False  # written last but the state: a recoverer that thought this worker dead is overruled
    _finish(storage, frozen, record, reported)
    resume.unlink(missing_ok=True)  # recorded: no attempt of this trial follows
    return record["status"]


def _suggest(study: optuna.Study, config: StudyConfig, frozen) -> dict:
    """The tuned hyperparameters of a tuning trial, sampled from what the same cell's trials found."""
    if not config.tuning.enabled or frozen.user_attrs.get("role") != "student":
        return {}
    peers = cell_peers(study._storage, study.study_name, frozen, make_sampler(config, seed=frozen.number))
    trial = optuna.Trial(peers, frozen._trial_id)
    return {p.name: trial.suggest_float(p.name, p.low, p.high, log=p.log) for p in config.tuning.params}


def _result_record(result: dict) -> dict:
    # The trainer's images_per_second is its training loop's; the record names it beside the inference latency.
    result = result | {"train_images_per_second": result.get("images_per_second")}
    return {k: result.get(k) for k in RESULT_ATTRIBUTES}


def _finish(storage, frozen, record: dict, reported: list[float]) -> None:
    """Write every attribute first, then the final state, so a finished trial always holds its record."""
    status = record["status"]
    try:
        for key, value in record.items():
            storage.set_trial_user_attr(frozen._trial_id, key, _json_number(value))
        if status == "complete" and _finite(record.get("val_error")):
            storage.set_trial_state_values(frozen._trial_id, TrialState.COMPLETE, [float(record["val_error"])])
        elif status == "pruned":
            storage.set_trial_state_values(frozen._trial_id, TrialState.PRUNED, reported[-1:] or None)
        else:
            storage.set_trial_state_values(frozen._trial_id, TrialState.FAIL)
    except UpdateFinishedTrialError:
        raise TrialLost(f"trial {frozen.number} was failed by another worker before it was recorded") from None


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _json_number(value):
    """NaN/inf are not JSON: record them as None (the status says the trial diverged)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
