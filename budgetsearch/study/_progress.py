"""What a study has done so far, read from its storage: progress counts and the per-cell summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from optuna.trial import TrialState

from ._cells import SKIPPED_ATTR, trial_key
from ._inits import DEFAULT_INIT
from ..errors import ConfigError
from ._queue import is_recorded
from ._storage import DEFAULT_RUNS_DIR, is_journal, journal_path, open_storage, storage_errors


@dataclass(frozen=True)
class Progress:
    total: int  # trials the study holds (queued, running or recorded), lost ones not counted twice
    done: int  # recorded
    running: int
    waiting: int
    lost: int  # trials lost with a dead worker (each has a queued or recorded copy)
    statuses: dict = field(default_factory=dict)  # status -> count of recorded trials
    # one per RUNNING trial: its cell, role, last epoch reported and that epoch's validation error (None before)
    running_trials: tuple = ()


@dataclass(frozen=True)
class RunningTrial:
    cell: str
    role: str
    epoch: Optional[int]
    val_error: Optional[float]


def running_trial(trial) -> RunningTrial:
    """What a running trial has reported so far: workers report each epoch's validation error to its trial."""
    reported = trial.intermediate_values
    epoch = max(reported) if reported else None
    return RunningTrial(trial.user_attrs.get("cell"), trial.user_attrs.get("role"), epoch,
                        None if epoch is None else reported[epoch])


def final_trials(trials) -> dict:
    """For each trial key, the trial that stands for it: the first recorded one, else a live one, else the last.

    A trial recorded as failed gives way to a later attempt (``run --retry-failed``) that is live or recorded.
    """
    by_key: dict = {}
    for trial in sorted(trials, key=lambda t: t.number):
        by_key.setdefault(trial_key(trial.user_attrs), []).append(trial)
    chosen = {}
    for key, candidates in by_key.items():
        recorded = [t for t in candidates if is_recorded(t)]
        succeeded = [t for t in recorded if t.user_attrs.get("status") != "failed"]
        live = [t for t in candidates if t.state in (TrialState.WAITING, TrialState.RUNNING)]
        chosen[key] = (succeeded or live or recorded[-1:] or candidates[-1:])[0]
    return chosen


def study_progress(trials) -> Progress:
    chosen = final_trials(trials)
    recorded = [t for t in chosen.values() if is_recorded(t)]
    return Progress(
        total=len(chosen), done=len(recorded),
        running=sum(t.state == TrialState.RUNNING for t in chosen.values()),
        waiting=sum(t.state == TrialState.WAITING for t in chosen.values()),
        lost=sum(bool(t.user_attrs.get("lost")) for t in trials),
        statuses=dict(Counter(t.user_attrs["status"] for t in recorded)),
        running_trials=tuple(running_trial(t) for t in chosen.values() if t.state == TrialState.RUNNING),
    )


def served_budgets(attrs: dict) -> list[dict]:
    """Every budget a trial's network serves, its own first (a trial recorded before ``budgets`` existed: its own)."""
    own = {"budget": attrs.get("budget"), "budget_params": attrs.get("budget_params"),
           "budget_mult_adds": attrs.get("budget_mult_adds")}
    return attrs.get("budgets") or [own]


def summary_rows(trials) -> list[dict]:
    """One row per (substitute, init, budget): the best recorded trial's errors over seeds and tuning, and statuses.

    A trial that serves several budgets (one network) stands in the row of each;
    ``trained_at`` then names the budget whose cell trained it.
    """
    groups: dict = {}
    budget_params: dict = {}
    for trial in final_trials(trials).values():
        a = trial.user_attrs
        for served in served_budgets(a):
            key = (a.get("role"), a.get("substitute"), a.get("init") or DEFAULT_INIT, served["budget"])
            groups.setdefault(key, []).append(trial)
            budget_params[key] = served["budget_params"]
    rows = []
    for (role, substitute, init, budget), members in groups.items():
        recorded = [t for t in members if is_recorded(t)]
        complete = [t.user_attrs for t in recorded if t.user_attrs["status"] == "complete"]
        errors = [a["val_error"] for a in complete if a.get("val_error") is not None]
        tests = [a["test_error"] for a in complete if a.get("test_error") is not None]
        first = members[0].user_attrs
        statuses = Counter(t.user_attrs["status"] for t in recorded)
        statuses.update({"waiting": sum(t.state == TrialState.WAITING for t in members),
                         "running": sum(t.state == TrialState.RUNNING for t in members)})
        rows.append({
            "role": role, "substitute": substitute, "init": init, "budget": budget, "setting": first.get("setting"),
            "params": first.get("params"), "mult_adds": first.get("mult_adds"),
            "fill": _fill(first.get("params"), budget_params[(role, substitute, init, budget)]),
            "trained_at": None if first.get("budget") == budget else first.get("budget"), "trials": len(members),
            "val_error": min(errors) if errors else None,
            "test_error": tests[errors.index(min(errors))] if errors and len(tests) == len(errors) else None,
            "status": ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()) if n),
        })
    return rows


def _fill(params, budget_params):
    return params / budget_params if params is not None and budget_params else None


def read_study_trials(config, storage=None, runs_dir=DEFAULT_RUNS_DIR) -> list:
    """The trials of a started study (``storage``: an override of the study file's), creating nothing."""
    return read_trials(storage if storage is not None else config.storage.url, config.name, runs_dir)


def read_trials(url, study_name: str, runs_dir=DEFAULT_RUNS_DIR) -> list:
    """The trials of the started study ``study_name`` in storage ``url`` (None: its default journal file)."""
    opened, study_id = _open_started(url, study_name, runs_dir)
    with storage_errors(url):
        return opened.get_all_trials(study_id, deepcopy=False)


def read_skipped_cells(config, storage=None, runs_dir=DEFAULT_RUNS_DIR) -> list[dict]:
    """The cells the latest ``run`` of a started study skipped: ``{"substitute", "budget", "reason"}`` each."""
    url = storage if storage is not None else config.storage.url
    opened, study_id = _open_started(url, config.name, runs_dir)
    with storage_errors(url):
        return list(opened.get_study_user_attrs(study_id).get(SKIPPED_ATTR, []))


def _open_started(url, study_name: str, runs_dir) -> tuple:
    if is_journal(url) and not journal_path(url, study_name, runs_dir).is_file():
        raise ConfigError(f"study {study_name!r} has not been started: no journal file "
                          f"{str(journal_path(url, study_name, runs_dir))!r}")
    opened = open_storage(url, study_name, runs_dir=runs_dir)
    with storage_errors(url):
        try:
            study_id = opened.get_study_id_from_name(study_name)
        except KeyError:
            raise ConfigError(f"study {study_name!r} has not been started in storage {url!r}") from None
    return opened, study_id
