"""Recoverable after a fix: a study's settings changed after its cells failed are taken by `run --retry-failed`,
recorded with the old and new values, and refused when they would reach a trial that holds a result."""

import datetime

import optuna
import pytest
from optuna.trial import TrialState

from budgetsearch import cli
from budgetsearch.errors import ConfigError
from budgetsearch.study import load_study_config, open_storage, prepare_study
from budgetsearch.study._amend import AMENDMENTS_ATTR
from budgetsearch.study._worker import CONFIG_ATTR

CELLS = {"generic|0.1x|0", "generic|0.2x|0"}


def record(study, trial, status):
    """Finish ``trial`` as a worker records it: claimed, its status and message written, then its state."""
    storage = study._storage
    storage.set_trial_state_values(trial._trial_id, state=TrialState.RUNNING)
    storage.set_trial_user_attr(trial._trial_id, "status", status)
    storage.set_trial_user_attr(trial._trial_id, "message", f"recorded by the test as {status}")
    if status == "failed":
        storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
    else:
        storage.set_trial_state_values(trial._trial_id, state=TrialState.COMPLETE, values=[50.0])


def started(write_study, runs_dir, statuses: dict, extra=""):
    """A study queued by `run`, whose trials of each role are then recorded with ``statuses[role]``."""
    path = write_study(name="fix", substitutes=("generic",), budgets=("0.1x", "0.2x"), extra=extra)
    config = load_study_config(path)
    study = prepare_study(config, None, runs_dir)[0]
    for trial in study.get_trials():
        record(study, trial, statuses[trial.user_attrs["role"]])
    return path, config


def test_a_training_setting_changed_after_every_cell_failed_is_taken_and_recorded(write_study, runs_dir):
    path, config = started(write_study, runs_dir, {"student": "failed"})
    fixed = config.replace({"training.lr": 0.05, "training.batch_size": 64})
    with pytest.raises(ConfigError, match=r"different settings \(training.batch_size, training.lr\); every trial they "
                                          r"reach failed: `run --retry-failed` takes the change"):
        prepare_study(fixed, None, runs_dir)  # without --retry-failed: said how, nothing changed

    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    study, _, queued = prepare_study(fixed, None, runs_dir, retry_failed=True)
    assert queued == len(CELLS)
    amendments = study.user_attrs[AMENDMENTS_ATTR]
    assert [(a["key"], a["old"], a["new"]) for a in amendments] == [("training.batch_size", 128, 64),
                                                                    ("training.lr", config.training.lr, 0.05)]
    assert all(before <= datetime.datetime.fromisoformat(a["time"]) for a in amendments)
    assert study.user_attrs[CONFIG_ATTR] == fixed.to_dict()  # workers read the new settings
    waiting = [t for t in study.get_trials() if t.state == TrialState.WAITING]
    assert {t.user_attrs["cell"] for t in waiting} == CELLS  # each failed cell once more; its failure stays a record
    assert prepare_study(fixed, None, runs_dir, retry_failed=True)[2] == 0  # the same settings again: nothing new


def test_a_change_reaching_a_complete_trial_is_refused_naming_the_keys(write_study, runs_dir):
    path, config = started(write_study, runs_dir, {"student": "failed"})
    study = optuna.load_study(study_name="fix", storage=open_storage(None, "fix", runs_dir=runs_dir))
    first = study.get_trials()[0]
    study.add_trial(optuna.trial.create_trial(state=TrialState.COMPLETE, value=40.0,
                                              user_attrs=first.user_attrs | {"status": "complete", "lost": False}))
    with pytest.raises(ConfigError, match=r"mix results: training.lr would change trials that hold results or are "
                                          rf"queued with the old settings \(trial 2, cell '{first.user_attrs['cell']}'"
                                          r": complete\)"):
        prepare_study(config.replace({"training.lr": 0.05}), None, runs_dir, retry_failed=True)
    assert AMENDMENTS_ATTR not in study.user_attrs and study.user_attrs[CONFIG_ATTR] == config.to_dict()


def test_a_students_setting_is_taken_when_only_the_teacher_completed(write_study, runs_dir):
    distilled = "[distillation]\nteacher = \"train\"\n"
    path, config = started(write_study, runs_dir, {"teacher": "complete", "student": "failed"}, distilled)
    amended = config.replace({"distillation.alpha": 0.5})
    study, _, queued = prepare_study(amended, None, runs_dir, retry_failed=True)
    assert queued == len(CELLS)  # the students again; the complete teacher is kept
    assert [(a["key"], a["old"], a["new"]) for a in study.user_attrs[AMENDMENTS_ATTR]] == \
        [("distillation.alpha", 0.0, 0.5)]
    # the teacher trained with these: refused
    with pytest.raises(ConfigError, match=r"training.epochs would change trials .* \(trial 0, cell 'conv\|dense\|0'"):
        prepare_study(amended.replace({"training.epochs": 2}), None, runs_dir, retry_failed=True)


def test_an_option_the_optimizer_ignores_reaches_no_trial(write_study, runs_dir):
    path, config = started(write_study, runs_dir, {"student": "complete"})
    study = optuna.load_study(study_name="fix", storage=open_storage(None, "fix", runs_dir=runs_dir))
    stored = config.to_dict()
    # as an earlier version stored it: SGD with betas, which it silently ignored (refused at load since)
    stored["training"]["betas"] = [0.9, 0.99]
    study.set_user_attr(CONFIG_ATTR, stored)
    assert prepare_study(config, None, runs_dir)[2] == 0  # taken without --retry-failed: no result changes
    assert [(a["key"], a["old"], a["new"]) for a in study.user_attrs[AMENDMENTS_ATTR]] == \
        [("training.betas", [0.9, 0.99], [0.9, 0.999])]


def test_a_study_that_trained_nothing_takes_a_lower_min_fill(write_study, runs_dir):
    path = write_study(name="short", substitutes=("generic",), budgets=("0.1x",))
    path.write_text("min_fill = 1.0\n" + path.read_text())  # the solver's fill is under 1: every cell skipped
    config = load_study_config(path)
    assert prepare_study(config, None, runs_dir)[2] == 0
    study, _, queued = prepare_study(config.replace(min_fill=0.5), None, runs_dir)
    assert queued == 1 and [(a["key"], a["old"], a["new"]) for a in study.user_attrs[AMENDMENTS_ATTR]] == \
        [("min_fill", 1.0, 0.5)]


def test_run_retry_failed_trains_the_fixed_cells(write_study, runs_dir, capsys):
    path, config = started(write_study, runs_dir, {"student": "failed"})
    path.write_text(path.read_text().replace("batch_size = 128", "batch_size = 64"))  # the fix
    argv = ["run", str(path), "--runs-dir", str(runs_dir)]
    assert cli.main(argv) == cli.EXIT_BAD_INPUT
    assert "`run --retry-failed` takes the change" in capsys.readouterr().err
    assert cli.main(argv + ["--retry-failed"]) == 0
    trials = optuna.load_study(study_name="fix", storage=open_storage(None, "fix", runs_dir=runs_dir)).get_trials()
    complete = [t for t in trials if t.user_attrs["status"] == "complete"]
    assert {t.user_attrs["cell"] for t in complete} == CELLS and len(complete) == len(CELLS)
    assert all(t.user_attrs["config"]["train"]["batch_size"] == 64 for t in complete)
    assert sorted(t.user_attrs["status"] for t in trials) == ["complete"] * 2 + ["failed"] * 2
