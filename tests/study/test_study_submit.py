"""``submit``: workers as a job array through submitit's local executor (Slurm's code path without a cluster),
one of them preempted mid-trial and requeued; the sbatch script of --dry-run; refused inputs."""

import os
import signal
import time
from collections import Counter

import optuna
import pytest
from optuna.trial import TrialState

from budgetsearch import cli
from budgetsearch.study import SubmitOptions, load_study_config, open_storage, parse_time_minutes, submit_study
from budgetsearch.study._owners import OWNER_ATTR
from budgetsearch.study._trial import resume_path

EPOCHS = 4


def trials_of(name, runs_dir):
    storage = open_storage(None, name, runs_dir=runs_dir)
    return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)


def wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"{what} did not happen within {seconds} s")


def test_local_array_finishes_every_cell_once_with_a_preempted_worker_requeued(write_study, runs_dir):
    path = write_study(name="array", epochs=EPOCHS)  # 2 substitutes x 2 budgets
    config = load_study_config(path)
    report = submit_study(config, SubmitOptions(tasks=3, scheduler="local", runs_dir=str(runs_dir), threads=1,
                                                time_min=30))
    assert report.queued == 4 and len(report.jobs) == 3

    def mid_trial():  # a running trial whose first epoch's training state is written
        if not (runs_dir / "array" / "journal.log").is_file():
            return None
        return next((t for t in trials_of("array", runs_dir) if t.state == TrialState.RUNNING
                     and OWNER_ATTR in t.system_attrs and resume_path(config, t.user_attrs, runs_dir).is_file()), None)

    victim = wait_for(mid_trial, 240, "a trial's first epoch")
    pid = int(victim.system_attrs[OWNER_ATTR].split("-")[-2])  # the owner token is host-pid-random
    os.kill(pid, signal.SIGUSR2)  # what Slurm sends before preempting or timing out a task: submitit requeues it
    wait_for(lambda: all(job.done() for job in report.jobs), 400, "every worker's end")
    assert [job.state for job in report.jobs] == ["FINISHED"] * 3
    assert sum("this job is preempted" in (job.stderr() or "") for job in report.jobs) == 1
    # the preempted task's first run left no result: the run that wrote one is the requeued task's
    assert all(isinstance(job.result(), int) for job in report.jobs)

    trials = trials_of("array", runs_dir)
    recorded = [t for t in trials if not t.user_attrs.get("lost")]
    assert Counter(t.user_attrs["cell"] for t in recorded) == {f"{s}|{b}|0": 1 for s in ("generic", "tucker")
                                                               for b in ("0.1x", "0.2x")}
    assert all(t.state == TrialState.COMPLETE and t.user_attrs["status"] == "complete" for t in recorded)
    [lost] = [t for t in trials if t.user_attrs.get("lost")]
    assert lost.number == victim.number and "no longer running" in lost.user_attrs["message"]
    [copy] = [t for t in recorded if t.user_attrs["cell"] == victim.user_attrs["cell"]]
    assert 1 <= copy.user_attrs["resumed_from_epoch"] < EPOCHS
    assert sorted(copy.intermediate_values) == list(range(1, EPOCHS + 1))  # restored epochs reported again
    assert [t.user_attrs["resumed_from_epoch"] for t in recorded if t is not copy] == [None] * 3
    assert list((runs_dir / "array" / "resume").iterdir()) == []  # every state removed once its trial was recorded


def test_dry_run_prints_the_sbatch_script_and_queues_nothing(write_study, runs_dir, capsys):
    path = write_study(name="dry")
    assert cli.main(["submit", str(path), "--slurm", "--array", "5", "--partition", "gpu", "--gpus-per-task", "1",
                     "--time", "4:00:00", "--runs-dir", str(runs_dir), "--dry-run"]) == 0
    script = capsys.readouterr().out
    assert script.startswith("#!/bin/bash")
    for line in ("#SBATCH --array=0-4%5", "#SBATCH --partition=gpu", "#SBATCH --gpus-per-task=1",
                 "#SBATCH --time=240", "#SBATCH --signal=USR2@90", "-m submitit.core._submit"):
        assert line in script
    assert str(runs_dir.resolve() / "dry" / "submitit") in script
    assert not (runs_dir / "dry").exists()  # nothing solved, queued or written


@pytest.mark.parametrize("text, minutes", [("90", 90), ("90:30", 91), ("4:00:00", 240), ("1-12", 2160),
                                           ("1-12:30", 2190), ("2-0:0:1", 2881)])
def test_time_limits_in_sbatchs_forms(text, minutes):
    assert parse_time_minutes(text) == minutes


@pytest.mark.parametrize("arguments, message", [
    (["--slurm", "--array", "0"], "argument --array: must be an integer >= 1, but got '0'"),
    (["--slurm", "--array", "-2"], "argument --array: must be an integer >= 1"),
    (["--array", "2"], "one of the arguments --slurm --local is required"),
    (["--slurm", "--local", "--array", "2"], "not allowed with argument"),
    (["--slurm", "--array", "2", "--time", "1:2:3:4"], "argument --time: time must be one of sbatch's forms"),
    (["--slurm", "--array", "2", "--time", "0"], "time must be at least one minute"),
    (["--slurm", "--array", "2", "--storage", "sqlite:///study.db", "--dry-run"], "is SQLite, which the workers"),
    (["--local", "--array", "2", "--dry-run"], "--dry-run prints the sbatch script of --slurm"),
    (["--local", "--array", "2", "--gpus-per-task", "1"], "local workers train on the CPU"),
])
def test_bad_submissions_are_refused_in_one_line(write_study, runs_dir, capsys, arguments, message):
    path = write_study(name="bad")
    assert exit_code(["submit", str(path), "--runs-dir", str(runs_dir), *arguments]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not (runs_dir / "bad").exists()


def exit_code(argv) -> int:
    """The exit status, whether argparse (usage errors) or the command (the library's errors) gives it."""
    try:
        return cli.main(argv)
    except SystemExit as exit:
        return exit.code
