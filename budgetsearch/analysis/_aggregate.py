"""Per-point aggregates over seeds, status counts and the trials that need a look.

A *point* is one network trained on several seeds: the trials of one
(substitute, budget) that share model, data set, setting and counted size.
Only trials whose recorded ``status`` is ``"complete"`` enter the aggregates;
the others are counted (:func:`status_counts`) and listed
(:func:`problem_trials`) so that no crashed run goes unnoticed.
"""

from __future__ import annotations

from collections import deque
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ._curves import DEFAULT_INIT, with_init
from ._intervals import LEVEL, check_interval, seed_interval

# Columns that identify one point. setting/params/mult_adds are fixed by the
# (substitute, budget) pair; they are keys so that seeds of two different
# networks are never averaged together (they would show up as two rows).
# init: the same network from scratch and projected from trained weights is two points, on two curves.
POINT_KEYS = ("model", "dataset", "substitute", "init", "budget", "setting", "params", "mult_adds")

# Metrics averaged over seeds by default: errors in percent, wall time in seconds.
DEFAULT_METRICS = ("val_error", "test_error", "train_error", "val_top5_error", "test_top5_error", "wall_time")
STATUSES = ("complete", "pruned", "diverged", "oom", "failed", "lost")
# What a trial without a recorded status is, by its Optuna state.
UNRECORDED = {"WAITING": "waiting (queued, not started)", "RUNNING": "running (no result yet, or its worker died)"}


