"""``run``: solve every cell, queue the study's trials once, start one worker process per device, watch progress.

Running the same study again continues it: cells already recorded are not
queued again, and trials lost with a dead worker are queued again by the
workers (see :mod:`._queue`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import optuna
from optuna.trial import TrialState

from ..data import parse_dataset_spec
from ..errors import BudgetSearchError, ConfigError
from ..training import load_teacher
from ._amend import amend_study
from ._cells import SKIPPED_ATTR, StudyPlan, plan_study, skipped_record
from ._config import StudyConfig, parse_study, resolve_model
from ._identity import DATA_ATTR, changed_settings, comparable
from ._inits import check_same_weights, check_weights
from ._progress import Progress, study_progress, summary_rows
from ._queue import enqueue_missing
from ._storage import DEFAULT_RUNS_DIR, open_storage, queue_lock, storage_errors
from ._worker import CONFIG_ATTR, check_threads



@dataclass(frozen=True)
class RunOptions:
    storage: Optional[str] = None  # None: the study file's storage, else the journal file under runs_dir
    workers: Optional[int] = None  # worker processes; None: one per device (1 on cpu)
    devices: tuple = ("cpu",)  # "cpu" or CUDA devices, each worker process owning one
    runs_dir: str = DEFAULT_RUNS_DIR
    poll_interval: float = 1.0  # seconds between progress reads
    # torch CPU threads per worker. 1: on a shared 2-core machine one thread per worker trained digits
    # trials 4-6x faster than two (benchmarks/scheduling.py); parallelism comes from --workers instead.
    threads: int = 1
    retry_failed: bool = False  # queue again the cells whose trials are recorded as failed


@dataclass(frozen=True)
class RunReport:
    plan: StudyPlan
    queued: int  # trials queued by this run (0 when resuming a study whose trials are all queued)
    progress: Progress
    rows: list  # summary_rows
    worker_exit_codes: tuple
    trials: tuple = ()  # every trial of the study when the run ended


def parse_devices(text: str) -> tuple:
    """``"cpu"`` or ``"cuda:0,cuda:1"`` -> a tuple of device names (``RunOptions.devices``)."""
    devices = tuple(part.strip() for part in str(text).split(",") if part.strip())
    valid = all(d == "cpu" or (d.startswith("cuda:") and d[5:].isdigit()) for d in devices)
    if not devices or not valid or len(set(devices)) != len(devices) or ("cpu" in devices and len(devices) > 1):
        raise ConfigError(f"devices must be 'cpu' or distinct CUDA devices like 'cuda:0,cuda:1', but got "
                          f"{str(text)[:100]!r}")
    return devices


def worker_devices(options: RunOptions) -> tuple:
    """The device of each worker process: CUDA devices one worker each; on cpu, ``workers`` processes."""
    if options.devices == ("cpu",):
        count = 1 if options.workers is None else options.workers
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ConfigError(f"RunOptions.workers must be an integer >= 1, but got {options.workers!r}")
        return ("cpu",) * count
    if options.workers not in (None, len(options.devices)):
        raise ConfigError(f"RunOptions.workers must equal the number of CUDA devices ({len(options.devices)}: one "
                          f"trial per device), but got {options.workers!r}")
    return tuple(options.devices)


def check_runnable(config: StudyConfig, devices: tuple) -> None:
    """Refuse, before anything is queued, a study none of whose trials could start: every one would fail alike."""
    folder = parse_dataset_spec(config.dataset)[1]
    if folder and not Path(folder).is_dir():
        raise ConfigError(f"{config.source}: dataset = {config.dataset!r}: the data folder {folder!r} does not exist "
                          f"or is not a folder")
    teacher = config.distillation.teacher
    if teacher not in ("none", "train"):
        if not Path(teacher).is_file():
            raise ConfigError(f"{config.source}: distillation.teacher = {teacher!r}: no such checkpoint file")
        try:  # readable, and recording the model its user named: told now, not by every trial
            load_teacher(config.distillation.distill_config(teacher), config.model)
        except BudgetSearchError as error:
            raise ConfigError(f"{config.source}: distillation.teacher = {teacher!r}: {error}") from None
    check_weights(config)
    cuda = [d for d in devices if d.startswith("cuda")]
    if cuda:
        import torch

        available = torch.cuda.device_count() if torch.cuda.is_available() else 0
        missing = [d for d in cuda if int(d.partition(":")[2] or 0) >= available]
        if missing:
            raise ConfigError(f"RunOptions.devices = {devices}: {', '.join(missing)} not available "
                              f"(this machine has {available} CUDA device(s)); use devices=('cpu',)")


def prepare_study(config: StudyConfig, storage_url: Optional[str], runs_dir=DEFAULT_RUNS_DIR,
                  on_cell: Optional[Callable] = None, retry_failed: bool = False) -> tuple:
    """Solve the cells, create or reopen the Optuna study, queue what is missing. Returns (study, plan, queued)."""
    plan = plan_study(config, on_cell=on_cell)
    storage = open_storage(storage_url, config.name, runs_dir=runs_dir)
    with storage_errors(storage_url):
        study = optuna.create_study(study_name=config.name, storage=storage, direction="minimize",
                                    load_if_exists=True)
        with queue_lock(storage_url, config.name, runs_dir):
            _check_same_study(study, config, retry_failed)
            queued = enqueue_missing(study, plan.trials(config), plan.distributions(config), retry_failed)
            study.set_user_attr(SKIPPED_ATTR, [skipped_record(cell) for cell in plan.skipped])
    return study, plan, queued


def run_study(config: StudyConfig, options: RunOptions = RunOptions(), *, on_cell: Optional[Callable] = None,
              on_plan: Optional[Callable[[StudyPlan], None]] = None,
              on_progress: Optional[Callable[[Progress], None]] = None) -> RunReport:
    """Run (or continue) the study to its end with worker processes; returns the plan, progress and summary.

    ``on_cell`` reports each solved or skipped cell, ``on_plan`` the whole plan
    before training starts, ``on_progress`` the progress about once per
    ``poll_interval`` while workers run.
    """
    storage_url = options.storage if options.storage is not None else config.storage.url
    config = resolve_model(config)
    devices = worker_devices(options)
    runs_dir = str(Path(options.runs_dir).resolve())
    check_threads(options.threads, "RunOptions.threads")
    check_runnable(config, devices)
    study, plan, queued = prepare_study(config, storage_url, runs_dir, on_cell=on_cell,
                                        retry_failed=options.retry_failed)
    if on_plan is not None:
        on_plan(plan)
    trials = study.get_trials(deepcopy=False)
    pending = any(t.state in (TrialState.WAITING, TrialState.RUNNING) for t in trials)
    processes = [_start_worker(config, storage_url, device, runs_dir, options.threads) for device in devices] \
        if pending else []  # a finished study needs no workers
    try:
        while still_running(processes):
            if on_progress is not None:
                on_progress(study_progress(study.get_trials(deepcopy=False)))
            time.sleep(options.poll_interval)
    finally:
        for process in processes:  # reached early only on an interrupt: take the workers down with the run
            if process.poll() is None:
                process.terminate()
        for process in processes:
            process.wait()
    trials = study.get_trials(deepcopy=False)
    progress = study_progress(trials)
    if on_progress is not None:
        on_progress(progress)
    return RunReport(plan, queued, progress, summary_rows(trials), tuple(p.returncode for p in processes),
                     tuple(trials))


def still_running(processes: list) -> list:
    """The workers still running; every one is polled, so each that finished is reaped at once (no zombie waits)."""
    return [p for p in processes if p.poll() is None]


def _start_worker(config: StudyConfig, storage_url, device: str, runs_dir: str, threads) -> subprocess.Popen:
    # The worker runs this process's study (with where its model was found here), not one read back from storage.
    message = {"config": config.to_dict(), "source": config.source, "storage": storage_url, "device": device,
               "runs_dir": runs_dir, "threads": threads, "parent_pid": os.getpid()}
    # -P: the working directory is not put on sys.path, so a json.py or optuna.py lying where the user runs a study
    # is never imported in place of the real module (PYTHONPATH and installed packages are found as usual).
    return subprocess.Popen([sys.executable, "-P", "-m", "budgetsearch.study._process", json.dumps(message)])


def _check_same_study(study: optuna.Study, config: StudyConfig, retry_failed: bool = False) -> None:
    from ..data import dataset_fingerprint

    stored = study.user_attrs.get(CONFIG_ATTR)
    current = config.to_dict()
    fingerprint = dataset_fingerprint(config.dataset)
    check_same_weights(study, config, record=True)
    if stored is None:
        study.set_user_attr(DATA_ATTR, fingerprint)
        study.set_user_attr(CONFIG_ATTR, current)
        return
    if DATA_ATTR not in study.user_attrs and stored.get("dataset") == current["dataset"]:
        study.set_user_attr(DATA_ATTR, fingerprint)  # a study started before data was recorded by content
    if study.user_attrs.get(DATA_ATTR) != fingerprint:
        raise ConfigError(f"{config.source}: dataset = {config.dataset!r} holds other data than study {config.name!r} "
                          f"was started with (its files' contents differ); continuing would mix results: point it "
                          f"at the same data, or give the study a new name")
    try:
        stored_config = parse_study(stored, f"study {config.name!r} in storage")
    except BudgetSearchError:
        stored_config = None
    # A stored study that no longer parses (a setting since refused at load) is compared as it was stored.
    changes = changed_settings(comparable(stored if stored_config is None else stored_config.to_dict()),
                               comparable(current))
    if changes:
        amend_study(study, config, changes, retry_failed)
    if changes or stored.get("dataset") != current["dataset"]:  # moved data: workers read it where it is now
        study.set_user_attr(CONFIG_ATTR, current)
