"""End-to-end runs of tiny studies on digits: every attribute recorded, workers share a study, runs resume."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import optuna
import pytest
from optuna.trial import TrialState

from budgetsearch import cli
from budgetsearch.study import TRIAL_ATTRIBUTES, open_storage
from budgetsearch.study._owners import OWNER_ATTR


def trials_of(name, runs_dir):
    storage = open_storage(None, name, runs_dir=runs_dir)
    return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)


def recorded_per_cell(trials):
    return Counter(t.user_attrs["cell"] for t in trials if t.state != TrialState.WAITING
                   and t.user_attrs.get("status") is not None and not t.user_attrs.get("lost"))


def test_four_cells_two_workers_every_attribute_once(write_study, runs_dir, dense_wrn_10_1_digits, capsys):
    path = write_study(name="four", epochs=3)  # trials long enough that the second worker's start-up overlaps them
    assert cli.main(["run", str(path), "--workers", "2", "--runs-dir", str(runs_dir), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["skipped"] == [] and printed["worker_exit_codes"] == [0, 0] and printed["queued"] == 4

    trials = trials_of("four", runs_dir)
    assert (runs_dir / "four" / "journal.log").is_file()
    assert len(trials) == 4 and all(t.state == TrialState.COMPLETE for t in trials)
    cells = {f"{s}|{b}|0" for s in ("generic", "tucker") for b in ("0.1x", "0.2x")}
    assert sorted(t.user_attrs["cell"] for t in trials) == sorted(cells)  # each cell exactly once
    # Two worker processes shared the queue (each names itself on the trials it claims).
    assert len({t.system_attrs[OWNER_ATTR] for t in trials}) == 2
    for t in trials:
        a = t.user_attrs
        assert set(TRIAL_ATTRIBUTES) <= set(a)
        fraction = float(a["budget"].rstrip("x"))
        assert a["dense_params"] == dense_wrn_10_1_digits
        assert a["budget_params"] == math.floor(fraction * dense_wrn_10_1_digits)
        assert 0 < a["params"] <= a["budget_params"]
        assert (a["model"], a["dataset"], a["seed"], a["role"], a["status"]) == ("wrn-10-1", "digits", 0, "student",
                                                                              "complete")
        assert a["cell"] == f"{a['substitute']}|{a['budget']}|0" and a["setting"] is not None
        assert a["budget_mult_adds"] is None and a["mult_adds"] > 0 and a["dense_mult_adds"] > a["mult_adds"]
        assert a["convention"]["input_size"] == [1, 8, 8]
        assert 0 <= a["val_error"] <= 100 and 0 <= a["test_error"] <= 100 and a["train_error"] is not None
        assert a["val_top5_error"] <= a["val_error"] and a["test_top5_error"] <= a["test_error"]
        assert t.value == a["val_error"]  # the objective
        assert a["epochs_run"] == 3 and a["wall_time"] > 0 and isinstance(a["message"], str) and a["lost"] is False
        assert a["config"]["train"]["epochs"] == 3 and a["config"]["train"]["validation_size"] == 60
        assert a["config"]["substitute"] == a["substitute"] and a["config"]["setting"] == a["setting"]
        assert list(t.intermediate_values) == [1, 2, 3]  # the per-epoch validation error was reported

    # Running the same command again trains nothing: every cell is recorded.
    assert cli.main(["run", str(path), "--runs-dir", str(runs_dir), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["queued"] == 0 and again["worker_exit_codes"] == []  # a finished study starts no workers
    assert len(trials_of("four", runs_dir)) == 4
    assert cli.main(["status", str(path), "--runs-dir", str(runs_dir), "--json"]) == 0
    progress = json.loads(capsys.readouterr().out)["progress"]
    assert (progress["total"], progress["done"], progress["statuses"]) == (4, 4, {"complete": 4})


def test_status_of_a_study_never_run(write_study, runs_dir, capsys):
    path = write_study(name="never")
    assert cli.main(["status", str(path), "--runs-dir", str(runs_dir)]) == 2  # not started: an error, one line
    assert "has not been started" in capsys.readouterr().err


def test_a_worker_for_a_study_never_run(runs_dir, capsys):
    assert cli.main(["worker", "--study", "nowhere", "--runs-dir", str(runs_dir)]) == 2
    assert "has not been started" in capsys.readouterr().err
    assert not (runs_dir / "nowhere").exists()  # nothing created on the way


def test_infeasible_cells_are_skipped_before_training(write_study, runs_dir, capsys):
    # shuffle cannot grow to 90 % of a dense wrn-10-1 (a grouped 1x1 plus depthwise is far smaller than a 3x3 conv).
    path = write_study(name="skip", substitutes=("shuffle",), budgets=("0.9x",))
    assert cli.main(["run", str(path), "--runs-dir", str(runs_dir)]) == cli.EXIT_TRIALS_FAILED  # nothing to train
    captured = capsys.readouterr()
    assert "skipped shuffle at 0.9x:" in captured.out and "0.9x" in captured.out
    assert len(captured.err.strip().splitlines()) == 1  # no progress bar for no trial, one line
    assert captured.err.startswith("budgetsearch run: nothing to train: all 1 cells of study 'skip' were skipped")
    assert trials_of("skip", runs_dir) == []


def test_a_study_whose_every_cell_falls_short_of_min_fill_exits_3_with_one_line(write_study, runs_dir, capsys):
    from budgetsearch.solver import solve_budget

    substitutes, budgets = ("generic", "tucker"), ("0.1x", "0.2x")
    fills = [solve_budget("wrn-10-1", s, b, num_classes=10, input_size=(1, 8, 8)).fill
             for s in substitutes for b in budgets]
    assert max(fills) < 1  # the solver's own fills: min_fill = 1 skips every cell
    path = write_study(name="short", substitutes=substitutes, budgets=budgets)
    path.write_text("min_fill = 1.0\n" + path.read_text())
    assert cli.main(["run", str(path), "--runs-dir", str(runs_dir)]) == cli.EXIT_TRIALS_FAILED
    captured = capsys.readouterr()
    for substitute in substitutes:
        for budget in budgets:
            assert f"skipped {substitute} at {budget}: {substitute} reaches only" in captured.out
    assert len(captured.err.strip().splitlines()) == 1
    assert "nothing to train: all 4 cells of study 'short' were skipped" in captured.err
    assert "min_fill = 1" in captured.err and "0/0 trials recorded" in captured.out
    assert trials_of("short", runs_dir) == []


def test_killed_run_resumes_with_every_cell_once(write_study, runs_dir):
    # Epochs enough to catch the first trial between two of them (an epoch takes a fraction of a second).
    path = write_study(name="killed", substitutes=("generic",), budgets=("0.1x", "0.2x"), epochs=8)
    command = [sys.executable, "-m", "budgetsearch.cli", "run", str(path), "--runs-dir", str(runs_dir), "--json"]
    run = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:  # wait until a trial is mid-way: running, an epoch's state written
            time.sleep(0.1)
            assert run.poll() is None, "the run ended before it could be killed mid-trial"
            if not (runs_dir / "killed" / "journal.log").is_file():
                continue
            running = [t for t in trials_of("killed", runs_dir) if t.state == TrialState.RUNNING]
            if running and running[0].intermediate_values and any((runs_dir / "killed" / "resume").glob("*.pt")):
                break
        else:
            pytest.fail("no trial reached its first epoch in time")
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the run and its worker, mid-trial
        run.wait()
    time.sleep(0.5)
    killed = [t for t in trials_of("killed", runs_dir) if t.state == TrialState.RUNNING]
    assert len(killed) == 1  # left behind as RUNNING by the dead worker

    assert cli.main(["run", str(path), "--runs-dir", str(runs_dir), "--json"]) == 0
    trials = trials_of("killed", runs_dir)
    assert recorded_per_cell(trials) == {"generic|0.1x|0": 1, "generic|0.2x|0": 1}
    assert all(t.user_attrs["status"] == "complete" for t in trials if not t.user_attrs.get("lost"))
    lost = trials[killed[0].number]
    assert lost.state == TrialState.FAIL and lost.user_attrs["lost"] is True and lost.user_attrs["status"] == "failed"
    assert "no longer running" in lost.user_attrs["message"]
    assert len(trials) == 3  # two cells and one retry of the killed one, nothing else
    retry = trials[-1]
    assert retry.user_attrs["cell"] == lost.user_attrs["cell"]
    assert 1 <= retry.user_attrs["resumed_from_epoch"] < 8  # continued from the killed attempt's last epoch
    assert sorted(retry.intermediate_values) == list(range(1, 9))
    assert list((runs_dir / "killed" / "resume").iterdir()) == []
