"""err = a·N^(−b) + c: known a, b, c recovered from synthetic points; undetermined fits say why; drawn and reported."""

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from budgetsearch.analysis import (aggregate_seeds, fit_power_law, frontier_table, plot_frontier, render_report,
                                   scaling_fits, trials_frame)

from budgetsearch.analysis._plot import FIT_LINE
from synthetic_study import attributes, frozen

A, B, C = 2000.0, 0.5, 2.0  # error 2000·N^(−0.5) + 2 %: 8.3 % at 100k parameters, 4.0 % at 1M
SIZES = [50_000, 100_000, 200_000, 400_000, 800_000]


def law(n, a=A, b=B, c=C):
    return a * np.asarray(n, dtype=float) ** (-b) + c


def test_exact_points_give_back_a_b_c():
    fit = fit_power_law(SIZES, law(SIZES))
    assert fit.determined and fit.sizes == 5 and fit.observations == 5
    assert (fit.a, fit.b, fit.c) == (pytest.approx(A, rel=1e-4), pytest.approx(B, rel=1e-4), pytest.approx(C, abs=1e-4))
    np.testing.assert_allclose(fit.predict(SIZES), law(SIZES), rtol=1e-6)


@pytest.mark.parametrize("a, b, c", [(50.0, 0.2, 5.0), (3e4, 0.8, 1.0), (900.0, 0.5, 0.0)])
def test_other_known_laws(a, b, c):
    fit = fit_power_law(SIZES, law(SIZES, a, b, c))
    assert (fit.a, fit.b, fit.c) == (pytest.approx(a, rel=1e-3), pytest.approx(b, rel=1e-3), pytest.approx(c, abs=1e-3))


def test_noisy_seeds_are_recovered_within_their_uncertainty():
    rng = np.random.default_rng(11)
    sizes = np.repeat(SIZES, 3)  # three seeds per size
    fit = fit_power_law(sizes, law(sizes) + rng.normal(0, 0.05, len(sizes)))
    assert fit.observations == 15 and all(np.isfinite([fit.a_err, fit.b_err, fit.c_err]))
    for estimate, error, truth in ((fit.a, fit.a_err, A), (fit.b, fit.b_err, B), (fit.c, fit.c_err, C)):
        assert abs(estimate - truth) < 4 * error, (estimate, error, truth)
    # the standard errors are those of the covariance curve_fit reports for the same least squares in a, b, c
    from scipy.optimize import curve_fit

    errors = law(sizes) + np.random.default_rng(11).normal(0, 0.05, len(sizes))
    _, covariance = curve_fit(lambda n, a, b, c: a * n ** (-b) + c, sizes.astype(float), errors, p0=[A, B, C],
                              maxfev=20000)
    assert (fit.b_err, fit.c_err) == (pytest.approx(math.sqrt(covariance[1, 1]), rel=0.02),
                                      pytest.approx(math.sqrt(covariance[2, 2]), rel=0.02))
    assert fit.a_err == pytest.approx(math.sqrt(covariance[0, 0]), rel=0.02)


def test_drop_at_twice_the_largest_size():
    fit = fit_power_law(SIZES, law(SIZES))
    drop, _ = fit.drop_at_double()
    assert drop == pytest.approx(law(800_000) - law(1_600_000), rel=1e-4)
    assert fit.drop_at_double(100_000)[0] == pytest.approx(law(100_000) - law(200_000), rel=1e-4)


def test_three_sizes_of_one_seed_fit_exactly_with_no_uncertainty_left():
    fit = fit_power_law(SIZES[:3], law(SIZES[:3]))
    assert fit.determined and fit.predict(SIZES[:3]) == pytest.approx(law(SIZES[:3]), rel=1e-6)
    assert math.isinf(fit.b_err) and math.isinf(fit.drop_at_double()[1])


@pytest.mark.parametrize("sizes, errors, reason", [
    ([100_000, 200_000], [9.0, 7.0], "2 size(s), at least 3 needed"),
    ([100_000, 100_000, 200_000, 200_000], [9.0, 9.2, 7.0, 7.1], "2 size(s), at least 3 needed"),  # seeds: 2 sizes
    ([100_000, 200_000, 400_000], [9.0, 7.0, 7.5], "does not fall as N grows (9.00, 7.00, 7.50)"),
    ([100_000, 200_000, 400_000], [9.0, 9.0, 8.0], "does not fall as N grows"),
    ([100_000, 200_000, float("nan")], [9.0, 7.0, 6.0], "2 size(s)"),  # a missing size is no size
])
def test_undetermined_fits_say_why(sizes, errors, reason):
    fit = fit_power_law(sizes, errors)
    assert not fit.determined and fit.reason.startswith("not determined: ") and reason in fit.reason
    assert math.isnan(fit.b) and math.isnan(fit.b_err)


