"""A worker: claim trials of one study until none is left, training one at a time on one device.

Workers are separate processes (``budgetsearch worker``, or started by
``run``); any number of them, on any machines that reach the storage, can
share a study. A worker leaves only when nothing is waiting and nothing is
running anywhere, so a trial lost by a dead worker is picked up by a live one.

The storage is data, written by whoever can reach it: a worker builds only
what its own user named. Given the study file (``WorkerOptions.config``), it
refuses a stored study that differs from it before importing anything; given
only the study's name, it runs registered models, and a stored
``package.module:callable`` only if its user named the same reference and
options (``WorkerOptions.models``, ``model_options``).
"""

from __future__ import annotations

import logging
import threading
import time
import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Optional

import optuna
from optuna.trial import TrialState

from ..errors import ConfigError
from ..models import is_reference
from ._config import StudyConfig, parse_study, resolve_model
from ._identity import DATA_ATTR, comparable, config_digest, described_differences
from ._inits import check_same_weights
from ._owners import OwnerLock, new_token
from ._queue import HeartbeatCheck, JournalOwnerCheck, claim, is_recorded
from ._storage import DEFAULT_RUNS_DIR, is_journal, journal_dir, journal_path, open_storage
from ._trial import TrialLost, run_trial

logger = logging.getLogger("budgetsearch.study")

CONFIG_ATTR = "budgetsearch:study"  # study user attribute: the study file's resolved contents


@dataclass(frozen=True)
class WorkerOptions:
    study_name: str
    storage: Optional[str] = None  # an RDB URL or a journal file path; None: runs_dir/<study>/journal.log
    config: Optional[StudyConfig] = None  # the study as this worker's user gave it; the stored one must equal it
    models: tuple = ()  # without config: the package.module:callable references its user named (--model)
    model_options: dict = field(default_factory=dict)  # without config: the options named for a referenced model
    device: str = "cpu"
    runs_dir: str = DEFAULT_RUNS_DIR
    threads: Optional[int] = None  # torch CPU threads; None: torch's default
    poll_interval: float = 1.0  # seconds between looks at the queue while others' trials run


def load_stored_config(storage, study_name: str) -> StudyConfig:
    """The study file's contents as ``run`` stored them with the study: parsed as data, nothing imported."""
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        raise ConfigError(f"no study named {study_name!r} in this storage; start it with `budgetsearch run "
                          f"STUDY.toml` (on the same storage)") from None
    data = storage.get_study_user_attrs(study_id).get(CONFIG_ATTR)
    if data is None:
        raise ConfigError(f"study {study_name!r} was not created by `budgetsearch run` (it has no {CONFIG_ATTR!r})")
    return parse_study(data, f"study {study_name!r} in storage")


def trusted_config(stored: StudyConfig, options: WorkerOptions) -> StudyConfig:
    """The study this worker may run: its user's own (equal to the stored one), or the stored one if every
    reference in it, with the model's options, is one its user named. Resolved (imported) only then."""
    if options.config is not None:
        local = options.config
        if config_digest(local) != config_digest(stored):
            differences = described_differences(comparable(stored.to_dict()), comparable(local.to_dict()),
                                                labels=("stored", "in the file"))
            raise ConfigError(f"study {options.study_name!r} in this storage differs from {local.source} in "
                              f"{differences}; a worker runs only the study its user gave it: use the file (and "
                              f"--set values) the study was started with")
        return resolve_model(local)
    named = set(options.models)
    stored_references = [m for m in (stored.model, stored.distillation.teacher_model) if m and is_reference(m)]
    unnamed = [m for m in stored_references if m not in named]
    if unnamed:
        raise ConfigError(f"study {options.study_name!r} in this storage names the model {unnamed[0]!r}, and a worker "
                          f"imports only what its user named: start it with the study file (`budgetsearch worker "
                          f"STUDY.toml`) or name the model (--model {unnamed[0]})")
    if is_reference(stored.model) and stored.model_options != dict(options.model_options):
        raise ConfigError(f"study {options.study_name!r} in this storage builds {stored.model!r} with options "
                          f"{stored.model_options}, but this worker was given {dict(options.model_options)}; name the "
                          f"same options (--model-option KEY=VALUE) or start it with the study file")
    return resolve_model(dataclasses.replace(stored, model_path=None))  # never a search path read from storage


def _check_same_data(study: optuna.Study, config: StudyConfig) -> None:
    from ..data import dataset_fingerprint

    recorded = study.user_attrs.get(DATA_ATTR)
    if recorded is not None and recorded != dataset_fingerprint(config.dataset):
        raise ConfigError(f"{config.source}: dataset = {config.dataset!r} holds other data than study {config.name!r} "
                          f"was started with (its files' contents differ); point --dataset at the same data on this "
                          f"machine")
    check_same_weights(study, config, record=False)


