"""A family's curves: one per substitute and init (from scratch, or projected from trained weights).

A trial recorded before studies had an ``init`` (its column None, or absent
from a table built by hand) started from scratch: every trial did then.
"""

from __future__ import annotations

import pandas as pd

DEFAULT_INIT = "scratch"


def with_init(trials: pd.DataFrame) -> pd.DataFrame:
    """``trials`` with every ``init`` known (an unrecorded one is :data:`DEFAULT_INIT`)."""
    if "init" in trials.columns and trials["init"].notna().all():
        return trials
    known = trials["init"] if "init" in trials.columns else pd.Series(None, index=trials.index, dtype=object)
    return trials.assign(init=known.astype(object).where(known.notna(), DEFAULT_INIT))


def curve_label(substitute, init=DEFAULT_INIT) -> str:
    """How plots and reports name a curve: the substitute, marked when its networks started from projected weights."""
    return str(substitute) if init in (None, DEFAULT_INIT) or pd.isna(init) else f"{substitute} ({init})"