def test_seeds_that_scatter_more_than_the_sizes_move_the_error_fix_no_exponent():
    sizes = np.repeat([100_000, 120_000, 140_000], 3)
    errors = np.array([12.0, 9.0, 10.0, 7.0, 12.0, 10.0, 11.5, 8.0, 9.5])  # means 10.33, 9.67, 9.67 - e-9: falling
    errors[-1] -= 1e-9
    fit = fit_power_law(sizes, errors)
    assert not fit.determined and "the data do not fix the exponent (b = " in fit.reason


def test_a_curve_fit_failure_is_reported(monkeypatch):
    import scipy.optimize

    def fail(*args, **kwargs):
        raise RuntimeError("Optimal parameters not found: Number of calls to function has reached maxfev = 800.")

    monkeypatch.setattr(scipy.optimize, "curve_fit", fail)
    fit = fit_power_law(SIZES, law(SIZES))
    assert not fit.determined and "curve_fit failed (Optimal parameters not found" in fit.reason


def family_trials():
    """tucker on the law at three budgets × two seeds (±0.1); acdc at two budgets only."""
    trials = []
    for budget, size in zip(("0.1M", "0.2M", "0.4M"), (95_000, 190_000, 380_000)):
        for seed, shift in enumerate((-0.1, 0.1)):
            trials.append(frozen(attributes(substitute="tucker", budget=budget, budget_params=size + 5_000, seed=seed,
                                            params=size, mult_adds=size * 300, val_error=float(law(size)) + shift)))
            if budget != "0.4M":
                trials.append(frozen(attributes(substitute="acdc", setting=8, budget=budget, seed=seed,
                                                budget_params=size + 5_000, params=size - 1_000, mult_adds=size * 100,
                                                val_error=float(law(size)) + 1 + shift)))
    return trials_frame(trials)


def test_each_family_and_cost_is_fitted_or_says_why():
    fits = scaling_fits(family_trials()).set_index(["substitute", "cost"])
    tucker = fits.loc[("tucker", "params")]
    assert tucker["determined"] and tucker["sizes"] == 3 and tucker["observations"] == 6
    # the seeds straddle the law by ±0.1 symmetrically, so least squares finds the law itself
    assert (tucker["a"], tucker["b"], tucker["c"]) == (pytest.approx(A, rel=1e-3), pytest.approx(B, rel=1e-3),
                                                       pytest.approx(C, abs=1e-3))
    assert tucker["drop_at_double"] == pytest.approx(law(380_000) - law(760_000), rel=1e-3)
    assert fits.loc[("tucker", "mult_adds"), "b"] == pytest.approx(B, rel=1e-3)  # mult-adds ∝ params here
    assert not fits.loc[("acdc", "params"), "determined"] and "2 size(s)" in fits.loc[("acdc", "params"), "reason"]


def test_the_plot_draws_a_fit_curve_only_where_the_fit_is_determined():
    trials = family_trials()
    points = frontier_table(aggregate_seeds(trials))
    ax = plot_frontier(points, Figure().subplots(), fits=scaling_fits(trials))
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == FIT_LINE and len(line.get_xdata())]
    assert len(dashed) == 1  # tucker's; acdc has two sizes
    curve = dashed[0]
    np.testing.assert_allclose(curve.get_xdata(), law(curve.get_ydata()), rtol=1e-3)  # error = f(parameters)
    assert curve.get_ydata().min() == pytest.approx(95_000) and curve.get_ydata().max() == pytest.approx(380_000)


def test_the_report_tabulates_the_fits():
    trials = family_trials()
    report = render_report(trials, frontier_table(aggregate_seeds(trials)), fits=scaling_fits(trials))
    drop = law(380_000) - law(760_000)
    assert f"At 2× the parameters, tucker's error falls by {drop:.2f} ± " in report
    assert "| acdc | parameters | 2 | 4 | - | - | - | not determined: 2 size(s), at least 3 needed |" in report
