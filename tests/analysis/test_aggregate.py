"""Aggregates over seeds, status counts and problem trials, against numbers worked out by hand."""

import math

import numpy as np
import pytest

from budgetsearch.analysis import (aggregate_seeds, load_trials, planned_epochs, problem_trials, status_counts,
                                   status_labels, teacher_error, trials_frame)
from budgetsearch.errors import ConfigError

from synthetic_study import FAILED_MESSAGE, attributes, frozen


def test_mean_std_and_count_per_point(study):
    points = aggregate_seeds(load_trials(study)).set_index(["substitute", "budget"])
    assert len(points) == 6  # the teacher and the failed/pruned trials make no point of their own
    row = points.loc[("tucker", "0.1M")]
    assert row["val_error_mean"] == pytest.approx(9.0) and row["val_error_std"] == pytest.approx(1.0)
    assert row["seeds"] == 3 and row["seed_list"] == [0, 1, 2]
    assert row["test_error_mean"] == pytest.approx(9.5)
    # the pruned seed 3 (val_error 30) does not enter
    assert points.loc[("tucker", "0.2M"), "val_error_mean"] == pytest.approx(6.5)
    assert points.loc[("acdc", "0.1M"), "val_error_std"] == pytest.approx(math.sqrt(3.0))  # 10, 10, 13
    shuffle = points.loc[("shuffle", "0.2M")]  # seed 2 failed
    assert shuffle["seeds"] == 2 and shuffle["val_error_mean"] == pytest.approx(9.25)
    assert shuffle["val_error_std"] == pytest.approx(math.sqrt(0.125))
    assert points.loc[("shuffle", "0.1M"), "val_error_std"] == 0.0
    assert points.loc[("acdc", "0.2M"), "params"] == 180_000 and points.loc[("acdc", "0.2M"), "setting"] == 16
    # ordered by budget size, then substitute
    assert list(points.index) == [("acdc", "0.1M"), ("shuffle", "0.1M"), ("tucker", "0.1M"),
                                  ("acdc", "0.2M"), ("shuffle", "0.2M"), ("tucker", "0.2M")]


def test_one_seed_has_no_std_and_a_repeated_seed_counts_once():
    trials = trials_frame([frozen(attributes(seed=0, val_error=5.0)),
                           frozen(attributes(seed=1, val_error=8.0, tuning_trial=0)),
                           frozen(attributes(seed=1, val_error=7.0, tuning_trial=1)),  # seed 1's best tuning trial
                           frozen(attributes(seed=1, val_error=7.5, tuning_trial=2))])
    row = aggregate_seeds(trials).iloc[0]
    assert row["seeds"] == 2 and row["trials"] == 4 and row["val_error_mean"] == pytest.approx(6.0)
    single = aggregate_seeds(trials_frame([frozen(attributes(val_error=5.0))])).iloc[0]
    assert single["seeds"] == 1 and np.isnan(single["val_error_std"])


def test_selection_of_a_seed_uses_validation_not_test_error():
    trials = trials_frame([frozen(attributes(val_error=7.0, test_error=1.0, tuning_trial=0)),
                           frozen(attributes(val_error=6.0, test_error=9.0, tuning_trial=1))])
    assert aggregate_seeds(trials)["test_error_mean"].tolist() == [9.0]


def test_a_lost_trial_never_counts_and_is_listed():
    import optuna

    study = optuna.create_study()
    lost = attributes(status=None, val_error=None, epochs_run=None, lost=True)
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs=lost))
    study.add_trial(frozen(attributes(val_error=6.0, lost=False)))  # its queued copy, completed
    trials = load_trials(study)
    assert aggregate_seeds(trials)["trials"].tolist() == [1]
    assert problem_trials(trials)["problem"].tolist() == ["lost with its worker (queued again as a new trial)"]
    counts = status_counts(trials).iloc[0]
    assert (counts["complete"], counts["lost"], counts["total"]) == (1, 1, 2)


def test_different_networks_are_never_averaged():
    trials = trials_frame([frozen(attributes(seed=0, params=96_000, val_error=5.0)),
                           frozen(attributes(seed=1, params=97_000, val_error=7.0))])
    assert sorted(aggregate_seeds(trials)["params"]) == [96_000, 97_000]


