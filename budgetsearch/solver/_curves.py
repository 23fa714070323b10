"""The "settings range" view: a network's counts over each substitute's whole domain.

The original author swept each substitute's hyperparameter,
counted the network at every setting and plotted parameters against a
setting normalised to [0, 1], to read off settings for common budgets by eye.
:func:`settings_curve` computes that table; :func:`draw_settings_curves`
draws it. (For choosing settings, :func:`solve_budget` is exact.)
"""

from __future__ import annotations

from typing import Iterable, Optional

import numpy as np

from ..compat import hyperparameter as compat_hyperparameter
from ..substitutes import get_substitute, list_substitutes
from ._network import network_counter
from ._search import highest, lowest
from ._site_cache import SITE_COUNTS

_STYLES = ("-", "--", "-.", ":")
_MARKERS = ("o", "s", "^", "v", "D", "x", "+", "*", "P")
COLUMNS = ["model", "substitute", "hyperparameter", "setting", "normalised_setting", "params", "mult_adds"]


def sweep_settings(hp, points: int) -> list:
    """``points`` settings spread over the domain: even for floats, geometric for integers (deduplicated)."""
    low, high = lowest(hp), highest(hp)
    if hp.type is float:
        return [float(s) for s in np.linspace(low, high, points)]
    return sorted({int(round(s)) for s in np.geomspace(low, high, points)})


def settings_curve(model, substitutes: Optional[Iterable[str]] = None, points: int = 40,
                   num_classes: Optional[int] = None, input_size: Optional[tuple] = None,
                   compat: Optional[str] = None, progress=None, *, options: Optional[dict] = None, select=None,
                   exclude=(), rules: Optional[dict] = None):
    """A DataFrame with one row per (substitute, setting): the network's params and mult-adds there.

    ``normalised_setting`` maps the substitute's domain onto [0, 1]. ``progress``, if
    given, is called with each substitute's name before it is swept. ``model``,
    ``options``, ``select``, ``exclude`` and ``rules`` are as :func:`solve_budget` takes
    them; by default every substitute that replaces all the selected layer kinds is swept.
    """
    import pandas as pd

    counter = network_counter(model, num_classes, input_size, compat, options=options, select=select,
                              exclude=exclude, rules=rules)
    kinds = {site.kind for site in counter.sites}
    rows = []
    for name in substitutes or [n for n in list_substitutes() if kinds <= set(get_substitute(n).layer_kinds)]:
        substitute = get_substitute(name)
        hp = compat_hyperparameter(substitute, counter.compat)
        if hp is None:
            continue
        if progress is not None:
            progress(substitute.name)
        low, high = lowest(hp), highest(hp)
        for setting in sweep_settings(hp, points):
            totals = counter.totals(substitute, setting)
            rows.append({"model": counter.model, "substitute": substitute.name, "hyperparameter": hp.name,
                         "setting": setting, "normalised_setting": (setting - low) / (high - low),
                         "params": totals.params, "mult_adds": totals.mult_adds})
    SITE_COUNTS.save()
    return pd.DataFrame(rows, columns=COLUMNS)


def draw_settings_curves(curves, ax_params, ax_mult_adds=None, dense=None):
    """Parameters (and mult-adds) on a log scale against the normalised setting, one line per substitute.

    ``dense``, a (params, mult_adds) pair, draws the dense network as a reference line.
    Returns the axes drawn on.
    """
    axes = [(ax_params, "params", "parameters")]
    if ax_mult_adds is not None:
        axes.append((ax_mult_adds, "mult_adds", "mult-adds per image"))
    for ax, column, label in axes:
        # Several substitutes coincide (square layers make generic and lowrank cost alike):
        # styles and markers keep every line visible.
        for index, (name, rows) in enumerate(curves.groupby("substitute", sort=False)):
            ax.plot(rows["normalised_setting"], rows[column], label=name, linestyle=_STYLES[index % len(_STYLES)],
                    marker=_MARKERS[index % len(_MARKERS)], markersize=3, markevery=max(1, len(rows) // 12))
        if dense is not None:
            ax.axhline(dense[0] if column == "params" else dense[1], color="black", linestyle="--", linewidth=1,
                       label="dense")
        ax.set_yscale("log")
        ax.set_xlabel("setting, normalised to its domain [0, 1]")
        ax.set_ylabel(label)
        ax.grid(True, which="major", alpha=0.3)
    ax_params.legend(fontsize="small", ncol=2)
    return [ax for ax, _, _ in axes]
