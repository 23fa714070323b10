"""Exactly-once queueing and claiming, lost-trial recovery on the journal file, and run options; no training."""

import optuna
import pytest
from optuna.trial import TrialState

from budgetsearch.errors import ConfigError
from budgetsearch.study import RunOptions, enqueue_missing, load_study_config, open_storage, parse_devices, \
    prepare_study
from budgetsearch.study._cells import cell_name
from budgetsearch.study import TRIAL_ATTRIBUTES
from budgetsearch.study._owners import OWNER_ATTR, OwnerLock, owner_alive
from budgetsearch.study._queue import JournalOwnerCheck, claim, claimable
from budgetsearch.study._run import worker_devices


def rows(cells, role="student"):
    return [dict.fromkeys(TRIAL_ATTRIBUTES) | {"cell": c, "role": role, "lost": False, "budget": c.split("|")[1]}
            for c in cells]


@pytest.fixture
def study(tmp_path):
    storage = open_storage(None, "queue", runs_dir=tmp_path)
    return optuna.create_study(study_name="queue", storage=storage, direction="minimize")


def test_enqueue_is_idempotent(study):
    cells = [cell_name("tucker", b, 0) for b in ("0.1x", "0.2x", "0.3x")]
    assert enqueue_missing(study, rows(cells)) == 3
    assert enqueue_missing(study, rows(cells)) == 0  # a second run queues nothing
    assert enqueue_missing(study, rows(cells + ["acdc|0.1x|0"])) == 1  # a new cell only
    trials = study.get_trials()
    assert [t.user_attrs["cell"] for t in trials] == cells + ["acdc|0.1x|0"]
    assert all(t.state == TrialState.WAITING for t in trials)


def test_two_claims_never_take_one_trial(study):
    enqueue_missing(study, rows(["a|1|0", "b|1|0"]))
    seen = study._storage.get_all_trials(study._study_id)  # both workers read the queue at the same moment
    first = claim(study._storage, seen, "worker-1")
    second = claim(study._storage, seen, "worker-2")  # its view is stale: trial 0 is already taken
    third = claim(study._storage, study._storage.get_all_trials(study._study_id), "worker-3")
    assert (first.number, second.number, third) == (0, 1, None)
    assert study.trials[0].system_attrs[OWNER_ATTR] == "worker-1"
    assert study.trials[1].system_attrs[OWNER_ATTR] == "worker-2"


def test_students_wait_for_the_teacher(study):
    enqueue_missing(study, rows(["conv|dense|0"], role="teacher") + rows(["a|1|0", "b|1|0"]))
    storage = study._storage
    assert [t.number for t in claimable(storage.get_all_trials(study._study_id))] == [0]  # the teacher first
    teacher = claim(storage, storage.get_all_trials(study._study_id), "w")
    assert teacher.user_attrs["role"] == "teacher"
    assert claimable(storage.get_all_trials(study._study_id)) == []  # students blocked while it runs
    storage.set_trial_user_attr(teacher._trial_id, "status", "complete")
    storage.set_trial_state_values(teacher._trial_id, TrialState.COMPLETE, [5.0])
    assert [t.number for t in claimable(storage.get_all_trials(study._study_id))] == [1, 2]


def test_a_dead_owners_trial_is_failed_and_queued_again(study, tmp_path):
    enqueue_missing(study, rows(["a|1|0"]))
    owners = tmp_path / "owners"
    live = OwnerLock(owners)
    dead = OwnerLock(owners)
    trial = claim(study._storage, study._storage.get_all_trials(study._study_id), dead.token)
    check = JournalOwnerCheck(owners)
    assert owner_alive(owners, dead.token) and check.recover(study, study.get_trials()) == 0
    dead.release()  # what the kernel does when the process dies
    assert not owner_alive(owners, dead.token) and owner_alive(owners, live.token)
    assert check.recover(study, study.get_trials()) == 1
    assert check.recover(study, study.get_trials()) == 0  # handled once only
    lost, copy = study.get_trials()
    assert lost.number == trial.number and lost.state == TrialState.FAIL
    assert lost.user_attrs["lost"] is True and lost.user_attrs["status"] == "failed"
    assert dead.token in lost.user_attrs["message"]
    assert copy.state == TrialState.WAITING and copy.user_attrs["cell"] == "a|1|0" and copy.user_attrs["lost"] is False
    assert copy.user_attrs["status"] is None
    live.release()


def test_prepare_queues_each_cell_once_and_refuses_changed_settings(write_study, runs_dir):
    path = write_study(name="prep", substitutes=("generic", "tucker"), budgets=("0.1x", "0.2x"),
                       extra="[distillation]\nteacher = \"train\"\n")
    config = load_study_config(path)
    study, plan, queued = prepare_study(config, None, runs_dir)
    assert queued == 5 and len(plan.solved) == 4 and plan.skipped == ()
    roles = [t.user_attrs["role"] for t in study.get_trials()]
    assert roles == ["teacher"] + ["student"] * 4  # the teacher is queued first
    assert prepare_study(config, None, runs_dir)[2] == 0
    changed = config.replace({"training.epochs": 3})
    with pytest.raises(ConfigError, match=r"already exists .* different settings \(training.epochs\); continuing it "
                                          r"would mix results: training.epochs would change trials that hold results "
                                          r"or are queued"):
        prepare_study(changed, None, runs_dir)


def test_tuning_queues_trials_per_cell(write_study, runs_dir):
    path = write_study(name="tune", substitutes=("generic",), budgets=("0.1x",),
                       extra="[tuning]\ntrials = 3\nlr = {low = 0.01, high = 0.3}\n")
    study, _, queued = prepare_study(load_study_config(path), None, runs_dir)
    assert queued == 3
    assert [(t.user_attrs["cell"], t.user_attrs["tuning_trial"]) for t in study.get_trials()] == \
        [("generic|0.1x|0", i) for i in range(3)]


@pytest.mark.parametrize("devices, workers, expected", [
    ("cpu", None, ("cpu",)), ("cpu", 3, ("cpu",) * 3), ("cuda:0,cuda:1", None, ("cuda:0", "cuda:1")),
    ("cuda:1", 1, ("cuda:1",)),
])
def test_one_worker_per_device(devices, workers, expected):
    assert worker_devices(RunOptions(workers=workers, devices=parse_devices(devices))) == expected


@pytest.mark.parametrize("devices, workers", [("gpu", None), ("cuda:0,cuda:0", None), ("cpu,cuda:0", None),
                                              ("cuda:0,cuda:1", 3), ("cpu", 0)])
def test_bad_devices_or_workers(devices, workers):
    with pytest.raises(ConfigError, match=r"^(devices|RunOptions\.workers) must"):  # the settings, not CLI flags
        worker_devices(RunOptions(workers=workers, devices=parse_devices(devices)))


@pytest.mark.parametrize("storage", ["journal", "sqlite"])
def test_two_runs_queueing_at_once_queue_each_cell_once(storage, race_to_queue, tmp_path):
    url = None if storage == "journal" else f"sqlite:///{tmp_path / 'study.db'}"
    queued, per_key = race_to_queue(url, "race", cells=40, runs=2)
    assert sorted(queued) == [0, 40]
    assert len(per_key) == 40 and set(per_key.values()) == {1}