def per_budget(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per (trial, budget its network serves): a trial that serves several budgets stands in each.

    Cells of one substitute whose settings build the same network are trained
    once (the ``budgets`` attribute lists every budget that trial serves); the
    copies take that budget's ``budget``, ``budget_params``,
    ``budget_mult_adds`` and ``saturated``, and ``trained_at`` names the budget whose cell
    trained the network (None on the trial's own row).
    """
    trials = with_init(trials)
    if "trained_at" in trials.columns:
        return trials  # already one row per budget
    served = trials["budgets"] if "budgets" in trials.columns else pd.Series(None, index=trials.index, dtype=object)
    entries = [(index, entry) for index, budgets in served.items()
               for entry in (budgets if isinstance(budgets, list) and budgets else [None])]
    out = trials.loc[[index for index, _ in entries]].reset_index(drop=True)
    own = out["budget"].tolist()
    for column in ("budget", "budget_params", "budget_mult_adds", "saturated"):
        if column in out.columns:
            values = [current if entry is None else entry.get(column)
                      for (_, entry), current in zip(entries, out[column].tolist())]
            out[column] = pd.array(values, dtype=out[column].dtype)
    out["trained_at"] = pd.Series([None if budget == mine else mine for budget, mine in zip(out["budget"], own)],
                                  dtype=object)
    return out


def complete_trials(trials: pd.DataFrame, teachers: bool = False) -> pd.DataFrame:
    """The trial that stands for each seed of each point, among those with status ``"complete"``.

    Students (role other than "teacher") or teachers. When a seed of a point
    completed more than once (tuning trials of one cell, or a cell run again)
    the one with the lowest validation error, the studies' objective, stands
    for it (the latest on a tie): selection never looks at the test error.
    Trials marked ``lost`` (a dead worker's, queued again) never count.
    """
    return _best_per_seed(_complete(trials, teachers), list(POINT_KEYS))


def _best_per_seed(candidates: pd.DataFrame, keys: list) -> pd.DataFrame:
    ranked = candidates.sort_values(["val_error", "number"], ascending=[True, False], na_position="last",
                                    kind="stable")
    return ranked.groupby(keys + ["seed"], dropna=False, sort=False).head(1).sort_values("number", kind="stable")


def _complete(trials: pd.DataFrame, teachers: bool) -> pd.DataFrame:
    trials = with_init(trials)
    _require(trials, ("number", "status", "role", "seed", "val_error") + POINT_KEYS)
    is_teacher = trials["role"].eq("teacher").fillna(False).astype(bool)
    complete = trials["status"].eq("complete").fillna(False).astype(bool) & ~_lost(trials)
    return trials[complete & (is_teacher == teachers)]


def _lost(trials: pd.DataFrame) -> pd.Series:
    if "lost" not in trials.columns:
        return pd.Series(False, index=trials.index)
    return trials["lost"].map(lambda v: v is True)


def aggregate_seeds(trials: pd.DataFrame, metrics: Sequence[str] = DEFAULT_METRICS,
                    teachers: bool = False, interval: str = "t", level: float = LEVEL) -> pd.DataFrame:
    """Mean, sample standard deviation (ddof=1; NaN for one seed), ``level`` interval of the mean and count per point.

    One row per point (``POINT_KEYS``) with ``budget_params``, ``seeds`` (the
    seeds aggregated, one trial each: see :func:`complete_trials`), ``seed_list``,
    ``trials`` (the complete trials they were chosen from), and ``<metric>_mean`` /
    ``<metric>_std`` / ``<metric>_low`` / ``<metric>_high`` for each metric
    (skipping missing values; the interval is :func:`seed_interval`'s
    ``interval`` kind, named in the ``interval`` column), ``fill`` (params /
    budget_params), ``saturated`` (the budget is over the substitute's reach;
    None where not recorded), ``trained_at`` (see :func:`per_budget`: a
    trial serving several budgets is a point at each) and, where the trials
    record it, ``timing_device`` (where the seeds' speeds were measured, several
    joined by " / "). Rows are ordered by budget, then substitute.
    """
    _require(trials, tuple(metrics) + ("budget_params",))
    check_interval(interval, level)
    candidates = _complete(per_budget(trials), teachers)
    columns = list(POINT_KEYS) + ["budget_params", "fill", "saturated", "trained_at", "seeds", "seed_list", "trials",
                                  "interval"]
    columns += ["timing_device"] if "timing_device" in trials.columns else []
    columns += [f"{m}_{s}" for m in metrics for s in ("mean", "std", "low", "high")]
    rows = []
    for _, point in candidates.groupby(list(POINT_KEYS), dropna=False, sort=False):
        group = _best_per_seed(point, [])
        first = group.iloc[0]
        row = {key: _plain(first[key]) for key in POINT_KEYS}
        row["budget_params"] = _plain(first["budget_params"])
        row["fill"] = row["params"] / row["budget_params"] if row["params"] and row["budget_params"] else np.nan
        row["saturated"] = _plain(first["saturated"]) if "saturated" in first else None
        row["trained_at"] = _plain(first["trained_at"])
        row["seeds"] = len(group)
        row["seed_list"] = sorted(int(s) for s in group["seed"].dropna())
        row["trials"] = len(point)
        row["interval"] = f"{level:.0%} {interval}"
        if "timing_device" in group:
            row["timing_device"] = " / ".join(sorted(set(group["timing_device"].dropna().astype(str)))) or None
        for metric in metrics:
            values = group[metric].astype("float64").dropna().to_numpy()
            row[f"{metric}_mean"] = float(values.mean()) if len(values) else np.nan
            row[f"{metric}_std"] = float(values.std(ddof=1)) if len(values) > 1 else np.nan
            row[f"{metric}_low"], row[f"{metric}_high"] = seed_interval(values, interval, level)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=columns)
    # settings are ints for some substitutes (ACDC factors) and floats for others: keep each as recorded
    frame["setting"] = pd.Series([row["setting"] for row in rows], dtype=object)
    frame["trained_at"] = pd.Series([row["trained_at"] for row in rows], dtype=object)  # None, not NaN
    frame["saturated"] = pd.Series([row["saturated"] for row in rows], dtype=object)
    for column in ("params", "mult_adds", "budget_params"):
        frame[column] = frame[column].astype("Int64")
    return _order(frame)


def teacher_error(trials: pd.DataFrame, metric: str = "val_error") -> Optional[float]:
    """The mean ``metric`` of the complete teacher trials when they are one point (one network), else None."""
    teachers = aggregate_seeds(trials, metrics=(metric,), teachers=True)
    if len(teachers) != 1 or pd.isna(teachers[f"{metric}_mean"].iloc[0]):
        return None
    return float(teachers[f"{metric}_mean"].iloc[0])


def status_counts(trials: pd.DataFrame) -> pd.DataFrame:
    """Trials per status for each (role, substitute, init, budget), over every trial, with a ``total``.

    A trial lost with its worker counts as ``"lost"`` (its queued copy counts
    on its own); one without a recorded status by its Optuna state in lower
    case (``"waiting"``, ``"running"``, or ``"fail"`` for a crash before any record).
    """
    _require(trials, ("role", "substitute", "budget", "budget_params"))
    trials = per_budget(trials)
    keyed = trials.assign(status=status_labels(trials))
    counts = pd.crosstab([keyed["role"].fillna("-"), keyed["substitute"].fillna("-"), keyed["init"],
                          keyed["budget"].fillna("-")], keyed["status"])
    order = [s for s in STATUSES + ("running", "waiting") if s in counts.columns]
    order += sorted(set(counts.columns) - set(order))
    counts = counts[order]
    counts["total"] = counts.sum(axis=1)
    counts = counts.reset_index()
    counts.columns.name = None
    sizes = keyed.groupby(keyed["budget"].fillna("-"))["budget_params"].min()
    counts["budget_params"] = counts["budget"].map(sizes).astype("Int64")
    return _order(counts)


def status_labels(trials: pd.DataFrame) -> pd.Series:
    """Each trial's recorded status; ``"lost"`` for a lost trial, its Optuna state (lower case) when none is recorded."""
    _require(trials, ("status", "state"))
    unrecorded = trials["state"].astype(object).map(lambda state: str(state).lower())
    return trials["status"].astype(object).where(~_lost(trials), "lost").fillna(unrecorded)


def problem_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """Every trial that did not complete all its planned epochs, with a ``problem`` column.

    A trial is listed when it was lost with its worker, when its recorded
    status is not ``"complete"`` (pruned, diverged, oom, failed, or none
    recorded: waiting, running), when Optuna's state disagrees with a complete
    status, or when it ran fewer epochs than its configuration planned
    (``epochs`` in the recorded ``config``).
    """
    _require(trials, ("number", "state", "status", "epochs_run", "config"))
    problems = []
    lost = _lost(trials)
    for status, state, ran, config, was_lost in zip(trials["status"], trials["state"], trials["epochs_run"],
                                                    trials["config"], lost):
        planned = planned_epochs(config)
        if was_lost:
            problems.append("lost with its worker (queued again as a new trial)")
        elif status is None or (isinstance(status, float) and np.isnan(status)):
            problems.append(UNRECORDED.get(state, f"no status recorded (Optuna state {state})"))
        elif status != "complete":
            problems.append(str(status))
        elif state != "COMPLETE":
            problems.append(f"status complete but Optuna state {state}")
        elif planned is not None and (pd.isna(ran) or int(ran) < planned):
            problems.append(f"ran {'?' if pd.isna(ran) else int(ran)} of {planned} planned epochs")
        else:
            problems.append(None)
    flagged = trials.assign(problem=problems)
    return flagged[flagged["problem"].notna()].reset_index(drop=True)


def planned_epochs(config) -> Optional[int]:
    """The ``epochs`` a recorded configuration planned: the shallowest int ``epochs`` key in the nested dict."""
    queue = deque([config]) if isinstance(config, dict) else deque()
    while queue:
        node = queue.popleft()
        value = node.get("epochs")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        queue.extend(v for v in node.values() if isinstance(v, dict))
    return None


def _order(frame: pd.DataFrame) -> pd.DataFrame:
    key = frame["budget_params"].astype("float64").fillna(np.inf)
    projected = frame["init"].ne(DEFAULT_INIT) if "init" in frame.columns else False  # scratch first
    return (frame.assign(_size=key, _projected=projected)
            .sort_values(["_size", "budget", "substitute", "_projected"], kind="stable", na_position="last")
            .drop(columns=["_size", "_projected"]).reset_index(drop=True))


def _plain(value):
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _require(frame: pd.DataFrame, columns) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"the trials table lacks column(s) {missing}; it has {list(frame.columns)}")
