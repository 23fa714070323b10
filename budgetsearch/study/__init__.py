"""Studies: a TOML file of cells (substitute x budget x seed) scheduled exactly once as Optuna trials.

``load_study_config(path)`` reads and validates a study file;
``run_study(config, RunOptions(...))`` solves every cell, queues its trials
and trains them in worker processes; ``run_worker(WorkerOptions(...))`` joins
a study from any machine; ``submit_study(config, SubmitOptions(...))`` queues it
and submits its workers as a Slurm job array; ``open_storage(url, name)`` opens
its storage.
"""

from .._lazy import lazy_exports

# Each name imports its module on first use: reading a study file and its progress (``status``) imports no torch.
__getattr__, __dir__, __all__ = lazy_exports(globals(), {
    "_cells": ("SKIPPED_ATTR", "SkippedCell", "SolvedCell", "StudyPlan", "cell_name", "plan_study"),
    "_config": ("BudgetSpec", "DistillationSettings", "PruningSettings", "StorageSettings", "StudyConfig", "TunedParam",
                "TuningSettings", "load_study_config", "parse_assignment", "parse_study", "resolve_model"),
    "_failures": ("FailureSummary", "failure_summary"),
    "_progress": ("Progress", "final_trials", "read_skipped_cells", "read_study_trials", "read_trials",
                  "served_budgets", "study_progress", "summary_rows"),
    "_record": ("RESULT_ATTRIBUTES", "TRIAL_ATTRIBUTES", "TrialRecord"),
    "_queue": ("enqueue_missing", "is_recorded"),
    "_run": ("RunOptions", "RunReport", "parse_devices", "prepare_study", "run_study"),
    "_storage": ("open_storage", "study_dir"),
    "_submit": ("SubmitOptions", "SubmitReport", "parse_time_minutes", "sbatch_script", "submit_study"),
    "_worker": ("WorkerOptions", "load_stored_config", "run_worker", "trusted_config"),
})
