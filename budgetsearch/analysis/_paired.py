"""Two families at one budget, seed against seed: a paired t-test, and whether the data can separate them.

Seed s of two substitutes shares the data split and order, so the pairwise
differences remove what the seed alone does to the error; a paired test on
them is sharper than comparing the two means. Only seeds both families
completed enter. The p-values are not corrected for the many pairs a study
holds: read "cannot separate" as the strong statement.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from ._aggregate import complete_trials, per_budget
from ._intervals import LEVEL, check_interval
from ._pareto import SCOPE_KEYS

PAIR_COLUMNS = ("budget", "init", "budget_params", "substitute_a", "substitute_b", "seeds", "mean_a", "mean_b", "difference",
                "difference_low", "difference_high", "t", "p_value", "separated", "verdict")


def paired_t(a, b, level: float = LEVEL) -> dict:
    """Paired t-test of ``a - b`` (equal length, matched by seed): difference, its ``level`` interval, t, p.

    Differences that are all equal give t = ±inf and p = 0 (or t = 0, p = 1 when
    all are zero), where scipy's ttest_rel returns NaN.
    """
    from scipy import stats

    d = np.asarray(a, dtype="float64") - np.asarray(b, dtype="float64")
    n = len(d)
    mean = float(d.mean()) if n else math.nan
    if n < 2:
        return {"difference": mean, "difference_low": math.nan, "difference_high": math.nan, "t": math.nan,
                "p_value": math.nan}
    se = float(d.std(ddof=1)) / math.sqrt(n)
    if se == 0:
        t = 0.0 if mean == 0 else math.copysign(math.inf, mean)
    else:
        t = mean / se
    half = float(stats.t.ppf((1 + level) / 2, n - 1)) * se
    return {"difference": mean, "difference_low": mean - half, "difference_high": mean + half, "t": t,
            "p_value": float(2 * stats.t.sf(abs(t), n - 1))}


def paired_comparisons(trials: pd.DataFrame, metric: str = "val_error", level: float = LEVEL) -> pd.DataFrame:
    """Every pair of substitutes at each budget and init, over the seeds both completed (:func:`paired_t`).

    ``separated``: p < 1 - ``level``. ``verdict`` says which is lower, or that
    the data cannot separate them (and why: too few matching seeds, or p).
    """
    check_interval("t", level)
    seeds = complete_trials(per_budget(trials))
    scope = [k for k in SCOPE_KEYS if k in seeds.columns]
    rows = []
    for key, group in seeds.groupby(scope + ["budget", "init"], sort=False, dropna=False):
        errors = {name: family.drop_duplicates("seed").set_index("seed")[metric].astype("float64").dropna()
                  for name, family in group.groupby("substitute", sort=True)}
        for name_a, name_b in itertools.combinations(sorted(errors), 2):
            common = sorted(set(errors[name_a].index) & set(errors[name_b].index))
            a, b = errors[name_a][common].to_numpy(), errors[name_b][common].to_numpy()
            test = paired_t(a, b, level)
            separated = bool(test["p_value"] < 1 - level)
            rows.append(dict(zip(scope, key[:-2])) | {
                "budget": key[-2], "init": key[-1], "budget_params": group["budget_params"].iloc[0], "substitute_a": name_a,
                "substitute_b": name_b, "seeds": len(common), "mean_a": float(a.mean()) if len(a) else math.nan,
                "mean_b": float(b.mean()) if len(b) else math.nan, **test, "separated": separated,
                "verdict": _verdict(name_a, name_b, len(common), test, separated, level)})
    return pd.DataFrame(rows, columns=scope + list(PAIR_COLUMNS))


def _verdict(name_a: str, name_b: str, seeds: int, test: dict, separated: bool, level: float) -> str:
    if seeds < 2:
        return f"cannot separate: {seeds} matching seed(s), a paired test needs 2"
    if not separated:
        return f"cannot separate at {level:.0%} (p = {test['p_value']:.2g})"
    lower, higher = (name_a, name_b) if test["difference"] < 0 else (name_b, name_a)
    return f"{lower} lower than {higher} by {abs(test['difference']):.2f} (p = {test['p_value']:.2g})"
