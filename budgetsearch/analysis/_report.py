"""The markdown report of a study: a table per budget, the fronts, skipped cells and every trial that did not finish.

Failed and incomplete trials get their own section (in the original study
every ShuffleNet student run on WRN once failed unnoticed and made ShuffleNet
look bad), and each budget table carries the status counts of every point.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from ._aggregate import STATUSES, aggregate_seeds, per_budget, problem_trials, status_counts, status_labels
from ._curves import curve_label
from ._projected import projected_sections
from ._report_sections import fit_section, pair_section
from ._speed import speed_section
from ._pareto import COSTS
from ._plot import COST_LABELS, METRIC_LABELS


def render_report(trials: pd.DataFrame, points: pd.DataFrame, metric: str = "val_error",
                  title: Optional[str] = None, skipped: Optional[pd.DataFrame] = None,
                  fits: Optional[pd.DataFrame] = None, pairs: Optional[pd.DataFrame] = None,
                  cells: Optional[pd.DataFrame] = None, gains: Optional[pd.DataFrame] = None,
                  projection: Optional[pd.DataFrame] = None) -> str:
    """Markdown text: ``trials`` is :func:`load_trials`' table, ``points`` :func:`frontier_table`'s.

    ``skipped``: :func:`load_skipped_cells`' table, listed with each reason;
    ``fits``: :func:`scaling_fits`'; ``pairs``: :func:`paired_comparisons`';
    ``cells``: :func:`missing_cells`' (counted under the totals); ``gains`` and ``projection``:
    :func:`init_gains`' and :func:`projection_errors`' (a section where the study has projected starts).
    """
    mean, std, low, high = f"{metric}_mean", f"{metric}_std", f"{metric}_low", f"{metric}_high"
    interval = points["interval"].dropna().iloc[0] if "interval" in points and points["interval"].notna().any() \
        else "95% t"
    students = per_budget(trials[~trials["role"].eq("teacher").fillna(False).astype(bool)])
    counts = status_counts(students)
    totals = status_labels(trials).value_counts()
    known = [s for s in STATUSES + ("running", "waiting") if s in totals.index]
    totals = totals[known + sorted(set(totals.index) - set(known))]
    lines = [f"# Frontier report: {title}" if title else "# Frontier report", ""]
    lines.append(f"{len(trials)} trial{'' if len(trials) == 1 else 's'}: " + ", ".join(f"{n} {s}" for s, n in totals.items()) + "." if len(trials)
                 else "No trials recorded yet.")
    if cells is not None and len(cells):
        asked = len(points.drop_duplicates(["substitute", "init", "budget"])) + len(cells)
        lines += ["", f"{asked - len(cells)} of {asked} cells have a point; the {len(cells)} without one are drawn "
                  "beside the plots with their status and listed below (skipped cells, failed or incomplete trials)."]
    lines += ["", f"Error is the {METRIC_LABELS.get(metric, metric)}, mean ± sample standard deviation over the seeds "
              "whose trial has status \"complete\"; only those enter the aggregates and the fronts. Interval: the "
              f"{interval} interval of the mean over those seeds (none for one seed). Fronts are "
              "computed on the per-point means (the plotted points). Front columns: P = on the front of error "
              "against parameters over all substitutes, M = against mult-adds. Fill = params / the budget's "
              "parameters. Mult-adds are per image at inference; rebuild mult-adds are per training step, whatever "
              "the batch: rebuilding the structured weights (hash gathers, tensor contractions, ACDC products) from "
              "their parameters. A network that serves several budgets (its setting builds the same layers at each) "
              "is trained once and listed at each budget, with the budget whose cell trained it.", ""]

    for budget, budget_counts in counts.groupby("budget", sort=False):
        cap = budget_counts["budget_params"].iloc[0]
        lines.append(f"## Budget {budget}" + (f" (at most {int(cap):,} parameters)" if pd.notna(cap) else ""))
        lines += ["", "| substitute | setting | params | fill | mult-adds | rebuild mult-adds | error (%) | interval "
                  "| seeds | front | trials |", "|---|---|---:|---:|---:|---:|---:|---:|---:|:---:|---|"]
        for _, cell in budget_counts.iterrows():
            status = _status_text(cell)
            curve = curve_label(cell["substitute"], cell["init"])
            mine = points[points["substitute"].eq(cell["substitute"]) & points["init"].eq(cell["init"])
                          & points["budget"].eq(budget)]
            recorded = students[students["substitute"].eq(cell["substitute"]) & students["init"].eq(cell["init"])
                                & students["budget"].eq(budget)]
            # Recorded by each trained trial; one network per cell, so any trial's figure is the cell's.
            rebuild = _first(recorded.get("reconstruction_mult_adds", pd.Series(dtype=object)))
            if len(mine) == 0:
                fill = recorded["params"].astype("float64") / recorded["budget_params"].astype("float64")
                lines.append(f"| {curve} | {_first(recorded['setting'])} | {_first(recorded['params'])} "
                             f"| {_fill(fill.dropna().iloc[0] if fill.notna().any() else None)} "
                             f"| {_first(recorded['mult_adds'])} | {rebuild} | - | - | 0 |  | {status}{_trained(recorded)} |")
            for _, point in mine.iterrows():
                marks = "".join(m for c, m in zip(COSTS, "PM") if point.get(f"on_front_{c}", False))
                trained = f"; trained at {point['trained_at']}" if _text(point.get("trained_at")) != "-" else ""
                trained += "; saturated (budget over its reach)" if point.get("saturated") is True else ""
                lines.append(f"| {curve} | {_number(point['setting'])} | {_number(point['params'])} "
                             f"| {_fill(point.get('fill'))} | {_number(point['mult_adds'])} | {rebuild} "
                             f"| {_error(point[mean], point[std])} | {_interval(point[low], point[high])} "
                             f"| {point['seeds']} | {marks} | {status}{trained} |")
        lines.append("")

    teachers = aggregate_seeds(trials, teachers=True) if trials["role"].eq("teacher").any() else None
    if teachers is not None and len(teachers):
        lines += ["## Teacher (reference)", "", "| model | substitute | params | mult-adds | error (%) | seeds |",
                  "|---|---|---:|---:|---:|---:|"]
        for _, t in teachers.iterrows():
            lines.append(f"| {t['model']} | {t['substitute']} | {_number(t['params'])} | {_number(t['mult_adds'])} "
                         f"| {_error(t[mean], t[std])} | {t['seeds']} |")
        lines.append("")

    for cost in COSTS:
        flag = f"on_front_{cost}"
        front = points[points[flag]].sort_values(mean) if flag in points else points.iloc[0:0]
        lines += [f"## Front: error against {COST_LABELS[cost]} ({len(front)} points)", ""]
        if len(front):
            lines += ["| substitute | budget | setting | params | mult-adds | error (%) | interval | not distinct from |",
                      "|---|---|---|---:|---:|---:|---:|---|"]
            lines += [f"| {curve_label(p['substitute'], p['init'])} | {p['budget']} | {_number(p['setting'])} | {_number(p['params'])} "
                      f"| {_number(p['mult_adds'])} | {_error(p[mean], p[std])} | {_interval(p[low], p[high])} "
                      f"| {_text(p.get(f'indistinct_{cost}')) if p.get(f'indistinct_{cost}') else ''} |"
                      for _, p in front.iterrows()]
            lines += ["", _indistinct_note(front, cost, interval), ""]

    lines += speed_section(trials, points, metric)
    lines += fit_section(fits, metric) + pair_section(pairs, points, metric)
    lines += projected_sections(gains, projection, metric)

    if skipped is not None and len(skipped):
        lines += [f"## Skipped cells ({len(skipped)})", "", "| substitute | budget | status | reason |",
                  "|---|---|---|---|"]
        lines += [f"| {_text(c['substitute'])} | {_text(c['budget'])} | {_text(c.get('status'))} | {_text(c['reason'])} |"
                  for _, c in skipped.iterrows()]
        lines.append("")

    problems = problem_trials(trials)
    waiting = problems["state"].eq("WAITING") & problems["status"].isna()
    lines += [f"## Failed or incomplete trials ({len(problems)})", ""]
    if waiting.any():  # a queue, not a crash: one line for all of them
        lines += [f"{int(waiting.sum())} trial(s) waiting in the queue (not started) are not listed one by one.", ""]
        problems = problems[~waiting]
    if len(problems) == 0 and not waiting.any():
        lines.append("None: every trial has status complete and ran all its planned epochs.")
    elif len(problems):
        lines += ["| trial | role | substitute | budget | seed | status | Optuna state | epochs run | problem | message |",
                  "|---:|---|---|---|---:|---|---|---:|---|---|"]
        for _, t in problems.iterrows():
            lines.append(f"| {t['number']} | {_text(t['role'])} | {_text(t['substitute'])} | {_text(t['budget'])} "
                         f"| {_number(t['seed'])} | {_text(t['status'])} | {t['state']} | {_number(t['epochs_run'])} "
                         f"| {_text(t['problem'])} | {_text(t['message'])} |")
    lines.append("")
    return "\n".join(lines)


def _indistinct_note(front: pd.DataFrame, cost: str, interval: str) -> str:
    column = f"indistinct_{cost}"
    blurred = front[front[column].fillna("").astype(bool)] if column in front else front.iloc[0:0]
    if not len(blurred):
        return f"Every point on this front is separated from its neighbours along it ({interval} intervals disjoint)."
    return (f"{len(blurred)} of {len(front)} points are not distinguishable from a neighbour along this front at "
            f"{interval}: their intervals overlap (or one has a single seed), so the data do not order them.")


def _status_text(cell: pd.Series) -> str:
    skip = {"role", "substitute", "init", "budget", "budget_params", "total"}
    return ", ".join(f"{int(cell[s])} {s}" for s in cell.index if s not in skip and cell[s] > 0)


def _trained(recorded: pd.DataFrame) -> str:
    elsewhere = recorded["trained_at"].dropna()
    return f"; trained at {elsewhere.iloc[0]}" if len(elsewhere) else ""


def _fill(value) -> str:
    return "-" if value is None or pd.isna(value) else f"{float(value):.3f}"


def _first(values: pd.Series) -> str:
    present = values.dropna()
    return _number(present.iloc[0]) if len(present) else "-"


def _number(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return repr(float(value))  # shortest exact form: a setting such as 0.1015625 is shown whole
    return _text(value)


def _interval(low, high) -> str:
    return "-" if low is None or pd.isna(low) or pd.isna(high) else f"[{low:.2f}, {high:.2f}]"


def _error(mean, std) -> str:
    if mean is None or pd.isna(mean):
        return "-"
    return f"{mean:.2f}" + (f" ± {std:.2f}" if std is not None and pd.notna(std) else "")


def _text(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return " ".join(str(value).split()).replace("|", "\\|")  # one table cell: no newlines, no pipes
