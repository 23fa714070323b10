"""How each family's error scales with its size: err = a·N^(−b) + c, the form scaling studies fit.

N is the network's parameters (or mult-adds), c the error the family tends
to as it grows, b how fast it gets there. The fit uses every complete seed
of every point of the family (so three budgets of three seeds leave six
degrees of freedom), by least squares (``scipy.optimize.curve_fit``) with a
≥ 0, 0 ≤ b ≤ ``MAX_EXPONENT`` and c ≥ 0; the parameters' uncertainties are
the square roots of the covariance's diagonal (scaled by the residuals).

A fit is *not determined*, and says why instead of drawing a line, when the
family has fewer than three sizes, when its mean error does not fall
strictly as N grows (the form cannot bend back), when curve_fit fails, or
when the exponent's standard error exceeds the exponent (the seeds scatter
more than the sizes move the error: any b fits). Three sizes of one seed
each determine the curve but leave no degree of freedom: its uncertainties
are infinite.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd

from ._aggregate import complete_trials
from ._pareto import COSTS, SCOPE_KEYS

MIN_SIZES = 3
MAX_EXPONENT = 10.0  # far above any b a scaling study reports (~0.1-1): only keeps the search finite
# Starting exponents: for each, a and c are a linear least-squares problem; the best start goes to curve_fit.
START_EXPONENTS = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


@dataclass(frozen=True)
class PowerLawFit:
    """err = a·N^(−b) + c through one family's points, or why it is not determined (``reason``)."""

    sizes: int  # distinct N
    observations: int  # seeds over all sizes
    reason: Optional[str] = None  # None: determined
    n0: float = math.nan  # the smallest N: the fit runs on N / n0, so that a stays a sane number
    params: tuple = (math.nan, math.nan, math.nan)  # (a at n0, b, c): err = a0·(N/n0)^(−b) + c
    covariance: np.ndarray = field(default_factory=lambda: np.full((3, 3), np.nan), repr=False)
    n_max: float = math.nan  # the largest N fitted

    @property
    def determined(self) -> bool:
        return self.reason is None

    @property
    def a(self) -> float:
        """a of err = a·N^(−b) + c, in N's own units (a0·n0^b)."""
        a0, b, _ = self.params
        return a0 * self.n0 ** b

    @property
    def b(self) -> float:
        return self.params[1]

    @property
    def c(self) -> float:
        return self.params[2]

    @property
    def a_err(self) -> float:
        a0, b, _ = self.params
        scale = self.n0 ** b
        return _delta(np.array([scale, a0 * scale * math.log(self.n0), 0.0]), self.covariance)

    @property
    def b_err(self) -> float:
        return _delta(np.array([0.0, 1.0, 0.0]), self.covariance)

    @property
    def c_err(self) -> float:
        return _delta(np.array([0.0, 0.0, 1.0]), self.covariance)

    def predict(self, n) -> np.ndarray:
        a0, b, c = self.params
        return a0 * (np.asarray(n, dtype="float64") / self.n0) ** (-b) + c

    def drop_at_double(self, n: Optional[float] = None) -> tuple:
        """``(drop, uncertainty)``: how much the error falls from N to 2N (N: the largest fitted, by default)."""
        a0, b, _ = self.params
        x = (self.n_max if n is None else n) / self.n0
        shrink = 1 - 2.0 ** (-b)
        drop = a0 * x ** (-b) * shrink
        gradient = np.array([x ** (-b) * shrink,
                             a0 * x ** (-b) * (-math.log(x) * shrink + 2.0 ** (-b) * math.log(2)), 0.0])
        return drop, _delta(gradient, self.covariance)


