"""What a trial records beyond the plain case: trainer failures, the dense teacher, tuned hyperparameters."""

from pathlib import Path

import optuna
from optuna.trial import TrialState

from budgetsearch import cli
from budgetsearch.data import CIFAR_LAYOUTS
from budgetsearch.study import open_storage
from budgetsearch.training import load_checkpoint


def trials_of(name, runs_dir):
    return optuna.load_study(study_name=name, storage=open_storage(None, name, runs_dir=runs_dir)).get_trials()


def unreadable_cifar(tmp_path) -> Path:
    """A folder with every CIFAR-10 file name, none of them a CIFAR file: the study starts, every trial fails."""
    folder = tmp_path / "not-cifar"
    folder.mkdir()
    for name in ("batches.meta", *CIFAR_LAYOUTS["cifar10"].train_files, CIFAR_LAYOUTS["cifar10"].test_file):
        (folder / name).write_bytes(b"not a pickle")
    return folder


def test_a_failing_trial_is_recorded_and_the_worker_goes_on(write_study, runs_dir, tmp_path):
    path = write_study(name="broken", substitutes=("generic",), budgets=("0.1x", "0.2x"))
    missing = unreadable_cifar(tmp_path)  # read by the trainer only: a failure of every trial
    assert cli.main(["run", str(path), "--runs-dir", str(runs_dir), "--dataset", f"cifar10:{missing}",
                     "--json"]) == cli.EXIT_TRIALS_FAILED
    trials = trials_of("broken", runs_dir)
    assert [t.user_attrs["cell"] for t in trials] == ["generic|0.1x|0", "generic|0.2x|0"]  # both tried, once
    for t in trials:
        assert t.state == TrialState.FAIL and t.user_attrs["status"] == "failed"
        assert str(missing) in t.user_attrs["message"] and t.user_attrs["lost"] is False
        assert t.user_attrs["val_error"] is None and t.user_attrs["config"]["dataset"] == f"cifar10:{missing}"


def test_the_dense_teacher_trains_first_and_students_distill_from_it(write_study, runs_dir):
    path = write_study(name="taught", substitutes=("generic",), budgets=("0.1x",),
                       extra="[distillation]\nteacher = \"train\"\n")
    assert cli.main(["run", str(path), "--runs-dir", str(runs_dir), "--json"]) == 0
    teacher, student = trials_of("taught", runs_dir)
    assert teacher.user_attrs["role"] == "teacher" and teacher.user_attrs["substitute"] == "conv"
    assert teacher.user_attrs["cell"] == "conv|dense|0" and teacher.user_attrs["status"] == "complete"
    assert teacher.user_attrs["params"] == teacher.user_attrs["dense_params"]
    assert teacher.datetime_complete <= student.datetime_start  # the student waited for its teacher
    checkpoint = Path(runs_dir) / "taught" / "teacher.pt"
    assert checkpoint.is_file()
    assert load_checkpoint(str(checkpoint)) is not None
    distill = student.user_attrs["config"]["train"]["distill"]
    assert distill["teacher"] == str(checkpoint) and distill["beta"] == 1e3
    assert teacher.user_attrs["config"]["train"]["distill"] is None
    assert student.user_attrs["status"] == "complete"


def test_tuning_samples_each_trial_within_its_bounds(write_study, runs_dir):
    path = write_study(name="tuned", substitutes=("generic",), budgets=("0.1x",),
                       extra="[tuning]\ntrials = 2\nsampler = \"random\"\n"
                             "lr = {low = 0.01, high = 0.3}\nweight_decay_scale = {low = 0.5, high = 2.0}\n")
    assert cli.main(["run", str(path), "--runs-dir", str(runs_dir), "--json"]) == 0
    trials = trials_of("tuned", runs_dir)
    assert [t.user_attrs["tuning_trial"] for t in trials] == [0, 1]
    for t in trials:
        lr, scale = t.params["lr"], t.params["weight_decay_scale"]
        assert 0.01 <= lr <= 0.3 and 0.5 <= scale <= 2.0
        train = t.user_attrs["config"]["train"]
        assert train["lr"] == lr and abs(train["weight_decay"] - 5e-4 * scale) < 1e-12
    assert trials[0].params != trials[1].params


def test_students_of_a_failed_teacher_fail_with_its_reason(write_study, runs_dir, tmp_path):
    path = write_study(name="orphans", substitutes=("generic",), budgets=("0.1x",),
                       extra="[distillation]\nteacher = \"train\"\n")
    missing = unreadable_cifar(tmp_path)
    assert cli.main(["run", str(path), "--runs-dir", str(runs_dir), "--dataset", f"cifar10:{missing}",
                     "--json"]) == cli.EXIT_TRIALS_FAILED
    teacher, student = trials_of("orphans", runs_dir)
    assert teacher.user_attrs["role"] == "teacher" and teacher.user_attrs["status"] == "failed"
    assert student.user_attrs["status"] == "failed" and student.state == TrialState.FAIL
    assert student.user_attrs["message"].startswith(f"teacher trial {teacher.number} ended failed: ")
    assert str(missing) in student.user_attrs["message"]
