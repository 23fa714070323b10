"""Where the mean of a point's seeds lies: a confidence interval, and which front neighbours it cannot tell apart.

Two kinds of interval over the seeds of one point:

- ``"t"`` (the default): mean ± t₍₁₊level₎/₂,ₙ₋₁ · s/√n, Student's t with n - 1
  degrees of freedom: exact when the seeds' errors are a normal sample, and
  honest about how little two or three seeds say (t₀.₉₇₅,₁ = 12.7).
- ``"bootstrap"``: the percentile interval of the means of ``BOOTSTRAP_RESAMPLES``
  resamples of the seeds with replacement, drawn from a fixed seed so the
  same table gives the same interval. With the two to five seeds a study has,
  a bootstrap only describes the spread of the seeds it has (it is narrower
  than the t interval), so ask for it knowingly.

One seed gives no interval (NaN).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ._curves import curve_label

INTERVALS = ("t", "bootstrap")
LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0  # fixed: a report written twice from one study shows the same intervals


def check_interval(method: str, level: float) -> None:
    if method not in INTERVALS:
        raise ConfigError(f"interval must be one of {list(INTERVALS)}, but got {method!r}")
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ConfigError(f"level must be a fraction in (0, 1), e.g. 0.95, but got {level!r}")


def seed_interval(values, method: str = "t", level: float = LEVEL) -> tuple:
    """``(low, high)``: the ``level`` interval of the mean of ``values`` (missing values left out); NaNs for n < 2."""
    check_interval(method, level)
    values = np.asarray(values, dtype="float64")
    values = values[~np.isnan(values)]
    n = len(values)
    if n < 2:
        return math.nan, math.nan
    if method == "t":
        from scipy import stats

        half = float(stats.t.ppf((1 + level) / 2, n - 1)) * float(values.std(ddof=1)) / math.sqrt(n)
        mean = float(values.mean())
        return mean - half, mean + half
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    means = values[rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def overlaps(low_a, high_a, low_b, high_b) -> bool:
    """Whether two intervals share a value; a missing interval (one seed) overlaps everything: nothing is known."""
    if any(pd.isna(v) for v in (low_a, high_a, low_b, high_b)):
        return True
    return low_a <= high_b and low_b <= high_a


def indistinct_neighbours(front: pd.DataFrame, cost: str, low: str, high: str) -> pd.Series:
    """For each point of one front: its neighbours along the front (by ``cost``) whose interval overlaps its own.

    ``front`` holds the points of one front only. Returns, on ``front``'s index,
    "substitute budget" (or "substitute (projected) budget") of each such neighbour joined by "; " ("" where the
    point is separated from both its neighbours).
    """
    ordered = front.sort_values([cost, low], kind="stable")
    index = list(ordered.index)
    found = {i: [] for i in index}
    for left, right in zip(index, index[1:]):
        a, b = ordered.loc[left], ordered.loc[right]
        if overlaps(a[low], a[high], b[low], b[high]):
            found[left].append(f"{curve_label(b['substitute'], b.get('init'))} {b['budget']}")
            found[right].append(f"{curve_label(a['substitute'], a.get('init'))} {a['budget']}")
    return pd.Series({i: "; ".join(names) for i, names in found.items()}, dtype=object).reindex(front.index)