def fit_power_law(size, error) -> PowerLawFit:
    """Fit err = a·N^(−b) + c to observations ``(size[i], error[i])`` (several per size: seeds)."""
    size = np.asarray(size, dtype="float64")
    error = np.asarray(error, dtype="float64")
    keep = ~(np.isnan(size) | np.isnan(error)) & (size > 0)
    size, error = size[keep], error[keep]
    distinct = np.unique(size)
    found = dict(sizes=len(distinct), observations=len(size))
    if len(distinct) < MIN_SIZES:
        return PowerLawFit(**found, reason=f"not determined: {len(distinct)} size(s), at least {MIN_SIZES} needed")
    means = np.array([error[size == n].mean() for n in distinct])
    if not np.all(np.diff(means) < 0):
        shown = ", ".join(f"{m:.2f}" for m in means)
        return PowerLawFit(**found, reason=f"not determined: the mean error does not fall as N grows ({shown})")
    from scipy.optimize import OptimizeWarning, curve_fit

    n0 = float(distinct[0])
    x = size / n0

    def model(x, a0, b, c):
        return a0 * x ** (-b) + c

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)  # no degree of freedom left: reported as infinite
            params, covariance = curve_fit(model, x, error, p0=_start(x, error),
                                           bounds=([0.0, 0.0, 0.0], [np.inf, MAX_EXPONENT, np.inf]))
    except (RuntimeError, ValueError) as failure:
        return PowerLawFit(**found, reason=f"not determined: curve_fit failed ({failure})")
    if not np.all(np.isfinite(params)):
        return PowerLawFit(**found, reason=f"not determined: curve_fit returned {params.tolist()}")
    if len(size) <= 3 or not np.all(np.isfinite(covariance)):
        covariance = np.full((3, 3), np.inf)
    elif math.sqrt(covariance[1, 1]) > params[1]:
        return PowerLawFit(**found, reason=f"not determined: the data do not fix the exponent (b = {params[1]:.3g} "
                                            f"± {math.sqrt(covariance[1, 1]):.3g})")
    return PowerLawFit(**found, n0=n0, params=tuple(float(p) for p in params), covariance=covariance,
                       n_max=float(distinct[-1]))


def _start(x: np.ndarray, error: np.ndarray) -> list:
    """(a0, b, c) to start from: for each candidate b the best a0 ≥ 0, c ≥ 0 by linear least squares."""
    best = None
    for b in START_EXPONENTS:
        design = np.column_stack([x ** (-b), np.ones_like(x)])
        (a0, c), *_ = np.linalg.lstsq(design, error, rcond=None)
        a0, c = max(a0, 1e-9), max(c, 0.0)
        residual = float(np.sum((a0 * x ** (-b) + c - error) ** 2))
        if best is None or residual < best[0]:
            best = (residual, [a0, b, c])
    return best[1]


def _delta(gradient: np.ndarray, covariance: np.ndarray) -> float:
    """The delta method: the standard error of a function of the parameters with this gradient."""
    if np.isnan(covariance).all():
        return math.nan
    used = gradient != 0
    if not np.all(np.isfinite(covariance[np.ix_(used, used)])):
        return math.inf
    return float(math.sqrt(max(gradient[used] @ covariance[np.ix_(used, used)] @ gradient[used], 0.0)))


FIT_COLUMNS = ("substitute", "init", "cost", "sizes", "observations", "a", "a_err", "b", "b_err", "c", "c_err", "n_max",
               "drop_at_double", "drop_at_double_err", "determined", "reason")


def scaling_fits(trials: pd.DataFrame, metric: str = "val_error") -> pd.DataFrame:
    """One :func:`fit_power_law` per (model, data set, substitute, init) and cost (``COSTS``), on every complete seed.

    Each trained network counts once (a network serving several budgets is one
    size). Columns ``FIT_COLUMNS`` (scope keys first where present);
    ``drop_at_double``: the error (points of %) the fit says the family loses
    from its largest size to twice that.
    """
    seeds = complete_trials(trials)
    scope = [k for k in SCOPE_KEYS if k in seeds.columns]
    rows = []
    for key, family in seeds.groupby(scope + ["substitute", "init"], sort=True, dropna=False):
        for cost in COSTS:
            fit = fit_power_law(family[cost].astype("float64"), family[metric].astype("float64"))
            drop, drop_err = fit.drop_at_double() if fit.determined else (math.nan, math.nan)
            rows.append(dict(zip(scope, key[:-2])) | {
                "substitute": key[-2], "init": key[-1], "cost": cost, "sizes": fit.sizes, "observations": fit.observations,
                "a": fit.a, "a_err": fit.a_err, "b": fit.b, "b_err": fit.b_err, "c": fit.c, "c_err": fit.c_err,
                "n_max": fit.n_max, "drop_at_double": drop, "drop_at_double_err": drop_err,
                "determined": fit.determined, "reason": fit.reason, "fit": fit})
    return pd.DataFrame(rows, columns=scope + list(FIT_COLUMNS) + ["fit"])
