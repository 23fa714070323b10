"""Workers on PostgreSQL: two `budgetsearch worker` processes share a study; a killed worker's trial is retried.

Needs the PostgreSQL server on 127.0.0.1 (trust auth). Skips when none is
reachable, fails instead when BUDGETSEARCH_REQUIRE_POSTGRES=1 (CI sets it).
"""

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import optuna
from optuna.trial import TrialState

from budgetsearch.study import load_study_config, open_storage, prepare_study
from budgetsearch.study._owners import OWNER_ATTR

def start_worker(url, name, runs_dir):
    return subprocess.Popen([sys.executable, "-m", "budgetsearch.cli", "worker", "--storage", url, "--study", name,
                             "--runs-dir", str(runs_dir), "--threads", "1"],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_two_workers_share_a_study_and_retry_a_killed_workers_trial(postgres_database, write_study, runs_dir):
    # Epochs enough that both workers are surely mid-trial together (an epoch takes a fraction of a second).
    path = write_study(name="pg", substitutes=("generic",), budgets=("0.1x", "0.2x", "0.3x"), epochs=10,
                       extra="[storage]\nheartbeat_interval = 1\ngrace_period = 4\n")
    config = load_study_config(path)
    prepare_study(config, postgres_database, runs_dir)
    storage = open_storage(postgres_database, "pg")
    study = optuna.load_study(study_name="pg", storage=storage)
    workers = [start_worker(postgres_database, "pg", runs_dir) for _ in range(2)]
    try:
        victim = None
        deadline = time.monotonic() + 240
        while victim is None and time.monotonic() < deadline:  # both workers busy, one trial past its first epoch
            time.sleep(0.1)
            assert all(w.poll() is None for w in workers), "a worker ended before both were busy"
            running = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.RUNNING]
            if len({t.system_attrs.get(OWNER_ATTR) for t in running}) == 2:
                victim = next((t for t in running if t.intermediate_values), None)
        assert victim is not None, "two workers never ran trials side by side"
        pid = int(victim.system_attrs[OWNER_ATTR].split("-")[-2])
        killed = next(w for w in workers if w.pid == pid)
        os.killpg(killed.pid, signal.SIGKILL)
        survivor = next(w for w in workers if w is not killed)
        _, errors = survivor.communicate(timeout=300)
        assert survivor.returncode == 0, errors.decode()[-2000:]
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()

    trials = study.get_trials(deepcopy=False)
    recorded = Counter(t.user_attrs["cell"] for t in trials if t.user_attrs.get("status") and not t.user_attrs["lost"])
    assert recorded == {"generic|0.1x|0": 1, "generic|0.2x|0": 1, "generic|0.3x|0": 1}  # every cell exactly once
    assert all(t.state == TrialState.COMPLETE for t in trials if not t.user_attrs["lost"])
    lost = study._storage.get_trial(victim._trial_id)
    assert lost.state == TrialState.FAIL and lost.user_attrs["lost"] is True and "heartbeat" in lost.user_attrs["message"]
    retry = [t for t in trials if t.user_attrs["cell"] == victim.user_attrs["cell"] and not t.user_attrs["lost"]]
    assert len(retry) == 1 and retry[0].system_attrs[OWNER_ATTR] != victim.system_attrs[OWNER_ATTR]  # the survivor
    assert len(trials) == 4  # three cells and one retry


def test_two_runs_queueing_at_once_queue_each_cell_once(postgres_database, race_to_queue):
    queued, per_key = race_to_queue(postgres_database, "race", cells=40, runs=3)
    assert sorted(queued) == [0, 0, 40]
    assert len(per_key) == 40 and set(per_key.values()) == {1}