def check_threads(threads, setting: str) -> None:
    """torch CPU threads must be a whole number >= 1; ``setting`` names where the value came from."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"{setting} must be an integer >= 1, but got {threads!r}")


def run_worker(options: WorkerOptions, on_trial: Optional[Callable[[str, dict], None]] = None) -> int:
    """Train trials until the study has none waiting or running; returns how many this worker trained.

    ``on_trial(event, user_attrs)`` is called with "start" and with the final status of each trial.
    """
    if options.threads is not None:
        check_threads(options.threads, "WorkerOptions.threads")
        import torch

        torch.set_num_threads(options.threads)
    if is_journal(options.storage) and not journal_path(options.storage, options.study_name, options.runs_dir).is_file():
        raise ConfigError(f"study {options.study_name!r} has not been started: no journal file "
                          f"{str(journal_path(options.storage, options.study_name, options.runs_dir))!r}; start it "
                          f"with `budgetsearch run STUDY.toml`")
    config = trusted_config(load_stored_config(open_storage(options.storage, options.study_name,
                                                            runs_dir=options.runs_dir), options.study_name), options)
    # Opened again with the heartbeat settings, which travel with the stored study.
    storage = open_storage(options.storage, options.study_name, runs_dir=options.runs_dir,
                           heartbeat_interval=config.storage.heartbeat_interval,
                           grace_period=config.storage.grace_period)
    study = optuna.load_study(study_name=options.study_name, storage=storage)
    if options.config is not None:  # its data set is where this machine keeps it: the same data, by content
        _check_same_data(study, config)
    storage = study._storage  # Optuna's cached wrapper of an RDB storage: every read and write goes through it
    journal = is_journal(options.storage)
    owners = OwnerLock(journal_dir(options.storage, options.study_name, options.runs_dir) / "owners") if journal else None
    grace = config.storage.grace_period or 2 * config.storage.heartbeat_interval  # Optuna's default grace
    check = JournalOwnerCheck(owners.folder) if journal else HeartbeatCheck(grace)
    token = owners.token if journal else new_token()  # on RDB only a record of who trained what
    trained = 0
    try:
        while True:
            trials = storage.get_all_trials(study._study_id, deepcopy=False)
            recovered = check.recover(study, trials)
            if recovered:
                trials = storage.get_all_trials(study._study_id, deepcopy=False)
            trial = claim(storage, trials, token)
            if trial is None:
                if not any(t.state in (TrialState.WAITING, TrialState.RUNNING) for t in trials):
                    return trained
                time.sleep(options.poll_interval)
                continue
            trained += 1
            if on_trial is not None:
                on_trial("start", trial.user_attrs)
            status = _train_claimed(study, config, trial, trials, options, journal)
            if on_trial is not None:
                on_trial(status, storage.get_trial(trial._trial_id).user_attrs)
    finally:
        if owners is not None:
            owners.release()


def _train_claimed(study, config, trial, trials, options: WorkerOptions, journal: bool) -> str:
    heartbeat = None if journal else _Heartbeat(study._storage, trial._trial_id, config.storage.heartbeat_interval)
    try:
        return run_trial(study, config, trial._trial_id, device=options.device, runs_dir=options.runs_dir,
                         teacher_failure=_teacher_failure(trials, trial))
    except TrialLost as lost:
        logger.warning("%s; its copy is queued", lost)
        return "lost"
    finally:
        if heartbeat is not None:
            heartbeat.stop()


def _teacher_failure(trials, trial) -> Optional[str]:
    """Why a student cannot be distilled: its teacher trial ended without a usable checkpoint."""
    if trial.user_attrs.get("role") != "student":
        return None
    teachers = [t for t in trials if t.user_attrs.get("role") == "teacher" and is_recorded(t)]
    if teachers and not any(t.user_attrs.get("status") == "complete" for t in teachers):
        t = teachers[-1]
        return f"teacher trial {t.number} ended {t.user_attrs.get('status')}: {t.user_attrs.get('message')}"
    return None


class _Heartbeat:
    """Records the trial's heartbeat now and every ``interval`` seconds until stopped (RDB storage)."""

    def __init__(self, storage, trial_id: int, interval: int):
        self._storage, self._trial_id, self._interval = storage, trial_id, interval
        self._stop = threading.Event()
        storage.record_heartbeat(trial_id)
        self._thread = threading.Thread(target=self._beat, daemon=True, name=f"heartbeat-{trial_id}")
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._storage.record_heartbeat(self._trial_id)
            except Exception:  # noqa: BLE001  (a missed beat is retried; the trial must not die of it)
                logger.warning("heartbeat of trial %d failed", self._trial_id, exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
