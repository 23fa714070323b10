"""A study's settings changed after it started: taken when only failed trials used them, refused otherwise.

"Fix the cause and ``run --retry-failed``": when every trial a changed setting
reaches was recorded as failed, no result was obtained with the old value, so
the study takes the new one, records the change (:data:`AMENDMENTS_ATTR`) and
trains the failed cells again. A change that reaches a trial holding a result
(complete, pruned, diverged...) or one queued or running with the old settings
would mix two settings in one study, and is refused naming the keys. A change
that reaches no trial (an option the optimizer ignores; a study none of whose
cells could be trained) is taken as it is.
"""

from __future__ import annotations

import datetime
from typing import Optional

import optuna

from ..errors import ConfigError
from ..training import OPTIMIZER_OPTIONS
from ._config import StudyConfig
from ._queue import is_live, is_recorded

AMENDMENTS_ATTR = "budgetsearch:amendments"  # study user attribute: [{time, key, old, new}], oldest first
ROLES = ("teacher", "student")
# Settings that reach only some trials' training (a dotted key, or a table's prefix); any other reaches every trial.
_REACHES = {"distillation.beta": ("student",), "distillation.alpha": ("student",),
            "distillation.temperature": ("student",), "distillation.teacher_epochs": ("teacher",),
            "pruning": ("student",),  # only students are pruned
            "init": ("student",), "weights": ("student",), "projection": ("student",)}  # the teacher is dense


def reached_roles(key: str, optimizers: frozenset = frozenset(OPTIMIZER_OPTIONS)) -> tuple:
    """The roles of the trials whose training the setting ``key`` changes, when they train with ``optimizers``
    (before and after the change): an option none of them reads reaches no trial."""
    table, _, name = key.partition(".")
    if table == "training" and any(name in options for options in OPTIMIZER_OPTIONS.values()) and \
            not any(name in OPTIMIZER_OPTIONS[optimizer] for optimizer in optimizers):
        return ()
    for prefix, roles in _REACHES.items():
        if key == prefix or key.startswith(prefix + "."):
            return roles
    return ROLES


def _held(trial: optuna.trial.FrozenTrial) -> Optional[str]:
    """What a trial holds that a setting change would mix with: its result's status, or that it is queued/running."""
    if is_live(trial):
        return "queued" if trial.state == optuna.trial.TrialState.WAITING else "running"
    if is_recorded(trial) and trial.user_attrs.get("status") != "failed":
        return trial.user_attrs.get("status")
    return None


def amend_study(study: optuna.Study, config: StudyConfig, changes: dict, retry_failed: bool) -> None:
    """Take the ``changes`` (:func:`~._identity.changed_settings`) into ``study`` and record them, or refuse them.

    Refused when a changed setting reaches a trial that holds a result or is queued or running; when it
    reaches failed trials only, taken with ``retry_failed`` (which trains them again); when it reaches no
    trial at all (an option the optimizer ignores, a study with nothing trained), taken. The caller
    then stores the new settings.
    """
    keys = ", ".join(changes)
    prefix = f"{config.source}: study {study.study_name!r} already exists in this storage with different settings " \
             f"({keys})"
    optimizers = frozenset({config.training.optimizer, changes.get("training.optimizer", (None,))[0]} - {None})
    reached = [(key, trial) for key in changes for trial in study.get_trials(deepcopy=False)
               if trial.user_attrs.get("role") in reached_roles(key, optimizers)]
    held = [(key, trial, status) for key, trial in reached if (status := _held(trial)) is not None]
    if held:
        key, trial, status = held[0]
        mixing = ", ".join(dict.fromkeys(key for key, _, _ in held))
        raise ConfigError(f"{prefix}; continuing it would mix results: {mixing} would change trials that hold "
                          f"results or are queued with the old settings (trial {trial.number}, cell "
                          f"{trial.user_attrs.get('cell')!r}: {status}): use the file it was started with, or give "
                          f"the study a new name")
    if reached and not retry_failed:
        raise ConfigError(f"{prefix}; every trial they reach failed: `run --retry-failed` takes the change, "
                          f"records it in the study and trains those cells again")
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    study.set_user_attr(AMENDMENTS_ATTR, list(study.user_attrs.get(AMENDMENTS_ATTR, [])) + [
        {"time": now, "key": key, "old": old, "new": new} for key, (old, new) in changes.items()])
