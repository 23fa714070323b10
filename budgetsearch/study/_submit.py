"""``submit``: a study's workers as a batch job array, through submitit (Slurm, or local processes).

The study is solved and queued here, as ``run`` does it, into storage that
every task reaches (PostgreSQL, or a journal file on a shared file system);
each array task then runs the ordinary worker loop (:func:`run_worker`) until
the study has nothing left. A task that Slurm preempts or times out is
checkpointed by submitit and requeued; the trial it was training, left
RUNNING by the dead process, is queued again as any dead worker's is (see
:mod:`._queue`) and continues from its last epoch's training state.

submitit is an install extra (``pip install budgetsearch[slurm]``), imported
only when a study is submitted.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import sqlalchemy

from ..errors import ConfigError
from ._cells import StudyPlan
from ._config import StudyConfig, parse_study, resolve_model
from ._run import check_runnable, prepare_study
from ._storage import DEFAULT_RUNS_DIR, is_journal, journal_path, study_dir
from ._worker import WorkerOptions, check_threads, run_worker

SCHEDULERS = ("slurm", "local")
DEFAULT_TIME_MIN = 24 * 60  # submitit needs a time limit (it decides "timed out" by it); a day unless told
# A worker runs until the study is done, so on a long study it meets its time limit many times: each time
# it is requeued and goes on (submitit's default of 3 would end a worker after four time limits).
MAX_REQUEUES = 100
TIME_FORMS = "MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS"  # sbatch --time's forms


@dataclass(frozen=True)
class SubmitOptions:
    tasks: int  # workers: the job array's size
    scheduler: str = "slurm"  # or "local": submitit's LocalExecutor, one process per task on this machine
    partition: Optional[str] = None  # None: the cluster's default partition
    gpus_per_task: Optional[int] = None  # None: 1 on Slurm, 0 locally (local workers train on the CPU)
    time_min: int = DEFAULT_TIME_MIN  # each task's time limit, minutes
    storage: Optional[str] = None  # None: the study file's, else the journal file under runs_dir
    runs_dir: str = DEFAULT_RUNS_DIR  # must be on a shared file system: resume states and the teacher live there
    threads: Optional[int] = None  # torch CPU threads per worker; None: torch's default
    log_dir: Optional[str] = None  # submitit's files and the tasks' logs; None: <runs_dir>/<study>/submitit

    def __post_init__(self):
        if isinstance(self.tasks, bool) or not isinstance(self.tasks, int) or self.tasks < 1:
            raise ConfigError(f"SubmitOptions.tasks (--array) must be an integer >= 1, but got {self.tasks!r}")
        if self.scheduler not in SCHEDULERS:
            raise ConfigError(f"SubmitOptions.scheduler must be one of {SCHEDULERS}, but got {self.scheduler!r}")
        gpus = self.gpus_per_task
        if gpus is not None and (isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 0):
            raise ConfigError(f"SubmitOptions.gpus_per_task must be an integer >= 0, but got {gpus!r}")
        if self.scheduler == "local" and gpus:
            raise ConfigError(f"SubmitOptions.gpus_per_task = {gpus} with the local scheduler: local workers train "
                              f"on the CPU; for this machine's GPUs use `budgetsearch run --devices cuda:0,cuda:1`")
        if isinstance(self.time_min, bool) or not isinstance(self.time_min, int) or self.time_min < 1:
            raise ConfigError(f"SubmitOptions.time_min must be an integer >= 1, but got {self.time_min!r}")
        if self.threads is not None:
            check_threads(self.threads, "SubmitOptions.threads")

    @property
    def gpus(self) -> int:
        return (1 if self.scheduler == "slurm" else 0) if self.gpus_per_task is None else self.gpus_per_task


@dataclass(frozen=True)
class SubmitReport:
    plan: StudyPlan
    queued: int  # trials queued by this submission
    storage: str  # the storage every task opens
    jobs: tuple  # submitit's Job of each task (``job_id``, ``state``, ``wait()``)
    log_dir: str


def parse_time_minutes(text) -> int:
    """A time limit in one of sbatch's forms (``TIME_FORMS``) -> whole minutes, seconds rounded up."""
    shown = repr(str(text)[:50])
    days, dash, clock = str(text).strip().rpartition("-")
    parts = clock.split(":")
    numbers = [days] * bool(dash) + parts
    if not all(part.isdigit() for part in numbers) or len(parts) > 3:
        raise ConfigError(f"time must be one of sbatch's forms {TIME_FORMS} (e.g. 90, 4:00:00, 1-12), but got {shown}")
    values = [int(part) for part in parts]
    if dash:  # D-HH[:MM[:SS]]
        hours, minutes, seconds = (values + [0, 0])[:3]
        hours += 24 * int(days)
    else:  # MM, MM:SS or HH:MM:SS
        hours, minutes, seconds = values if len(values) == 3 else (0, *values, 0)[:3]
    total = hours * 60 + minutes + (1 if seconds else 0)
    if total < 1:
        raise ConfigError(f"time must be at least one minute, but got {shown}")
    return total


