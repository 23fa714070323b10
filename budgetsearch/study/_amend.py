"""A study's settings changed after it started: taken when only failed trials used them, refused otherwise.

"Fix the cause and ``run --retry-failed``": when every trial a changed setting
reaches was recorded as failed, no result was obtained with the old value, so
the study takes the new one, records the change (:data:`AMENDMENTS_ATTR`) and
trains the failed cells again. A change that reaches a trial holding a result
(complete, pruned, diverged...) or one queued or running with the old settings
would mix two settings in one study, and is refused naming the keys.
"""

from __future__ import annotations

import datetime
from typing import Optional

import optuna

from ..errors import ConfigError
from ._queue import is_live, is_recorded

AMENDMENTS_ATTR = "budgetsearch:amendments"  # study user attribute: [{time, key, old, new}], oldest first
ROLES = ("teacher", "student")
# Settings that reach only some trials' training (a dotted key, or a table's prefix); any other reaches every trial.
_REACHES = {"distillation.beta": ("student",), "distillation.alpha": ("student",),
            "distillation.temperature": ("student",), "distillation.teacher_epochs": ("teacher",),
            "pruning": ("student",)}  # only students are pruned


def changed_settings(old: dict, new: dict) -> dict:
    """``{dotted key: (old value, new value)}`` of the settings that differ (None: absent)."""
    changes = {}
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        if isinstance(before, dict) and isinstance(after, dict):
            changes |= {f"{key}.{k}": pair for k, pair in changed_settings(before, after).items()}
        elif before != after:
            changes[key] = (before, after)
    return changes


def reached_roles(key: str) -> tuple:
    """The roles of the trials whose training the setting ``key`` changes."""
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


def amend_study(study: optuna.Study, source: str, changes: dict, retry_failed: bool) -> None:
    """Take the ``changes`` (:func:`changed_settings`) into ``study`` and record them, or refuse them.

    Taken only with ``retry_failed``, and only when no trial a changed setting reaches holds a result or
    is queued or running; the caller then stores the new settings.
    """
    keys = ", ".join(changes)
    prefix = f"{source}: study {study.study_name!r} already exists in this storage with different settings ({keys})"
    held = [(key, trial, status) for key in changes for trial in study.get_trials(deepcopy=False)
            if trial.user_attrs.get("role") in reached_roles(key) and (status := _held(trial)) is not None]
    if held:
        key, trial, status = held[0]
        mixing = ", ".join(dict.fromkeys(key for key, _, _ in held))
        raise ConfigError(f"{prefix}; continuing it would mix results: {mixing} would change trials that hold "
                          f"results or are queued with the old settings (trial {trial.number}, cell "
                          f"{trial.user_attrs.get('cell')!r}: {status}): use the file it was started with, or give "
                          f"the study a new name")
    if not retry_failed:
        raise ConfigError(f"{prefix}; every trial they reach failed: `run --retry-failed` takes the change, "
                          f"records it in the study and trains those cells again")
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    study.set_user_attr(AMENDMENTS_ATTR, list(study.user_attrs.get(AMENDMENTS_ATTR, [])) + [
        {"time": now, "key": key, "old": old, "new": new} for key, (old, new) in changes.items()])
