"""Drawing of the error-cost frontier; these functions only draw points already computed.

The layout follows the original paper's figures ("Size vs. Validation Top-1
Error"): top-1 error in percent on x, parameters (or mult-adds) on a log y
axis, one colour per substitute and one line per substitute and init (its budgets in order: solid from scratch,
dashed projected from trained weights, see ``INIT_LINES``). Seed spread is a horizontal
error bar (the interval of the mean over seeds), the front over all substitutes
is a black staircase with its points outlined, dominated points are faded.
"""

from __future__ import annotations

import zlib
from typing import Iterable, Optional

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ._curves import DEFAULT_INIT, curve_label, with_init

METRIC_LABELS = {"val_error": "top-1 validation error (%)", "test_error": "top-1 test error (%)",
                 "train_error": "top-1 training error (%)", "val_top5_error": "top-5 validation error (%)",
                 "test_top5_error": "top-5 test error (%)"}
COST_LABELS = {"params": "parameters", "mult_adds": "mult-adds", "latency_ms": "inference latency (ms per batch)",
               "train_images_per_second": "training throughput (images/s)"}
# The budget's cap on each counted cost: where a cell without a point stands. A measured cost has none.
_CAPS = {"params": "budget_params", "mult_adds": "budget_mult_adds"}
FADED = 0.3  # alpha of dominated points: visible, but clearly behind the front
INIT_LINES = {"scratch": "-", "projected": "--"}  # a family's two curves: one colour, told apart by the line
FIT_LINE = "-."  # scaling fits: apart from both inits' lines
MIN_SPAN = 2.0  # the size axis spans at least this factor, so a few percent never looks like a gap


def substitute_colors(names: Iterable[str] = ()) -> dict:
    """One fixed colour per substitute, whichever substitutes a study has: the same in every plot.

    Registered substitutes take the palette in registry order (tab10's ten, then
    tab20's light shades), so a substitute registered later takes the next
    free colour and none changes; any other name in ``names`` (a plugin's) is
    placed by a hash of its name.
    """
    from matplotlib import colormaps

    from ..substitutes import list_substitutes

    tab20 = colormaps["tab20"]
    palette = [tab20(i) for i in range(0, 20, 2)] + [tab20(i) for i in range(1, 20, 2)]
    colors = {name: palette[i % len(palette)] for i, name in enumerate(list_substitutes())}
    for name in map(str, names):
        colors.setdefault(name, palette[zlib.crc32(name.encode()) % len(palette)])
    return colors


def study_title(name: Optional[str], trials: pd.DataFrame) -> str:
    """``name: MODEL on DATASET`` (each model and data set the trials hold), for plot titles and the report."""
    def listed(column):
        return " / ".join(sorted({str(v) for v in trials[column].dropna()})) if column in trials.columns else ""

    scope = " on ".join(part for part in (listed("model"), listed("dataset")) if part)
    return ": ".join(part for part in (name, scope) if part)


