"""The cells a study asked for that have no point: skipped before training, failed, pruned or not finished.

A frontier drawn only through the points it has would hide them; these
tables put every such cell beside the points (in ``frontier.csv`` and
``trials.csv``, and as their own markers on the plots), with its status and
the reason.
"""

from __future__ import annotations

from typing import Optional

import pandas as pd

from ._aggregate import UNRECORDED, per_budget, status_labels
from ._curves import DEFAULT_INIT

# Columns of load_skipped_cells' table; a record written before a column existed reads as missing there.
SKIPPED_COLUMNS = ("substitute", "budget", "reason", "status", "budget_params", "budget_mult_adds", "params",
                   "mult_adds")
CELL_COLUMNS = ("substitute", "init", "budget", "budget_params", "budget_mult_adds", "setting", "params", "mult_adds",
                "status", "statuses", "reason")
# Which status names a cell whose trials ended differently: one still running or queued says the most.
STATUS_ORDER = ("running", "waiting", "diverged", "oom", "failed", "lost", "fail", "pruned")


def skipped_table(records) -> pd.DataFrame:
    """The skipped cells a study recorded (``{"substitute", "budget", "reason", ...}`` each) as a table.

    A record from before skipped cells carried their status reads as ``"skipped"``.
    """
    table = pd.DataFrame(list(records), columns=list(SKIPPED_COLUMNS)).astype(object)
    table["status"] = table["status"].where(table["status"].notna(), "skipped")
    return table.where(table.notna(), None)


def missing_cells(trials: pd.DataFrame, skipped: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """One row per student cell (substitute, init, budget) without a complete trial, then one per skipped cell
    (init None: the solver skipped it for every init).

    ``status`` is the one a plot marks it with (see ``STATUS_ORDER``),
    ``statuses`` every status its trials ended with, ``reason`` the first
    message among its trials of that status (the solver's reason for a skipped
    cell). Counts (params, mult-adds) are those the solver recorded, where it did.
    """
    students = per_budget(trials)
    students = students[~students["role"].eq("teacher").fillna(False).astype(bool)]
    labels = status_labels(students)
    rows = []
    for (substitute, init, budget), group in students.groupby(["substitute", "init", "budget"], sort=False):
        statuses = labels[group.index]
        if statuses.eq("complete").any():
            continue
        status = next((s for s in STATUS_ORDER if s in set(statuses)), sorted(set(statuses))[0])
        chosen = group[statuses.eq(status)]
        messages = chosen["message"].dropna() if "message" in chosen else pd.Series(dtype=object)
        first = group.iloc[0]
        rows.append({"substitute": substitute, "init": init, "budget": budget, "budget_params": first["budget_params"],
                     "budget_mult_adds": first.get("budget_mult_adds"), "setting": first["setting"],
                     "params": first["params"], "mult_adds": first["mult_adds"], "status": status,
                     "statuses": ", ".join(sorted(set(statuses))),
                     "reason": messages.iloc[0] if len(messages) else UNRECORDED.get(status.upper())})
    for _, cell in (skipped if skipped is not None else pd.DataFrame(columns=SKIPPED_COLUMNS)).iterrows():
        rows.append({column: cell.get(column) for column in CELL_COLUMNS if column in SKIPPED_COLUMNS}
                    | {"init": None, "setting": None, "statuses": cell["status"]})
    cells = pd.DataFrame(rows, columns=list(CELL_COLUMNS)).astype(object)
    sizes = students.groupby("budget")["budget_params"].first()  # for a skipped record that lacks its own
    cells["budget_params"] = cells["budget_params"].where(cells["budget_params"].notna(), cells["budget"].map(sizes))
    return cells.where(cells.notna(), None)


def missing_points(trials: pd.DataFrame, skipped: Optional[pd.DataFrame] = None) -> dict:
    """substitute -> "BUDGET STATUS, ..." for each student cell with no complete trial (pruned, failed, skipped...).

    ``skipped``: :func:`~budgetsearch.analysis.load_skipped_cells`' table.
    """
    notes: dict = {}
    for _, cell in missing_cells(trials, skipped).iterrows():
        init = "" if cell["init"] in (None, DEFAULT_INIT) else f" {cell['init']}"
        notes.setdefault(str(cell["substitute"]), []).append(f"{cell['budget']}{init} {cell['statuses']}")
    return {name: ", ".join(parts) for name, parts in notes.items()}


def cell_rows(trials: pd.DataFrame, skipped: pd.DataFrame) -> pd.DataFrame:
    """``trials`` with a row for each skipped cell (no trial number or Optuna state; the reason as its message)."""
    if skipped is None or not len(skipped):
        return trials
    scope = {column: trials[column].dropna().unique() for column in ("model", "dataset") if column in trials}
    rows = pd.DataFrame({
        "role": "student", "substitute": skipped["substitute"], "budget": skipped["budget"],
        "budget_params": skipped["budget_params"], "budget_mult_adds": skipped["budget_mult_adds"],
        "params": skipped["params"], "mult_adds": skipped["mult_adds"], "status": skipped["status"],
        "message": skipped["reason"],
        **{column: values[0] for column, values in scope.items() if len(values) == 1},  # the study's, when it is one
    })
    out = pd.concat([trials, rows.reindex(columns=trials.columns)], ignore_index=True)
    for column, dtype in trials.dtypes.items():  # keep whole numbers whole (Int64), as load_trials gives them
        if str(dtype) == "Int64":
            out[column] = pd.array(out[column], dtype="Int64")
    return out
