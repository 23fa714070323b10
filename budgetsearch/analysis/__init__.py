"""Analysis of finished studies: the trials table, aggregates over seeds, Pareto frontiers, plots, report.

Computing and drawing are separate: :func:`frontier_table` computes the
points and their front flags once; :func:`plot_frontier` only draws them.
"""

from ._aggregate import (DEFAULT_METRICS, POINT_KEYS, aggregate_seeds, complete_trials, missing_points, per_budget,
                         planned_epochs, problem_trials, status_counts, status_labels, teacher_error)
from ._pareto import COSTS, frontier_table, pareto_frontier, pareto_mask
from ._plot import frontier_figure, plot_frontier, study_title, substitute_colors
from ._report import render_report
from ._trials import (TRIAL_ATTRIBUTES, load_skipped_cells, load_study_file_skipped, load_study_file_trials,
                      load_trials, resolve_storage, trials_frame, trials_to_csv)

__all__ = [
    "COSTS", "DEFAULT_METRICS", "POINT_KEYS", "TRIAL_ATTRIBUTES", "aggregate_seeds", "complete_trials",
    "frontier_figure", "frontier_table", "load_skipped_cells", "load_study_file_skipped", "load_study_file_trials",
    "load_trials", "missing_points", "pareto_frontier", "pareto_mask", "per_budget", "planned_epochs", "plot_frontier",
    "problem_trials", "render_report", "resolve_storage", "status_counts", "status_labels", "study_title",
    "substitute_colors", "teacher_error", "trials_frame", "trials_to_csv",
]
