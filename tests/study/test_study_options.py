"""RunOptions and WorkerOptions refused by the name of the setting (a Python caller has no --flag), before any work."""

import pytest

from budgetsearch.errors import ConfigError
from budgetsearch.study import RunOptions, WorkerOptions, load_study_config, run_study, run_worker


@pytest.mark.parametrize("threads", [0, -2, 1.5, True])
def test_run_threads_must_be_a_whole_number_of_at_least_one(threads, write_study, runs_dir):
    config = load_study_config(write_study())
    with pytest.raises(ConfigError, match=rf"^RunOptions\.threads must be an integer >= 1, but got {threads!r}$"):
        run_study(config, RunOptions(threads=threads, runs_dir=str(runs_dir)))
    assert not runs_dir.exists()  # refused before the study is planned or queued


@pytest.mark.parametrize("threads", [0, 2.0, False])
def test_worker_threads_must_be_a_whole_number_of_at_least_one(threads, runs_dir):
    with pytest.raises(ConfigError, match=rf"^WorkerOptions\.threads must be an integer >= 1, but got {threads!r}$"):
        run_worker(WorkerOptions(study_name="s", threads=threads, runs_dir=str(runs_dir)))
    assert not runs_dir.exists()
