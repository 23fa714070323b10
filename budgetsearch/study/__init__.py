"""Studies: a TOML file of cells (substitute x budget x seed) scheduled exactly once as Optuna trials.

``load_study_config(path)`` reads and validates a study file;
``run_study(config, RunOptions(...))`` solves every cell, queues its trials
and trains them in worker processes; ``run_worker(WorkerOptions(...))`` joins
a study from any machine; ``submit_study(config, SubmitOptions(...))`` queues it
and submits its workers as a Slurm job array; ``open_storage(url, name)`` opens
its storage.
"""

from ._cells import SKIPPED_ATTR, SkippedCell, SolvedCell, StudyPlan, cell_name, plan_study
from ._config import (
    BudgetSpec, DistillationSettings, PruningSettings, StorageSettings, StudyConfig, TunedParam,
    TuningSettings, load_study_config, parse_assignment, parse_study, resolve_model,
)
from ._failures import FailureSummary, failure_summary
from ._progress import (Progress, final_trials, read_skipped_cells, read_study_trials, read_trials, served_budgets,
                        study_progress, summary_rows)
from ._record import RESULT_ATTRIBUTES, TRIAL_ATTRIBUTES, TrialRecord
from ._queue import enqueue_missing, is_recorded
from ._run import RunOptions, RunReport, parse_devices, prepare_study, run_study
from ._storage import open_storage, study_dir
from ._submit import SubmitOptions, SubmitReport, parse_time_minutes, sbatch_script, submit_study
from ._worker import WorkerOptions, load_stored_config, run_worker, trusted_config

__all__ = [
    "RESULT_ATTRIBUTES", "SKIPPED_ATTR", "TRIAL_ATTRIBUTES", "BudgetSpec", "DistillationSettings", "FailureSummary",
    "Progress", "PruningSettings", "RunOptions", "RunReport", "SkippedCell", "SolvedCell", "StorageSettings",
    "StudyConfig", "StudyPlan", "SubmitOptions", "SubmitReport", "TrialRecord", "TunedParam", "TuningSettings", "WorkerOptions", "cell_name",
    "enqueue_missing", "failure_summary", "final_trials", "is_recorded", "load_stored_config", "load_study_config",
    "open_storage", "parse_assignment", "parse_devices", "parse_time_minutes", "parse_study", "plan_study", "prepare_study",
    "read_skipped_cells", "read_study_trials", "read_trials", "resolve_model", "run_study", "run_worker",
    "sbatch_script", "submit_study", "served_budgets", "study_dir",
    "study_progress", "summary_rows", "trusted_config",
]