def test_teachers_aggregate_separately(study):
    trials = load_trials(study)
    teachers = aggregate_seeds(trials, teachers=True)
    assert teachers["substitute"].tolist() == ["conv"] and teachers["val_error_mean"].iloc[0] == pytest.approx(4.5)
    assert teacher_error(trials) == pytest.approx(4.5)
    assert teacher_error(trials[trials["role"] != "teacher"]) is None


def test_status_counts_include_every_trial(study):
    counts = status_counts(load_trials(study)).set_index(["role", "substitute", "budget"])
    assert counts.loc[("student", "shuffle", "0.2M"), ["complete", "failed", "total"]].tolist() == [2, 1, 3]
    assert counts.loc[("student", "tucker", "0.2M"), ["complete", "pruned", "total"]].tolist() == [3, 1, 4]
    assert counts.loc[("teacher", "conv", "-"), "complete"] == 2
    assert counts["total"].sum() == 21


def test_problem_trials_lists_failed_pruned_unfinished_and_short_runs(study):
    trials = load_trials(study)
    problems = problem_trials(trials)
    assert sorted(problems["problem"]) == ["failed", "pruned"]
    assert problems.set_index("problem").loc["failed", "message"] == FAILED_MESSAGE
    import optuna

    extra = [frozen(attributes(epochs_run=1)),  # "complete" but stopped short of the planned 2 epochs
             optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, user_attrs={}),  # crashed before recording
             frozen(attributes())]
    fresh = optuna.create_study()
    for trial in extra:
        fresh.add_trial(trial)
    listed = problem_trials(load_trials(fresh))
    assert listed["number"].tolist() == [0, 1]
    assert listed["problem"].tolist() == ["ran 1 of 2 planned epochs", "no status recorded (Optuna state FAIL)"]


def test_planned_epochs_finds_the_shallowest_key():
    assert planned_epochs({"epochs": 3, "train": {"epochs": 9}}) == 3
    assert planned_epochs({"a": {"b": {"epochs": 4}}, "c": 1}) == 4
    assert planned_epochs({"epochs": True}) is None and planned_epochs(None) is None


def test_missing_column_names_it():
    trials = trials_frame([frozen(attributes())]).drop(columns=["seed"])
    with pytest.raises(ConfigError, match="seed"):
        aggregate_seeds(trials)


def test_trials_without_a_record_are_labelled_by_their_optuna_state():
    import optuna

    study = optuna.create_study()
    queued = attributes(status=None, val_error=None, epochs_run=None)
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.WAITING, user_attrs=queued))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING, user_attrs=queued))
    study.add_trial(frozen(attributes(status="oom", val_error=None)))
    trials = load_trials(study)
    assert status_labels(trials).tolist() == ["waiting", "running", "oom"]
    counts = status_counts(trials).iloc[0]
    assert (counts["oom"], counts["running"], counts["waiting"], counts["total"]) == (1, 1, 1, 3)
    assert problem_trials(trials)["problem"].tolist() == [
        "waiting (queued, not started)", "running (no result yet, or its worker died)", "oom"]


def test_a_trial_that_serves_two_budgets_is_a_point_at_each():
    from budgetsearch.analysis import missing_points

    served = [{"budget": "0.1M", "budget_params": 100_000, "budget_mult_adds": None},
              {"budget": "0.12M", "budget_params": 120_000, "budget_mult_adds": None}]
    trials = trials_frame([frozen(attributes(substitute="shuffle", setting=2, params=90_000, budgets=served)),
                           frozen(attributes(substitute="acdc", setting=4, params=95_000, status="pruned",
                                             val_error=None))])
    points = aggregate_seeds(trials).set_index("budget")
    assert list(points.index) == ["0.1M", "0.12M"]  # the pruned acdc trial is no point
    assert points.loc["0.12M", "trained_at"] == "0.1M" and points.loc["0.1M", "trained_at"] is None
    assert points.loc["0.1M", "fill"] == pytest.approx(0.9) and points.loc["0.12M", "fill"] == pytest.approx(0.75)
    assert points.loc["0.1M", "val_error_mean"] == points.loc["0.12M", "val_error_mean"] == 9.0
    counts = status_counts(trials).set_index(["substitute", "budget"])
    assert counts.loc[("shuffle", "0.12M"), "complete"] == 1 and counts.loc[("shuffle", "0.12M"), "budget_params"] == 120_000
    assert missing_points(trials) == {"acdc": "0.1M pruned"}
