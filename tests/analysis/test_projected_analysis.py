"""A study with both inits: separate curves, rows and front flags, the gains table and the projection-error table.

The numbers are chosen so every expectation is worked out by hand below.
"""

import math

import pandas as pd
import pytest
from matplotlib.figure import Figure

from budgetsearch.analysis import (aggregate_seeds, frontier_table, init_gains, plot_frontier, projection_errors,
                                   study_frontier, trials_frame, write_frontier)
from budgetsearch.analysis._plot import INIT_LINES
from synthetic_study import attributes, frozen

BUDGETS = {"0.1M": 100_000, "0.2M": 200_000}
NETWORK = {("tucker", "0.1M"): (0.2, 96_000), ("tucker", "0.2M"): (0.4, 190_000),
           ("acdc", "0.1M"): (8, 99_000), ("acdc", "0.2M"): (16, 180_000)}
# (substitute, budget) -> val errors of seeds 0, 1: from scratch, projected at the end, projected at epoch 0
SCRATCH = {("tucker", "0.1M"): [10.0, 12.0], ("tucker", "0.2M"): [8.0, 9.0],
           ("acdc", "0.1M"): [11.0, 13.0], ("acdc", "0.2M"): [9.0, 10.0]}
PROJECTED = {("tucker", "0.1M"): [7.0, 8.0], ("tucker", "0.2M"): [5.0, 5.5],
             ("acdc", "0.1M"): [12.0, 13.0]}  # acdc at 0.2M projected failed: no gain row there
INITIAL = {("tucker", "0.1M"): [40.0, 44.0], ("tucker", "0.2M"): [20.0, 22.0], ("acdc", "0.1M"): [80.0, 82.0]}
WEIGHT_ERROR = {("tucker", "0.1M"): 0.5, ("tucker", "0.2M"): 0.3, ("acdc", "0.1M"): 0.9, ("acdc", "0.2M"): 0.8}


def trial_table(legacy_init=None) -> pd.DataFrame:
    """The study's trials; scratch ones record ``init = legacy_init`` (None: as a journal before the key did)."""
    trials = []
    for (substitute, budget), (setting, params) in NETWORK.items():
        common = dict(substitute=substitute, budget=budget, budget_params=BUDGETS[budget], setting=setting,
                      params=params, mult_adds=params * 100)
        for seed, error in enumerate(SCRATCH[(substitute, budget)]):
            trials.append(attributes(**common, seed=seed, init=legacy_init, val_error=error, test_error=error + 1))
        for seed in range(2):
            cell = dict(common, seed=seed, init="projected", cell=f"{substitute}|{budget}|{seed}|projected",
                        projection_weight_error=WEIGHT_ERROR[(substitute, budget)],
                        projection_output_error=WEIGHT_ERROR[(substitute, budget)] / 2,
                        projection_layers=[{"name": "block.conv", "weight_error": 0.1}])
            if (substitute, budget) in PROJECTED:
                trials.append(attributes(**cell, val_error=PROJECTED[(substitute, budget)][seed],
                                         test_error=PROJECTED[(substitute, budget)][seed] + 1,
                                         initial_val_error=INITIAL[(substitute, budget)][seed]))
            else:  # projected, then the fine-tuning failed: the projection's error is still recorded
                trials.append(attributes(**cell, status="failed", val_error=None, test_error=None,
                                         message="diverged"))
    return trials_frame([frozen(t) for t in trials])


def test_each_init_is_its_own_point_and_an_unrecorded_init_is_scratch():
    points = aggregate_seeds(trial_table())
    assert len(points) == 4 + 3  # acdc 0.2M projected has no complete seed
    assert set(points["init"]) == {"scratch", "projected"}
    mean = points.set_index(["substitute", "budget", "init"])["val_error_mean"]
    assert mean[("tucker", "0.1M", "scratch")] == 11.0 and mean[("tucker", "0.1M", "projected")] == 7.5
    assert mean[("acdc", "0.2M", "scratch")] == 9.5
    assert points.equals(aggregate_seeds(trial_table(legacy_init="scratch")))


