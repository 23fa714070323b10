"""The report's sections on trend and separation: the scaling fits and the paired comparisons at equal budget."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from ._curves import curve_label
from ._plot import COST_LABELS


def fit_section(fits: Optional[pd.DataFrame], metric: str) -> list:
    """Markdown lines: one row per substitute and cost, the fitted a, b, c ± one standard error, or why none."""
    if fits is None or not len(fits):
        return []
    lines = ["## Scaling fits: error = a·N^(−b) + c", "",
             f"N is the parameters (or mult-adds) of each trained network, error the {metric} of every complete "
             "seed, fitted by least squares with a, b, c ≥ 0; ± one standard error from the fit's covariance (∞: as "
             "many seeds as parameters, nothing left to estimate it). c is the error the family tends to as it "
             "grows. \"At 2× N\": how much the fit says the error falls from the family's largest network to one "
             "twice its size (an extrapolation). A fit needs three sizes and a mean error that falls with N; "
             "otherwise it says why and no curve is drawn.", "",
             "| substitute | against | sizes | seeds | a | b | c (%) | at 2× N, error falls by |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    sentences = []
    for _, fit in fits.iterrows():
        against = COST_LABELS.get(fit["cost"], fit["cost"])
        family = curve_label(fit["substitute"], fit.get("init"))
        head = f"| {family} | {against} | {fit['sizes']} | {fit['observations']} "
        if not fit["determined"]:
            lines.append(head + f"| - | - | - | {fit['reason']} |")
            continue
        drop = _pm(fit["drop_at_double"], fit["drop_at_double_err"], "{:.2f}")
        lines.append(head + f"| {_pm(fit['a'], fit['a_err'], '{:.3g}')} | {_pm(fit['b'], fit['b_err'], '{:.3f}')} "
                     f"| {_pm(fit['c'], fit['c_err'], '{:.2f}')} | {drop} points (from {_size(fit['n_max'])}) |")
        sentences.append(f"At 2× the {against}, {family}'s error falls by {drop} points "
                         f"(from {_size(fit['n_max'])} to {_size(2 * fit['n_max'])} {against}).")
    return lines + [""] + ([*sentences, ""] if sentences else [])


def pair_section(pairs: Optional[pd.DataFrame], points: pd.DataFrame, metric: str) -> list:
    """Markdown lines: at each budget (and init), its best substitute (lowest mean) against every other, seed
    against seed."""
    if pairs is None:
        return []
    lines = ["## Paired comparisons at equal budget", "",
             "At each budget, the substitute with the lowest mean error against each other one, over the seeds both "
             "completed: a paired t-test on the per-seed differences (other − best). p-values are not corrected for "
             "the number of pairs. \"Cannot separate\": the data do not say which is better.", ""]
    if not len(pairs):
        return lines + ["No budget holds two substitutes with complete seeds.", ""]
    lines += ["| budget | best | other | matching seeds | difference (%) | interval | p | verdict |",
              "|---|---|---|---:|---:|---:|---:|---|"]
    mean = f"{metric}_mean"
    for (budget, init), at in pairs.groupby(["budget", "init"], sort=False):
        ranked = points[points["budget"].eq(budget) & points["init"].eq(init) & points[mean].notna()].sort_values(
            mean, kind="stable")
        where = curve_label(budget, init)  # "0.1x (projected)": the comparison among projected starts
        best = ranked["substitute"].iloc[0]
        for _, pair in at[at["substitute_a"].eq(best) | at["substitute_b"].eq(best)].iterrows():
            sign = 1 if pair["substitute_b"] == best else -1  # rows hold a − b; shown as other − best
            other = pair["substitute_a"] if sign == 1 else pair["substitute_b"]
            low, high = sorted((sign * pair["difference_low"], sign * pair["difference_high"]))
            interval = "-" if np.isnan(low) else f"[{low:.2f}, {high:.2f}]"
            p = "-" if np.isnan(pair["p_value"]) else f"{pair['p_value']:.2g}"
            difference = "-" if np.isnan(pair["difference"]) else f"{sign * pair['difference']:+.2f}"
            lines.append(f"| {where} | {best} | {other} | {pair['seeds']} | {difference} "
                         f"| {interval} | {p} | {pair['verdict']} |")
    return lines + [""]


def _pm(value, error, form: str) -> str:
    if error is None or np.isnan(error):
        return form.format(value)
    return f"{form.format(value)} ± {'∞' if np.isinf(error) else form.format(error)}"


def _size(value) -> str:
    return f"{int(round(value)):,}"
