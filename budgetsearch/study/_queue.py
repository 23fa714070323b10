"""Exactly-once scheduling: every trial of a study is queued once, claimed once, and re-queued only if its worker died.

Design. ``run`` queues one WAITING trial per (cell, tuning trial) whose user
attributes name the cell (nothing is sampled for a cell's identity, so
nothing depends on a sampler's behaviour). A worker claims a WAITING trial by
moving it to RUNNING with ``set_trial_state_values``, which the storage
performs atomically: of two workers racing for one trial, exactly one wins
(the same primitive ``Study.ask`` uses for enqueued trials). A worker writes
every result attribute before it finishes the trial, so a finished trial
always holds its record.

A RUNNING trial whose worker died is *lost*: it is failed (again an atomic
state change, so only one worker handles it), marked ``lost = True`` with the
reason, and a fresh copy of it is queued. Death is detected by heartbeats on
RDB storage and by owner locks on the journal file (:mod:`._owners`).
"""

from __future__ import annotations

import logging
import time
from typing import Iterable, Optional

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from ._cells import CELL_PARAMS, trial_key
from ._owners import OWNER_ATTR, owner_alive
from ._record import RESULT_ATTRIBUTES, TRIAL_ATTRIBUTES, budget_constraints

logger = logging.getLogger("budgetsearch.study")

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
# A RUNNING trial that shows no owner this long after it was claimed belongs to a worker that died
# between claiming it and naming itself (two storage writes apart).
UNOWNED_GRACE_S = 60.0


def is_recorded(trial: FrozenTrial) -> bool:
    """A finished trial that holds a result (not one lost with its worker)."""
    return trial.state in FINISHED and trial.user_attrs.get("status") is not None and not trial.user_attrs.get("lost")


def is_live(trial: FrozenTrial) -> bool:
    return trial.state in (TrialState.WAITING, TrialState.RUNNING)


def covers(trial: FrozenTrial, retry_failed: bool = False) -> bool:
    """Whether this trial accounts for its key: queued, running, or recorded (not as failed, if retrying those)."""
    if retry_failed and is_recorded(trial) and trial.user_attrs.get("status") == "failed":
        return False
    return is_live(trial) or is_recorded(trial)


def enqueue_missing(study: optuna.Study, rows: Iterable[dict], distributions: Optional[dict] = None,
                    retry_failed: bool = False) -> int:
    """Queue a WAITING trial for every row whose key no trial covers yet; returns how many were queued.

    Safe to call on every run: keys already queued, running or recorded are left alone; with
    ``retry_failed`` a key recorded only as failed is queued again (its failed trial stays as a record).
    ``distributions`` (name -> Optuna distribution): those of a row's attributes
    are also the trial's Optuna parameters (a None attribute is no parameter).
    """
    covered = {trial_key(t.user_attrs) for t in study.get_trials(deepcopy=False) if covers(t, retry_failed)}
    queued = 0
    for attrs in rows:
        if trial_key(attrs) in covered:
            continue
        params = {name: attrs[name] for name in distributions or {} if attrs.get(name) is not None}
        study.add_trial(optuna.trial.create_trial(state=TrialState.WAITING, user_attrs=dict(attrs), params=params,
                                                  distributions={name: distributions[name] for name in params},
                                                  system_attrs=budget_constraints(attrs)))
        covered.add(trial_key(attrs))
        queued += 1
    return queued


def claimable(trials: list[FrozenTrial]) -> list[FrozenTrial]:
    """WAITING trials that may start now, in queue order: students wait until the teacher is recorded."""
    teachers = [t for t in trials if t.user_attrs.get("role") == "teacher"]
    # a teacher queued again (--retry-failed) is waited for, though its failed attempt is recorded
    teacher_done = not teachers or (any(is_recorded(t) for t in teachers) and not any(is_live(t) for t in teachers))
    return [t for t in trials if t.state == TrialState.WAITING
            and (teacher_done or t.user_attrs.get("role") == "teacher")]