def test_front_over_everything_and_a_front_per_curve():
    points = frontier_table(aggregate_seeds(trial_table()))
    flags = points.set_index(["substitute", "budget", "init"])
    # Worked out by hand on (mean error, params): tucker projected (7.5, 96k) and (5.25, 190k) dominate the rest.
    assert set(flags.index[flags["on_front_params"]]) == {("tucker", "0.1M", "projected"),
                                                          ("tucker", "0.2M", "projected")}
    # Within each curve both budgets are on its own front (error falls as size grows), acdc projected's one point too.
    assert flags["on_substitute_front_params"].all()


def test_the_plot_draws_each_family_solid_from_scratch_and_dashed_projected():
    points = frontier_table(aggregate_seeds(trial_table()))
    ax = plot_frontier(points, Figure().subplots())
    lines = {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}
    assert lines["tucker"].get_linestyle() == INIT_LINES["scratch"] == "-"
    assert lines["tucker (projected)"].get_linestyle() == INIT_LINES["projected"] == "--"
    assert lines["tucker"].get_color() == lines["tucker (projected)"].get_color()
    assert list(lines["tucker (projected)"].get_xdata()) == [7.5, 5.25]  # budget order
    assert lines["acdc (projected)"].get_color() != lines["tucker"].get_color()


def test_gains_pair_the_two_starts_seed_by_seed():
    gains = init_gains(trial_table()).set_index(["substitute", "budget"])
    assert list(gains.index) == [("acdc", "0.1M"), ("tucker", "0.1M"), ("tucker", "0.2M")]  # acdc 0.2M: one start
    tucker = gains.loc[("tucker", "0.1M")]
    # differences scratch - projected by seed: 3, 4 -> mean 3.5, sd 0.7071, se 0.5, t(1) 97.5% = 12.706
    assert tucker["gain"] == 3.5 and tucker["scratch"] == 11.0 and tucker["projected"] == 7.5
    assert tucker["projected_initial"] == 42.0 and tucker["seeds"] == 2 and tucker["epochs"] == 2
    assert tucker["gain_low"] == pytest.approx(3.5 - 12.7062 * 0.5, abs=1e-3)
    assert tucker["gain_high"] == pytest.approx(3.5 + 12.7062 * 0.5, abs=1e-3)
    assert gains.loc[("acdc", "0.1M"), "gain"] == pytest.approx(-0.5)  # projection did not help acdc here


def test_projection_errors_per_family_and_budget_include_failed_fine_tuning():
    errors = projection_errors(trial_table()).set_index(["substitute", "budget"])
    assert errors["weight_error"].to_dict() == WEIGHT_ERROR
    assert errors.loc[("acdc", "0.2M"), "output_error"] == 0.4
    assert errors.loc[("tucker", "0.2M"), "initial_val_error"] == 21.0
    assert math.isnan(errors.loc[("acdc", "0.2M"), "initial_val_error"])
    assert (errors["trials"] == 2).all()


def test_a_study_without_projected_starts_has_no_projection_tables():
    scratch_only = trial_table()
    scratch_only = scratch_only[scratch_only["init"].isna()]
    assert len(init_gains(scratch_only)) == 0 and len(projection_errors(scratch_only)) == 0


def test_written_frontier_separates_the_inits(tmp_path):
    frontier = study_frontier(trial_table(), "both")
    paths = write_frontier(frontier, tmp_path)
    table = pd.read_csv(paths["frontier.csv"])
    assert set(zip(table["substitute"], table["budget"], table["init"].fillna("every"))) >= {
        ("tucker", "0.1M", "scratch"), ("tucker", "0.1M", "projected"), ("acdc", "0.2M", "projected")}
    missing = table[table["status"] != "complete"]
    assert list(zip(missing["substitute"], missing["budget"], missing["init"])) == [("acdc", "0.2M", "projected")]
    assert paths["projection_errors.png"].stat().st_size > 10_000
    report = paths["report.md"].read_text()
    assert "## Projected against scratch at equal budget" in report
    assert "| 0.1M | tucker | 2 | 2 | 11.00 | 42.00 | 7.50 | +3.50 |" in report
    assert "| tucker | 0.2M | 190,000 | 0.3000 | 0.1500 | 21.00 | 2 |" in report
    assert "| tucker (projected) |" in report  # its own rows in the budget tables
    assert "| tucker (projected) 0.1M |" in report  # a front neighbour named with its init
