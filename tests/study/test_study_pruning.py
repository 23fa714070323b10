"""Pruning compares a trial only with trials at the same budget."""

import optuna
import pytest
from optuna.trial import TrialState

from budgetsearch import cli
from budgetsearch.study import open_storage
from budgetsearch.study._pruning import budget_peers


def peer(budget, value, number, steps=(1, 2)):
    return optuna.trial.create_trial(
        state=TrialState.COMPLETE, value=value, intermediate_values={s: value for s in steps},
        user_attrs={"budget": budget, "role": "student", "cell": f"peer-{number}|{budget}|0", "status": "complete"})


@pytest.fixture
def study(tmp_path):
    storage = open_storage(None, "peers", runs_dir=tmp_path)
    study = optuna.create_study(study_name="peers", storage=storage, direction="minimize")
    # Budget A's trials reach 10 % error, budget B's (more of them) 90 %: over all trials the median is 90 %.
    for i in range(3):
        study.add_trial(peer("A", 10.0, i))
    for i in range(4):
        study.add_trial(peer("B", 90.0, 10 + i))
    return study


@pytest.mark.parametrize("budget, prune", [("A", True), ("B", False)])
def test_median_pruner_sees_only_the_same_budget(study, budget, prune):
    trial_id = study._storage.create_new_trial(study._study_id, optuna.trial.create_trial(
        state=TrialState.WAITING, user_attrs={"budget": budget, "role": "student", "cell": f"x|{budget}|0"}))
    study._storage.set_trial_state_values(trial_id, TrialState.RUNNING)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0)
    frozen = study._storage.get_trial(trial_id)
    trial = optuna.Trial(budget_peers(study._storage, "peers", frozen, pruner), trial_id)
    trial.report(50.0, step=1)  # 50 %: far worse than A's 10 %, far better than B's 90 %
    assert bool(trial.should_prune()) is prune
    # The unfiltered study would decide the other way round (its median is B's 90 %), so the filter is what decides.
    unfiltered = optuna.Trial(optuna.load_study(study_name="peers", storage=study._storage, pruner=pruner), trial_id)
    assert bool(unfiltered.should_prune()) is False


def test_a_trial_worse_than_its_budget_peers_is_pruned(write_study, runs_dir):
    path = write_study(name="pruned", substitutes=("generic",), budgets=("0.1x", "0.2x"), epochs=2,
                       extra="[pruning]\npruner = \"median\"\nn_startup_trials = 1\nn_warmup_steps = 0\n")
    storage = open_storage(None, "pruned", runs_dir=runs_dir)
    study = optuna.create_study(study_name="pruned", storage=storage, direction="minimize")
    for i in range(2):  # two recorded peers at 0.1x with 1 % validation error: no 1-epoch digits model is that good
        study.add_trial(peer("0.1x", 1.0, i))
    assert cli.main(["run", str(path), "--runs-dir", str(runs_dir), "--json"]) == 0
    trials = {t.user_attrs["cell"]: t for t in study.get_trials(deepcopy=False)}
    low, high = trials["generic|0.1x|0"], trials["generic|0.2x|0"]
    assert low.state == TrialState.PRUNED and low.user_attrs["status"] == "pruned"
    assert low.user_attrs["epochs_run"] == 1 and low.user_attrs["test_error"] is None
    assert low.value == low.intermediate_values[1] == low.user_attrs["val_error"]
    # 0.2x has no recorded peers: it is never compared with 0.1x's and runs both epochs.
    assert high.state == TrialState.COMPLETE and high.user_attrs["epochs_run"] == 2
