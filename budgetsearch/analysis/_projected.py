"""What starting from trained weights buys: projected against scratch at equal budget, and the projection's error.

A study with ``init = ["scratch", "projected"]`` trains each network twice for
the same epochs: from random initialisation, and from the dense model's
trained weights projected onto it. :func:`init_gains` sets the two side by
side at each budget and family, seed against seed (:func:`paired_t`);
:func:`projection_errors` tabulates how far each family's projection lands
from the dense weights, per budget, and :func:`projection_error_figure` draws it.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ._aggregate import complete_trials, per_budget, planned_epochs
from ._curves import with_init
from ._intervals import LEVEL
from ._paired import paired_t
from ._pareto import SCOPE_KEYS

GAIN_COLUMNS = ("budget", "budget_params", "substitute", "epochs", "seeds", "scratch", "projected_initial",
                "projected", "gain", "gain_low", "gain_high", "p_value")
PROJECTION_COLUMNS = ("substitute", "budget", "budget_params", "params", "trials", "weight_error", "output_error",
                      "initial_val_error")


def init_gains(trials: pd.DataFrame, metric: str = "val_error", level: float = LEVEL) -> pd.DataFrame:
    """At each budget and family trained both ways: the mean ``metric`` from scratch and projected, and the gain.

    ``gain`` = scratch − projected over the seeds both completed (positive: the
    projected start ends lower), with its paired ``level`` interval and p-value;
    ``projected_initial``: the projected network's mean error before any
    fine-tuning (``initial_`` + ``metric``, epoch 0); ``epochs``: what both trained.
    Families trained only one way are left out.
    """
    seeds = complete_trials(per_budget(trials))
    scope = [k for k in SCOPE_KEYS if k in seeds.columns]
    initial = f"initial_{metric}" if f"initial_{metric}" in seeds.columns else None
    rows = []
    for key, group in seeds.groupby(scope + ["budget", "substitute"], sort=False, dropna=False):
        by_init = {init: part.drop_duplicates("seed").set_index("seed") for init, part in group.groupby("init")}
        if not {"scratch", "projected"} <= by_init.keys():
            continue
        scratch, projected = by_init["scratch"], by_init["projected"]
        common = sorted(set(scratch.index) & set(projected.index))
        test = paired_t(scratch.loc[common, metric].astype("float64"),
                        projected.loc[common, metric].astype("float64"), level)
        starts = projected[initial].astype("float64") if initial else pd.Series(dtype="float64")
        rows.append(dict(zip(scope, key[:-2])) | {
            "budget": key[-2], "budget_params": group["budget_params"].iloc[0], "substitute": key[-1],
            "epochs": planned_epochs(projected["config"].iloc[0]) if "config" in projected else None,
            "seeds": len(common), "scratch": _mean(scratch[metric]), "projected_initial": _mean(starts),
            "projected": _mean(projected[metric]), "gain": test["difference"] if common else math.nan,
            "gain_low": test["difference_low"], "gain_high": test["difference_high"], "p_value": test["p_value"]})
    return _by_budget(pd.DataFrame(rows, columns=scope + list(GAIN_COLUMNS)))


def projection_errors(trials: pd.DataFrame) -> pd.DataFrame:
    """Per family and budget: the mean relative weight and output error of the projection, over the projected
    trials that recorded one (whatever their fine-tuning then did), and their mean error before fine-tuning."""
    students = with_init(per_budget(trials))
    lost = students["lost"].map(lambda v: v is True) if "lost" in students else False
    projected = students[students["init"].eq("projected") & ~students["role"].eq("teacher").fillna(False)
                         & ~lost]
    if "projection_weight_error" in projected:
        projected = projected[projected["projection_weight_error"].notna()]
    else:
        projected = projected.iloc[0:0]
    scope = [k for k in SCOPE_KEYS if k in projected.columns]
    rows = []
    for key, group in projected.groupby(scope + ["substitute", "budget"], sort=False, dropna=False):
        rows.append(dict(zip(scope, key[:-2])) | {
            "substitute": key[-2], "budget": key[-1], "budget_params": group["budget_params"].iloc[0],
            "params": group["params"].iloc[0], "trials": len(group),
            "weight_error": _mean(group["projection_weight_error"]),
            "output_error": _mean(group.get("projection_output_error", pd.Series(dtype="float64"))),
            "initial_val_error": _mean(group.get("initial_val_error", pd.Series(dtype="float64")))})
    return _by_budget(pd.DataFrame(rows, columns=scope + list(PROJECTION_COLUMNS)))


def plot_projection_errors(errors: pd.DataFrame, axes, colors: dict):
    """Relative weight error (left) and output error (right) of each family's projection against its budget's
    parameters, one line per family in its frontier colour; returns ``axes``."""
    from matplotlib import ticker

    for ax, column, label in zip(axes, ("weight_error", "output_error"),
                                 ("relative weight error ‖W − W'‖ / ‖W‖", "relative output error (calibration)")):
        for name, family in errors.groupby("substitute", sort=True):
            family = family.sort_values("budget_params")
            shown = family[family[column].notna()]
            if len(shown):
                ax.plot(shown["budget_params"].astype("float64"), shown[column].astype("float64"), "o--",
                        color=colors[str(name)], label=str(name))
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ticker.EngFormatter(sep=""))
        ax.set_xlabel("budget (parameters)")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    if len(errors):
        axes[0].legend(fontsize="small")
    return axes


def projection_error_figure(errors: pd.DataFrame, colors: dict, title=None):
    """A new ``Figure`` (Agg canvas, no pyplot) of :func:`plot_projection_errors`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    plot_projection_errors(errors, figure.subplots(1, 2), colors)
    if title:
        figure.suptitle(f"{title}: projection error")
    return figure


