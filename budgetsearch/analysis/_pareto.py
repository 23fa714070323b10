"""Pareto frontiers of error against cost (parameters, mult-adds, or a measured speed); error is minimised.

Costs are minimised too, except a throughput, of which more is better (it
enters the front negated).

Dominance: point q dominates point p when q's error <= p's error and q's
cost <= p's cost with at least one of the two strictly less. A point is on
the front when no point dominates it. Exact duplicates (same error and same
cost) do not dominate each other, so all copies of a non-dominated point are
on the front. A point with a missing error or cost is never on the front and
never dominates another.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ._intervals import indistinct_neighbours

COSTS = ("params", "mult_adds")
# What a study with `measure = true` adds: each point's mean inference latency (ms per batch) and training
# throughput (images/s) over its seeds, on the device its trials ran on (separate fronts per device).
MEASURED_COSTS = ("latency_ms", "train_images_per_second")
LARGER_IS_BETTER = ("train_images_per_second",)
# Frontiers over all substitutes are still computed separately per network and data set.
SCOPE_KEYS = ("model", "dataset")


def pareto_mask(error, cost) -> np.ndarray:
    """Boolean array: True where the point (error[i], cost[i]) is not dominated.

    O(n log n): sorted by (error, cost), a point is on the front exactly when
    its cost is the least among the points with its error and strictly less
    than every cost seen at a smaller error.
    """
    error = np.asarray(error, dtype="float64")
    cost = np.asarray(cost, dtype="float64")
    if error.shape != cost.shape or error.ndim != 1:
        raise ConfigError(f"error and cost must be 1-D of equal length, but got shapes {error.shape} and {cost.shape}")
    mask = np.zeros(error.shape, dtype=bool)
    valid = np.flatnonzero(~(np.isnan(error) | np.isnan(cost)))
    if len(valid) == 0:
        return mask
    e, c = error[valid], cost[valid]
    order = np.lexsort((c, e))
    e, c = e[order], c[order]
    _, starts = np.unique(e, return_index=True)
    group = np.searchsorted(starts, np.arange(len(e)), side="right") - 1
    group_min = c[starts][group]  # costs are ascending within an error group
    running_min = np.minimum.accumulate(c)
    before = np.full(len(starts), np.inf)  # least cost at any strictly smaller error
    before[1:] = running_min[starts[1:] - 1]
    front = (c == group_min) & (c < before[group])
    mask[valid[order]] = front
    return mask


def pareto_frontier(points: pd.DataFrame, cost: str, error: str,
                    by: Optional[Union[str, Sequence[str]]] = None, flag: str = "on_front",
                    larger_is_better: bool = False) -> pd.DataFrame:
    """A copy of ``points`` with a boolean column ``flag``: on the (error, cost) front of its group.

    ``by`` names the column(s) whose groups get separate fronts (e.g.
    ``"substitute"``); None computes one front over all rows. Missing group
    keys form a group of their own. ``larger_is_better``: the cost is a
    throughput, maximised.
    """
    keys = [] if by is None else [by] if isinstance(by, str) else list(by)
    missing = [c for c in [cost, error] + keys if c not in points.columns]
    if missing:
        raise ConfigError(f"points lack column(s) {missing}; they have {list(points.columns)}")
    out = points.copy()
    out[flag] = False
    groups = [(None, out)] if not keys else out.groupby(keys, dropna=False, sort=False)
    for _, group in groups:
        costs = group[cost].astype("float64")
        mask = pareto_mask(group[error].astype("float64"), -costs if larger_is_better else costs)
        out.loc[group.index, flag] = mask
    out[flag] = out[flag].astype(bool)
    return out


def measured_costs(points: pd.DataFrame) -> tuple:
    """The ``MEASURED_COSTS`` that ``points`` hold a value of (none for a study run without ``measure``)."""
    return tuple(c for c in MEASURED_COSTS if c in points.columns and points[c].notna().any())


def frontier_table(aggregated: pd.DataFrame, metric: str = "val_error") -> pd.DataFrame:
    """The aggregated points with their front flags, for each cost in ``COSTS`` and each measured cost they hold.

    Fronts are computed on the per-point means over seeds (``<metric>_mean``,
    the points that are plotted), not on single trials. Adds
    ``on_front_<cost>`` (over all substitutes and inits of one model and data set) and
    ``on_substitute_front_<cost>`` (within each substitute's curve: one per init), and, where the
    table has the intervals (``<metric>_low``/``_high``), ``indistinct_<cost>``:
    for a point on the front, its neighbours along it whose interval overlaps
    its own (:func:`indistinct_neighbours`; None off the front). A measured
    cost's fronts are computed separately per ``timing_device``.
    """
    error = f"{metric}_mean"
    scope = [k for k in SCOPE_KEYS if k in aggregated.columns]
    curve = [k for k in ("substitute", "init") if k in aggregated.columns]
    table = aggregated
    for cost in COSTS + measured_costs(aggregated):
        # times measured on two devices are not compared
        within = scope + ["timing_device"] if cost in MEASURED_COSTS and "timing_device" in table.columns else scope
        larger = cost in LARGER_IS_BETTER
        table = pareto_frontier(table, cost, error, by=within or None, flag=f"on_front_{cost}",
                                larger_is_better=larger)
        table = pareto_frontier(table, cost, error, by=within + curve, flag=f"on_substitute_front_{cost}",
                                larger_is_better=larger)
        if {f"{metric}_low", f"{metric}_high"} <= set(table.columns):
            table = _with_indistinct(table, cost, metric, within)
    return table


def _with_indistinct(table: pd.DataFrame, cost: str, metric: str, scope: list) -> pd.DataFrame:
    column = pd.Series([None] * len(table), index=table.index, dtype=object)
    for _, group in table.groupby(scope, dropna=False, sort=False) if scope else [(None, table)]:
        on = group[group[f"on_front_{cost}"]]
        if len(on):
            column.loc[on.index] = indistinct_neighbours(on, cost, f"{metric}_low", f"{metric}_high")
    return table.assign(**{f"indistinct_{cost}": column})