def plot_frontier(points: pd.DataFrame, ax, cost: str = "params", metric: str = "val_error",
                  reference: Optional[float] = None, reference_label: str = "dense teacher",
                  colors: Optional[dict] = None, missing: Optional[dict] = None,
                  cells: Optional[pd.DataFrame] = None, fits: Optional[pd.DataFrame] = None):
    """Draw ``points`` (a :func:`~budgetsearch.analysis.frontier_table`) on ``ax`` and return ``ax``.

    Bars are each point's seed interval (``<metric>_low`` to ``_high``); a
    saturated point (its budget over the substitute's reach) is a diamond.
    ``reference``: an error (%) drawn as a dotted vertical line, e.g. the
    dense teacher's mean error. ``missing``: substitute -> the cells without a
    point (:func:`~budgetsearch.analysis.missing_points`), named in the legend,
    also for a substitute with no point at all. ``cells``
    (:func:`~budgetsearch.analysis.missing_cells`): those cells, drawn at their
    size in a strip beside the axes, one marker per status, and counted in the
    legend's title. ``fits`` (:func:`~budgetsearch.analysis.scaling_fits`): each
    determined fit against ``cost`` is a dash-dotted curve over its family's sizes.
    """
    if cost not in COST_LABELS:
        raise ConfigError(f"cost must be one of {sorted(COST_LABELS)}, but got {cost!r}")
    from matplotlib import ticker

    mean, low, high, front = f"{metric}_mean", f"{metric}_low", f"{metric}_high", f"on_front_{cost}"
    lacking = [c for c in ("substitute", cost, mean, low, high, front) if c not in points.columns]
    if lacking:
        raise ConfigError(f"points lack column(s) {lacking}; pass the table frontier_table() returns")
    drawn = points[points[mean].notna() & points[cost].notna()]
    cells = cells if cells is not None else pd.DataFrame(columns=["substitute", "budget", "status"])
    colors = colors or substitute_colors(list(drawn["substitute"]) + list(missing or ()) + list(cells["substitute"]))
    missing = missing or {}
    drawn, named = with_init(drawn), set()
    curves = sorted(drawn.groupby(["substitute", "init"]), key=lambda c: (str(c[0][0]), c[0][1] != DEFAULT_INIT))
    for (name, init), group in curves:  # a family's scratch curve first
        # joined in budget order (then size): the substitute's path as its budget grows, also where sizes tie
        group = group.sort_values([c for c in ("budget_params", cost) if c in group.columns], kind="stable")
        x = group[mean].to_numpy(float)
        y = group[cost].to_numpy(float)
        xerr = np.nan_to_num(np.vstack([x - group[low].to_numpy(float), group[high].to_numpy(float) - x]))
        on = group[front].to_numpy(bool)
        saturated = (group["saturated"].map(lambda v: v is True).to_numpy(bool) if "saturated" in group
                     else np.zeros(len(group), dtype=bool))
        color = colors[str(name)]
        noted = str(name) in missing and str(name) not in named  # on the family's first curve only
        named.add(str(name))
        label = curve_label(name, init) + (f" (no point: {missing[str(name)]})" if noted else "")
        ax.plot(x, y, INIT_LINES.get(init, ":"), color=color, alpha=0.7, linewidth=1.2, label=label, zorder=2)
        for subset, alpha, edge in ((~on, FADED, "none"), (on, 1.0, "black")):
            for shape, kind in (("o", ~saturated), ("D", saturated)):
                chosen = subset & kind
                if chosen.any():
                    ax.errorbar(x[chosen], y[chosen], xerr=xerr[:, chosen], fmt=shape, color=color, alpha=alpha,
                                markeredgecolor=edge, markersize=6, capsize=3, elinewidth=1, zorder=3)
    if "saturated" in drawn and drawn["saturated"].map(lambda v: v is True).any():
        ax.plot([], [], "D", color="0.4", label="saturated: budget over the substitute's reach")
    _draw_fits(ax, fits, cost, colors)
    for name in sorted(set(missing) - set(drawn["substitute"].astype(str))):  # a legend entry, nothing to draw
        ax.plot([], [], "x", color=colors[name], label=f"{name}: no point ({missing[name]})")
    on_front = drawn[drawn[front]].sort_values([mean, cost])
    if len(on_front):
        ax.step(on_front[mean].to_numpy(float), on_front[cost].to_numpy(float), where="post", color="black",
                linewidth=2, alpha=0.45, label="frontier (all substitutes)", zorder=1)
    if reference is not None and np.isfinite(reference):
        ax.axvline(reference, color="0.4", linestyle=":", linewidth=1.5,
                   label=f"{reference_label} ({reference:.2f} %)", zorder=1)
    placed = _draw_cells(ax, cells, cost, colors)
    ax.set_yscale("log")
    # Engineering notation (80k, 200k, 5M) and denser ticks on a short range: studies often span under a decade.
    sizes = np.concatenate([drawn[cost].to_numpy(float), placed])
    decades = np.log10(sizes.max() / sizes.min()) if len(sizes) and sizes.min() > 0 else 0.0
    if len(sizes) and sizes.min() > 0 and sizes.max() / sizes.min() < MIN_SPAN:
        # Sizes within a few percent (e.g. one budget) would fill the axis and look far apart: widen it.
        middle = np.sqrt(sizes.min() * sizes.max())
        ax.set_ylim(middle / np.sqrt(MIN_SPAN), middle * np.sqrt(MIN_SPAN))
        decades = np.log10(MIN_SPAN)
    if decades < 1:  # log ticks would leave one label or none: round linear values instead
        ax.yaxis.set_major_locator(ticker.MaxNLocator(nbins=8))
        ax.yaxis.set_minor_locator(ticker.NullLocator())  # unlabelled log minor ticks would only mislead
    else:
        ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0) if decades < 3 else (1.0,)))
    # milliseconds read as they are (EngFormatter would write 0.5 ms as "500m")
    formatter = ticker.FormatStrFormatter("%g") if cost == "latency_ms" else ticker.EngFormatter(sep="")
    ax.yaxis.set_major_formatter(formatter)
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlabel(METRIC_LABELS.get(metric, f"{metric} (%)"))
    ax.set_ylabel(COST_LABELS[cost])
    ax.grid(True, which="major", alpha=0.3)
    if len(drawn) or reference is not None or missing or len(cells):
        # below the axes: a study's many substitutes and marks would hide the points they name
        ax.legend(fontsize="small", title=_legend_title(drawn, cells), title_fontsize="small", loc="upper center",
                  bbox_to_anchor=(0.5, -0.12), ncols=2)
    return ax


