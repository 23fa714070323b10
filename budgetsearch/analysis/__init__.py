"""Analysis of finished studies: the trials table, aggregates over seeds, Pareto frontiers, plots, report.

Computing and drawing are separate: :func:`frontier_table` computes the
points and their front flags once; :func:`plot_frontier` only draws them.
:func:`study_frontier` (or :func:`load_frontier`, :func:`load_study_file_frontier`)
gathers everything one study's frontier shows, and :func:`write_frontier`
writes its tables, plots and report, as ``budgetsearch frontier`` does.
"""

from ._aggregate import (DEFAULT_METRICS, POINT_KEYS, aggregate_seeds, complete_trials, missing_points, per_budget,
                         planned_epochs, problem_trials, status_counts, status_labels, teacher_error)
from ._frontier import (FRONTIER_FILES, StudyFrontier, load_frontier, load_study_file_frontier, study_frontier,
                        write_frontier)
from ._pareto import COSTS, frontier_table, pareto_frontier, pareto_mask
from ._plot import frontier_figure, plot_frontier, study_title, substitute_colors
from ._report import render_report
from ._trials import (TRIAL_ATTRIBUTES, load_skipped_cells, load_study_file_skipped, load_study_file_trials,
                      load_trials, open_study, resolve_storage, trials_frame, trials_to_csv)

__all__ = [
    "COSTS", "DEFAULT_METRICS", "FRONTIER_FILES", "POINT_KEYS", "TRIAL_ATTRIBUTES", "StudyFrontier",
    "aggregate_seeds", "complete_trials", "frontier_figure", "frontier_table", "load_frontier", "load_skipped_cells",
    "load_study_file_frontier", "load_study_file_skipped", "load_study_file_trials", "load_trials", "missing_points",
    "open_study", "pareto_frontier", "pareto_mask", "per_budget", "planned_epochs", "plot_frontier",
    "problem_trials", "render_report", "resolve_storage", "status_counts", "status_labels", "study_frontier",
    "study_title", "substitute_colors", "teacher_error", "trials_frame", "trials_to_csv", "write_frontier",
]
