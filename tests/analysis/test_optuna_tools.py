"""Optuna's own tools read a study budgetsearch ran: trials_dataframe, plot_pareto_front, plot_param_importances.

One tiny real study (tucker on wrn-10-1 and digits, two epochs): 0.05x is below tucker's smallest network
(infeasible, skipped), 0.1x trains, and 0.4x is over its largest (15,962 params, 0.23 of dense), so it trains
that largest network, saturated.
"""

import warnings

import optuna
import pytest
from matplotlib.figure import Figure

from budgetsearch import analysis, cli
from budgetsearch.study import open_storage
from budgetsearch.study._cells import CELL_PARAMS

from synthetic_study import attributes, frozen

STUDY = """
name = "tools"
model = "wrn-10-1"
dataset = "digits"
substitutes = ["tucker"]
budgets = ["0.05x", "0.1x", "0.4x"]
seeds = 1
min_fill = 0

[training]
epochs = 2
batch_size = 128
validation_size = 60
"""


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tools")
    (folder / "tools.toml").write_text(STUDY)
    assert cli.main(["run", str(folder / "tools.toml"), "--runs-dir", str(folder / "runs"), "--json"]) == 0
    storage = open_storage(None, "tools", runs_dir=folder / "runs")
    return folder, optuna.load_study(study_name="tools", storage=storage)


def test_trials_dataframe_shows_the_cell_fill_and_saturation(ran):
    _, study = ran
    frame = study.trials_dataframe().set_index("params_budget")
    assert sorted(frame.index) == ["0.1x", "0.4x"]  # 0.05x was skipped, not trained
    for budget, row in frame.iterrows():
        assert row["params_substitute"] == "tucker" and row["params_budget_params"] == row["user_attrs_budget_params"]
        assert row["params_setting"] == row["user_attrs_setting"]
        assert row["user_attrs_fill"] == pytest.approx(row["user_attrs_params"] / row["user_attrs_budget_params"])
    assert frame["user_attrs_saturated"].tolist() == [budget == "0.4x" for budget in frame.index]
    assert frame.loc["0.4x", "system_attrs_constraints"] == [pytest.approx(1 - frame.loc["0.4x", "user_attrs_fill"])]
    assert frame.loc["0.1x", "system_attrs_constraints"] == [0.0]


def test_each_epochs_validation_error_is_an_intermediate_value(ran):
    _, study = ran
    for trial in study.trials:
        steps = sorted(trial.intermediate_values)
        assert steps == list(range(1, trial.user_attrs["epochs_run"] + 1)) == [1, 2]
        assert trial.intermediate_values[steps[-1]] == pytest.approx(trial.user_attrs["val_error"])


def pareto_groups(ax) -> dict:
    """Optuna's scatter groups (its legend labels) -> the (params, error) points in each."""
    return {c.get_label(): sorted(map(tuple, c.get_offsets().tolist())) for c in ax.collections}


def test_optunas_pareto_plot_marks_the_saturated_budget_infeasible(ran):
    _, study = ran
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        ax = optuna.visualization.matplotlib.plot_pareto_front(
            study, targets=lambda t: (t.user_attrs["params"], t.value), target_names=["params", "val_error"])
    saturated = next(t for t in study.trials if t.user_attrs["saturated"])
    assert pareto_groups(ax)["Infeasible Trial"] == [(saturated.user_attrs["params"], saturated.value)]


def test_optunas_param_importances_run_on_the_cell_parameters(ran):
    _, study = ran
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        ax = optuna.visualization.matplotlib.plot_param_importances(study)
    assert {label.get_text() for label in ax.get_yticklabels()} <= set(CELL_PARAMS)
    assert len(ax.get_yticklabels()) >= 1


def test_budgetsearchs_frontier_of_it_shows_every_cell(ran):
    folder, study = ran
    frontier = analysis.load_study_file_frontier(folder / "tools.toml", runs_dir=folder / "runs")
    (cell,) = frontier.cells.to_dict("records")
    assert (cell["budget"], cell["status"]) == ("0.05x", "infeasible") and "cannot meet budget" in cell["reason"]
    dense = study.trials[0].user_attrs["dense_params"]
    assert cell["budget_params"] == int(0.05 * dense)  # placed at its budget's cap
    saturated = frontier.points.set_index("budget").loc["0.4x"]
    assert saturated["saturated"] is True
    ax = frontier.plot(Figure().subplots())
    assert "2 of 3 cells have a point" in ax.get_legend().get_title().get_text()


def test_a_synthetic_saturated_trial_is_infeasible_to_optuna_too():
    study = optuna.create_study()
    study.add_trial(frozen(attributes(val_error=9.0)))
    study.add_trial(frozen(attributes(seed=1, params=60_000, val_error=12.0, saturated=True)))  # fill 0.6
    (feasible, saturated) = study.trials
    assert feasible.constraints == {"0": 0.0} and saturated.constraints == {"0": pytest.approx(0.4)}
    teacher = frozen(attributes(role="teacher", saturated=None))
    assert teacher.constraints == {}  # saturation not recorded: no constraint, as before


def test_the_queue_records_the_constraint_and_a_lost_trials_copy_keeps_it():
    from optuna.trial import TrialState

    from budgetsearch.study._queue import enqueue_missing, fail_lost

    study = optuna.create_study()
    assert enqueue_missing(study, [attributes(params=60_000, saturated=True, status=None, val_error=None)]) == 1
    (queued,) = study.trials
    assert queued.state == TrialState.WAITING and queued.constraints == {"0": pytest.approx(0.4)}
    study._storage.set_trial_state_values(queued._trial_id, TrialState.RUNNING)
    assert fail_lost(study, study._storage.get_trial(queued._trial_id), "worker gone")
    copy = study.trials[-1]
    assert copy.state == TrialState.WAITING and copy.constraints == {"0": pytest.approx(0.4)}