def claim(storage, trials: list[FrozenTrial], token: str) -> Optional[FrozenTrial]:
    """Move the first claimable trial to RUNNING and name ``token`` as its owner; None if none could be taken."""
    for trial in claimable(trials):
        try:
            if not storage.set_trial_state_values(trial._trial_id, state=TrialState.RUNNING):
                continue  # another worker took it first
        except UpdateFinishedTrialError:
            continue
        storage.set_trial_system_attr(trial._trial_id, OWNER_ATTR, token)
        return storage.get_trial(trial._trial_id)
    return None


def fail_lost(study: optuna.Study, trial: FrozenTrial, reason: str) -> bool:
    """Record a RUNNING trial whose worker is gone as lost, fail it and queue a fresh copy.

    The record is written before the trial is failed (a finished trial takes no
    more attributes); failing it is the atomic step, so of several workers that
    find the same lost trial exactly one queues the copy. Returns whether this call did.
    """
    storage = study._storage
    try:
        for key, value in (("status", "failed"), ("message", reason), ("lost", True)):
            storage.set_trial_user_attr(trial._trial_id, key, value)
        if not storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
            return False
    except UpdateFinishedTrialError:
        return False
    # the copy says what the trial is, not what the lost run gave
    attrs = {k: v for k, v in trial.user_attrs.items() if k in TRIAL_ATTRIBUTES} | dict.fromkeys(RESULT_ATTRIBUTES)
    attrs["lost"] = False
    cell = {name: value for name, value in trial.params.items() if name in CELL_PARAMS}  # not the tuned values
    study.add_trial(optuna.trial.create_trial(state=TrialState.WAITING, user_attrs=attrs, params=cell,
                                              distributions={name: trial.distributions[name] for name in cell},
                                              system_attrs=budget_constraints(attrs)))
    logger.info("trial %d (%s) lost: %s; queued again", trial.number, trial.user_attrs.get("cell"), reason)
    return True


class HeartbeatCheck:
    """Finds RUNNING trials on RDB storage whose last heartbeat is older than ``grace_period`` seconds.

    Optuna's public ``fail_stale_trials`` fails such trials before any callback
    runs, when they can no longer take the lost record; the storage's own
    stale-trial query (the one that function uses) lets the record be written first.
    """

    def __init__(self, grace_period: int):
        self.grace_period = grace_period

    def recover(self, study: optuna.Study, trials: list[FrozenTrial]) -> int:
        stale = set(study._storage._get_stale_trial_ids(study._study_id))
        return sum(fail_lost(study, t, f"worker lost: trial {t.number} had no heartbeat for {self.grace_period} s "
                                       f"(owner {t.system_attrs.get(OWNER_ATTR)})")
                   for t in trials if t._trial_id in stale)


class JournalOwnerCheck:
    """Finds RUNNING trials on a journal file whose owner process no longer holds its lock."""

    def __init__(self, owners_dir):
        self.owners_dir = owners_dir
        self._unowned_since: dict[int, float] = {}

    def recover(self, study: optuna.Study, trials: list[FrozenTrial]) -> int:
        recovered = 0
        now = time.monotonic()
        for trial in trials:
            if trial.state != TrialState.RUNNING:
                continue
            token = trial.system_attrs.get(OWNER_ATTR)
            if token is None:
                first_seen = self._unowned_since.setdefault(trial._trial_id, now)
                if now - first_seen < UNOWNED_GRACE_S:
                    continue
                reason = f"worker lost: trial {trial.number} has had no owner for {UNOWNED_GRACE_S:.0f} s"
            elif owner_alive(self.owners_dir, token):
                continue
            else:
                reason = f"worker lost: owner {token} of trial {trial.number} is no longer running"
            recovered += fail_lost(study, trial, reason)
        return recovered