# Marker of a cell without a point, by its status: skipped before training, ended without a result, not finished.
CELL_MARKERS = {"infeasible": ("v", "infeasible (no setting fits)"),
                "below_min_fill": ("^", "below min_fill"), "skipped": ("^", "skipped"),
                "pruned": ("s", "pruned"), "running": ("o", "running or queued"), "waiting": ("o", "running or queued")}
FAILED_MARKER = ("X", "failed, diverged, out of memory or lost")
STRIP = [1.02, 0.0, 0.1, 1.0]  # the cells' strip, in the axes' fraction: just right of them, as tall


def _draw_cells(ax, cells: pd.DataFrame, cost: str, colors: dict) -> np.ndarray:
    """Cells without a point, at their size, in a strip right of ``ax`` that shares its y axis; returns the sizes.

    A cell stands at its network's count where the solver made one, else at
    its budget's cap on this axis; one with neither (an infeasible cell on the
    mult-adds plot without a mult-adds cap) is only counted in the legend.
    """
    if not len(cells):
        return np.empty(0)
    cap = _CAPS.get(cost)
    at = [row.get(cost) if _known(row.get(cost)) else row.get(cap) if cap else None for _, row in cells.iterrows()]
    strip = ax.inset_axes(STRIP, sharey=ax)
    strip.set_xticks([])
    strip.tick_params(labelleft=False)
    strip.set_title("no point", fontsize="small")
    names = sorted(cells["substitute"].astype(str).unique())
    strip.set_xlim(-0.5, len(names) - 0.5)
    shown = set()
    for (_, cell), size in zip(cells.iterrows(), at):
        if not _known(size):
            continue
        shape, label = CELL_MARKERS.get(cell["status"], FAILED_MARKER)
        hollow = cell["status"] in ("running", "waiting")
        color = colors[str(cell["substitute"])]
        strip.plot([names.index(str(cell["substitute"]))], [float(size)], shape, markersize=7, color=color,
                   markerfacecolor="none" if hollow else color, markeredgecolor=color if hollow else "black")
        shown.add((shape, label, hollow))
    for shape, label, hollow in sorted(shown):  # one legend entry per kind of mark, on the main axes
        ax.plot([], [], shape, color="0.4", markerfacecolor="none" if hollow else "0.4", label=f"no point: {label}")
    return np.array([float(s) for s in at if _known(s)])


def _draw_fits(ax, fits: Optional[pd.DataFrame], cost: str, colors: dict) -> None:
    if fits is None or not len(fits):
        return
    drawn = fits[fits["cost"].eq(cost) & fits["determined"]]
    for _, row in drawn.iterrows():
        fit = row["fit"]
        sizes = np.geomspace(fit.n0, fit.n_max, 60)
        ax.plot(fit.predict(sizes), sizes, FIT_LINE, color=colors[str(row["substitute"])], linewidth=1, alpha=0.8,
                zorder=1)
    if len(drawn):
        ax.plot([], [], FIT_LINE, color="0.4", linewidth=1, label="fit: error = a·N^(−b) + c")


def _legend_title(drawn: pd.DataFrame, cells: pd.DataFrame) -> Optional[str]:
    """What the bars are, and how many of the cells asked for have a point (when some have none)."""
    lines = [f"bars: {drawn['interval'].iloc[0]} interval over seeds"] if "interval" in drawn and len(drawn) else []
    if len(cells):
        asked = len(drawn.drop_duplicates(["substitute", "init", "budget"])) + len(cells)
        lines.append(f"{asked - len(cells)} of {asked} cells have a point")
    return "\n".join(lines) or None


def _known(value) -> bool:
    return value is not None and value is not pd.NA and not (isinstance(value, float) and np.isnan(value))


def frontier_figure(points: pd.DataFrame, cost: str = "params", metric: str = "val_error",
                    reference: Optional[float] = None, title: Optional[str] = None, colors: Optional[dict] = None,
                    missing: Optional[dict] = None, cells: Optional[pd.DataFrame] = None,
                    fits: Optional[pd.DataFrame] = None):
    """A new matplotlib ``Figure`` on the Agg canvas (no pyplot, no global state) holding one :func:`plot_frontier`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 7.5), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    plot_frontier(points, ax, cost=cost, metric=metric, reference=reference, colors=colors, missing=missing,
                  cells=cells, fits=fits)
    if title:
        ax.set_title(title)
    return figure