def shared_storage(url: Optional[str], study_name: str, runs_dir) -> str:
    """The storage URL every task opens: an RDB URL as given, a journal file as an absolute path.

    Refuses SQLite, which workers on several machines cannot share (its file
    locks fail on network file systems, and ``:memory:`` lives in one process).
    """
    if is_journal(url):
        return str(journal_path(url, study_name, Path(runs_dir).resolve()).resolve())
    try:
        backend = sqlalchemy.engine.make_url(str(url)).get_backend_name()
    except sqlalchemy.exc.ArgumentError:
        raise ConfigError(f"storage must be an RDB URL such as 'postgresql://user@host/db' or a journal file path, "
                          f"but got {url!r}") from None
    if backend == "sqlite":
        raise ConfigError(f"storage {url!r} is SQLite, which the workers of a job array cannot share (its locks fail "
                          f"on network file systems; ':memory:' lives in one process): use PostgreSQL "
                          f"(postgresql://user@host/db) or a journal file on a shared file system")
    return str(url)


class WorkerTask:
    """One array task: the worker loop on the shared storage. submitit pickles it into each task.

    ``checkpoint`` makes it requeueable: on preemption or time-out submitit
    calls it and submits what it returns (the same task) again. Nothing needs
    saving then: the trainer wrote the trial's state at its last epoch's end.
    """

    def __init__(self, config: StudyConfig, storage: str, runs_dir: str, device: str, threads: Optional[int]):
        # the study as data: the task parses it again, as a `run` worker process does (see ._process)
        self.study, self.source = config.to_dict(), config.source
        self.storage, self.runs_dir, self.device, self.threads = storage, runs_dir, device, threads

    def __call__(self, index: int) -> int:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        config = parse_study(self.study, self.source)
        return run_worker(WorkerOptions(study_name=config.name, storage=self.storage, config=config,
                                        device=self.device, runs_dir=self.runs_dir, threads=self.threads))

    def checkpoint(self, *args, **kwargs):
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, *args, **kwargs)


def _submitit():
    try:
        import submitit
    except ImportError:
        raise ConfigError("submitting a study needs submitit, which is not installed: pip install "
                          "'budgetsearch[slurm]' (or pip install submitit)") from None
    return submitit


def _log_dir(config: StudyConfig, options: SubmitOptions) -> Path:
    folder = options.log_dir if options.log_dir is not None else study_dir(config.name, options.runs_dir) / "submitit"
    return Path(folder).resolve()


def slurm_parameters(config: StudyConfig, options: SubmitOptions) -> dict:
    """The sbatch settings of each array task, as submitit's SlurmExecutor takes them."""
    parameters = {"job_name": f"budgetsearch-{config.name}", "time": options.time_min, "ntasks_per_node": 1}
    if options.partition is not None:
        parameters["partition"] = options.partition
    if options.gpus:
        parameters["gpus_per_task"] = options.gpus
    return parameters


def sbatch_script(config: StudyConfig, options: SubmitOptions) -> str:
    """The sbatch script ``submit`` would hand to Slurm for the array, rendered by submitit; nothing is submitted."""
    _submitit()
    from submitit.slurm.slurm import _make_sbatch_string  # the renderer SlurmExecutor itself uses

    shared_storage(options.storage if options.storage is not None else config.storage.url, config.name,
                   options.runs_dir)  # refused now, not when the script is submitted

    folder = _log_dir(config, options) / "%j"
    command = f"{sys.executable} -u -m submitit.core._submit {folder}"  # SlurmExecutor's own task command
    return _make_sbatch_string(command=command, folder=folder, map_count=options.tasks,
                               **slurm_parameters(config, options))


def _slurm_executor(submitit, folder: Path):
    try:
        return submitit.SlurmExecutor(folder=folder, max_num_timeout=MAX_REQUEUES)
    except RuntimeError as error:  # no srun on this machine
        raise ConfigError(f"cannot submit to Slurm from this machine ({error}); submit from a cluster login node, "
                          f"or see the script with --dry-run") from None


def submit_study(config: StudyConfig, options: SubmitOptions, *, on_cell: Optional[Callable] = None) -> SubmitReport:
    """Solve and queue the study's trials, then submit ``options.tasks`` workers; returns their job ids."""
    submitit = _submitit()
    runs_dir = str(Path(options.runs_dir).resolve())
    storage = shared_storage(options.storage if options.storage is not None else config.storage.url, config.name,
                             runs_dir)
    config = resolve_model(config)
    check_runnable(config, ())  # the tasks' devices are on the cluster, not here
    log_dir = _log_dir(config, options)
    folder = log_dir / "%j"
    if options.scheduler == "slurm":
        executor = _slurm_executor(submitit, folder)
        executor.update_parameters(**slurm_parameters(config, options))
    else:
        executor = submitit.LocalExecutor(folder=folder, max_num_timeout=MAX_REQUEUES)
        executor.update_parameters(timeout_min=options.time_min)
    _, plan, queued = prepare_study(config, storage, runs_dir, on_cell=on_cell)
    device = "cuda:0" if options.gpus else "cpu"  # the scheduler makes the task's GPU its only visible one
    task = WorkerTask(config, storage, runs_dir, device, options.threads)
    jobs = executor.map_array(task, range(options.tasks))
    return SubmitReport(plan, queued, storage, tuple(jobs), str(log_dir))