def projected_sections(gains, errors, metric: str) -> list:
    """Markdown lines: what a projected start buys at each budget and family, and the projection's error."""
    if gains is None or errors is None or not (len(gains) or len(errors)):
        return []
    lines = ["## Projected against scratch at equal budget", "",
             f"Each family trained the same epochs from random initialisation (scratch) and from the dense model's "
             f"trained weights projected onto it (projected), {metric} in %, mean over the seeds both completed. "
             "\"Projected, epoch 0\": the projected network before any fine-tuning. Gain = scratch − projected, "
             "paired by seed (positive: the projected start ends lower), with its interval and p-value.", ""]
    if len(gains):
        lines += ["| budget | substitute | epochs | seeds | scratch | projected, epoch 0 | projected | gain | interval "
                  "| p |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {g['budget']} | {g['substitute']} | {_cell(g['epochs'], '{}')} | {g['seeds']} "
                  f"| {_cell(g['scratch'])} | {_cell(g['projected_initial'])} | {_cell(g['projected'])} "
                  f"| {_cell(g['gain'], '{:+.2f}')} | {_span(g['gain_low'], g['gain_high'])} "
                  f"| {_cell(g['p_value'], '{:.2g}')} |" for _, g in gains.iterrows()]
    else:
        lines.append("No family has complete trials from both starts at one budget.")
    lines += ["", "## Projection error against budget", "",
              "Relative Frobenius error of the substituted layers' weights after projection, ‖W − W'‖ / ‖W‖ over all "
              "of them, and of their outputs on the calibration batch; mean over the projected trials "
              "(figure: projection_errors.png).", "",
              "| substitute | budget | params | weight error | output error | val error at epoch 0 (%) | trials |",
              "|---|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {e['substitute']} | {e['budget']} | {_cell(e['params'], '{:,}')} | {_cell(e['weight_error'], '{:.4f}')} "
              f"| {_cell(e['output_error'], '{:.4f}')} | {_cell(e['initial_val_error'])} | {e['trials']} |"
              for _, e in errors.iterrows()]
    return lines + [""]


def _cell(value, form: str = "{:.2f}") -> str:
    return "-" if value is None or pd.isna(value) else form.format(value)


def _span(low, high) -> str:
    return "-" if pd.isna(low) or pd.isna(high) else f"[{low:+.2f}, {high:+.2f}]"


def _mean(values: pd.Series) -> float:
    values = values.astype("float64").dropna()
    return float(values.mean()) if len(values) else math.nan


def _by_budget(frame: pd.DataFrame) -> pd.DataFrame:
    size = frame["budget_params"].astype("float64").fillna(np.inf)
    return (frame.assign(_size=size).sort_values(["_size", "budget", "substitute"], kind="stable")
            .drop(columns="_size").reset_index(drop=True))
