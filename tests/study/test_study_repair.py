"""A study whose trials failed: exit status 3 with one line saying why, then repaired with --retry-failed.

It runs in a folder holding json.py, optuna.py and concurrent.py that leave a mark when imported: no process
of the tool may import them in place of the real modules.
"""

import json

import optuna
import pytest
from optuna.trial import TrialState

from budgetsearch import cli
from budgetsearch.study import load_study_config, open_storage, prepare_study

SHADOWS = ("json", "optuna", "concurrent")
STUDY = """
name = "repair"
model = "wrn-10-1"
substitutes = ["generic"]
budgets = ["0.1x"]
[training]
epochs = 1
validation_size = 60
[distillation]
teacher = "teacher.pt"
"""


def trials(runs):
    storage = open_storage(None, "repair", runs_dir=runs)
    return optuna.load_study(study_name="repair", storage=storage).get_trials(deepcopy=False)


def test_failed_trials_exit_3_and_are_trained_again_with_retry_failed(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in SHADOWS:
        (tmp_path / f"{name}.py").write_text(f"open({str(tmp_path / (name + '.imported'))!r}, 'w').close()\n")
    (tmp_path / "teacher.pt").write_bytes(b"not a checkpoint")
    (tmp_path / "repair.toml").write_text(STUDY)
    runs = str(tmp_path / "runs")

    assert cli.main(["run", "repair.toml", "--runs-dir", runs, "--json"]) == cli.EXIT_BAD_INPUT  # nothing queued
    assert "distillation.teacher = 'teacher.pt': cannot read checkpoint" in capsys.readouterr().err
    # Queued from a machine whose teacher was readable; this machine's copy is broken, so its student fails.
    prepare_study(load_study_config(tmp_path / "repair.toml"), None, runs)
    assert cli.main(["worker", "repair.toml", "--runs-dir", runs, "--json"]) == cli.EXIT_TRIALS_FAILED
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("budgetsearch worker: 1 of 1 trials failed (1 x CheckpointError: cannot read checkpoint")
    assert "--retry-failed" in last
    assert cli.main(["worker", "--study", "repair", "--runs-dir", runs, "--json"]) == cli.EXIT_TRIALS_FAILED
    assert "1 of 1 trials failed" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.imported"))  # no worker imported the shadows

    # Fixed: a real teacher. Without --retry-failed the failed cell stays recorded as it was.
    assert cli.main(["train", "--model", "wrn-10-1", "--substitute", "conv", "--epochs", "1", "--save",
                     "teacher.pt", "--overwrite", "--json"]) == 0
    capsys.readouterr()
    assert cli.main(["run", "repair.toml", "--runs-dir", runs, "--json"]) == cli.EXIT_TRIALS_FAILED
    assert json.loads(capsys.readouterr().out)["queued"] == 0
    assert cli.main(["run", "repair.toml", "--runs-dir", runs, "--retry-failed", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["queued"] == 1 and printed["progress"]["statuses"] == {"complete": 1}
    failed, retried = trials(runs)
    assert failed.state == TrialState.FAIL and "CheckpointError" in failed.user_attrs["message"]  # kept as a record
    assert retried.state == TrialState.COMPLETE and retried.user_attrs["cell"] == failed.user_attrs["cell"]
    # A completed cell is never touched: retrying again queues nothing.
    assert cli.main(["run", "repair.toml", "--runs-dir", runs, "--retry-failed", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["queued"] == 0 and len(trials(runs)) == 2
    assert not list(tmp_path.glob("*.imported"))


def test_run_and_worker_help_document_the_exit_statuses(capsys):
    for command in ("run", "worker"):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        assert f"{cli.EXIT_TRIALS_FAILED} trials failed" in capsys.readouterr().out


def test_supervision_polls_every_worker_not_just_up_to_the_first_live_one():
    from budgetsearch.study._run import still_running

    class Worker:
        def __init__(self, code):
            self.code, self.polled = code, 0

        def poll(self):
            self.polled += 1
            return self.code

    workers = [Worker(None), Worker(0), Worker(None), Worker(1)]
    assert still_running(workers) == [workers[0], workers[2]]
    assert [w.polled for w in workers] == [1, 1, 1, 1]  # the finished ones behind a live one are reaped too
