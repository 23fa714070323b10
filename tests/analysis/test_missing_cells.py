"""Every cell the study asked for is on the figure and in the tables: skipped, failed, running and saturated ones too."""

import matplotlib
import optuna
import pandas as pd
import pytest
from matplotlib.figure import Figure

from budgetsearch import analysis
from budgetsearch.analysis import missing_cells
from budgetsearch.study import SKIPPED_ATTR

from synthetic_study import attributes, build_study, frozen

matplotlib.use("Agg")

SKIPPED = [
    {"substitute": "hashed", "budget": "0.1M", "reason": "hashed cannot meet budget 0.1M", "status": "infeasible",
     "budget_params": 100_000, "budget_mult_adds": None, "params": None, "mult_adds": None},
    {"substitute": "acdc", "budget": "0.4M", "reason": "acdc reaches only 300,000 of the 400,000 params",
     "status": "below_min_fill", "budget_params": 400_000, "budget_mult_adds": None, "params": 300_000,
     "mult_adds": 45_000_000},
]


@pytest.fixture
def gappy():
    """The synthetic study, plus: hashed 0.2M running, tucker 0.4M saturated (trained), two skipped cells."""
    study = build_study(None)
    hashed = attributes(substitute="hashed", setting=0.3, budget="0.2M", budget_params=200_000, params=195_000,
                        mult_adds=40_000_000, status=None, val_error=None, epochs_run=None)
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING, user_attrs=hashed))
    study.add_trial(frozen(attributes(**{**hashed, "seed": 1, "cell": None, "status": "oom",
                                         "message": "CUDA out of memory"})))
    for seed in range(2):
        study.add_trial(frozen(attributes(substitute="tucker", setting=1.0, budget="0.4M", budget_params=400_000,
                                          params=250_000, mult_adds=70_000_000, seed=seed, val_error=5.0 + seed,
                                          saturated=True)))
    study.set_user_attr(SKIPPED_ATTR, SKIPPED)
    return study


def test_each_cell_without_a_point_is_a_row_with_its_status_and_reason(gappy):
    cells = analysis.load_frontier(gappy).cells.set_index(["substitute", "budget"])
    assert sorted(cells.index) == [("acdc", "0.4M"), ("hashed", "0.1M"), ("hashed", "0.2M")]
    running = cells.loc[("hashed", "0.2M")]
    # one seed running, one out of memory: the cell is still running, and says both
    assert running["status"] == "running" and running["statuses"] == "oom, running"
    assert running["reason"] == "running (no result yet, or its worker died)" and running["params"] == 195_000
    assert cells.loc[("hashed", "0.1M"), "status"] == "infeasible"
    assert cells.loc[("acdc", "0.4M"), "reason"] == SKIPPED[1]["reason"]


def test_frontier_and_trials_csv_hold_every_cell(gappy, tmp_path):
    frontier = analysis.load_frontier(gappy)
    paths = analysis.write_frontier(frontier, tmp_path)
    table = pd.read_csv(paths["frontier.csv"])
    assert len(table) == len(frontier.points) + 3
    assert table["status"].value_counts().to_dict() == {"complete": len(frontier.points), "running": 1,
                                                        "infeasible": 1, "below_min_fill": 1}
    skipped = table[table["status"].eq("below_min_fill")].iloc[0]
    assert (skipped["substitute"], skipped["budget"], skipped["params"]) == ("acdc", "0.4M", 300_000)
    trials = pd.read_csv(paths["trials.csv"])
    assert len(trials) == len(gappy.trials) + 2  # a row per skipped cell, with no trial number
    rows = trials[trials["number"].isna()].set_index("budget")
    assert rows.loc["0.1M", "status"] == "infeasible" and rows.loc["0.1M", "message"] == SKIPPED[0]["reason"]
    assert rows.loc["0.4M", "budget_params"] == 400_000 and rows.loc["0.4M", "model"] == "wrn-16-2"
    text = paths["trials.csv"].read_text()
    assert ",300000," in text and "300000.0" not in text and "96000.0" not in text  # counts stay whole numbers


def _strip(ax):
    (strip,) = [child for child in ax.child_axes]
    return {(round(line.get_xdata()[0]), float(line.get_ydata()[0]), line.get_marker()) for line in strip.get_lines()}


def test_each_cell_is_marked_at_its_budget_beside_the_plot(gappy):
    frontier = analysis.load_frontier(gappy)
    ax = frontier.plot(Figure().subplots(), "params")
    # columns of the strip: acdc, hashed (sorted); at the network's count, else at the budget's cap
    assert _strip(ax) == {(0, 300_000.0, "^"), (1, 100_000.0, "v"), (1, 195_000.0, "o")}
    legend = ax.get_legend()
    assert "7 of 10 cells have a point" in legend.get_title().get_text()  # 7 points, 3 cells without one
    labels = [text.get_text() for text in legend.get_texts()]
    assert {"no point: infeasible (no setting fits)", "no point: below min_fill", "no point: running or queued",
            "saturated: budget over the substitute's reach"} <= set(labels)
    # an infeasible cell has no mult-adds and no mult-adds cap: not placed there, still counted
    ax = frontier.plot(Figure().subplots(), "mult_adds")
    assert _strip(ax) == {(0, 45_000_000.0, "^"), (1, 40_000_000.0, "o")}


def test_a_saturated_point_is_a_diamond(gappy):
    ax = analysis.load_frontier(gappy).plot(Figure().subplots(), "params")
    diamonds = [(float(c.lines[0].get_xdata()[0]), float(c.lines[0].get_ydata()[0])) for c in ax.containers
                if c.lines[0].get_marker() == "D"]
    assert diamonds == [(5.5, 250_000.0)]  # tucker 0.4M: seeds 5 and 6


def test_the_report_counts_the_cells_that_have_a_point(gappy):
    report = analysis.load_frontier(gappy).report()
    assert "7 of 10 cells have a point; the 3 without one" in report
    assert "| hashed | 0.1M | infeasible | hashed cannot meet budget 0.1M |" in report
    assert "| 2 | PM | 2 complete; saturated (budget over its reach) |" in report  # tucker 0.4M


def test_a_skipped_record_from_before_statuses_reads_as_skipped():
    study = build_study(None)
    study.set_user_attr(SKIPPED_ATTR, [{"substitute": "hashed", "budget": "0.2M", "reason": "too coarse"}])
    skipped = analysis.load_skipped_cells(study)
    assert skipped.iloc[0]["status"] == "skipped" and skipped.iloc[0]["budget_params"] is None
    cell = missing_cells(analysis.load_trials(study), skipped).iloc[0]
    assert cell["budget_params"] == 200_000  # the budget's cap, from the trials of that budget
    assert analysis.missing_points(analysis.load_trials(study), skipped) == {"hashed": "0.2M skipped"}
