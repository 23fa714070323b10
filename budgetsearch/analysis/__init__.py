"""Analysis of finished studies: the trials table, aggregates over seeds, Pareto frontiers, plots, report.

Computing and drawing are separate: :func:`frontier_table` computes the
points and their front flags once; :func:`plot_frontier` only draws them.
Beside the means: seed intervals (:func:`seed_interval`), scaling fits per
family (:func:`scaling_fits`), paired tests at equal budget
(:func:`paired_comparisons`), every cell without a point (:func:`missing_cells`)
and, where the trials measured them, fronts against inference latency and training throughput.
Where a study trains each network from scratch and projected from trained
weights (its ``init`` axis), each family has a curve per init, and
:func:`init_gains` and :func:`projection_errors` compare the two starts.
:func:`study_frontier` (or :func:`load_frontier`, :func:`load_study_file_frontier`)
gathers everything one study's frontier shows, and :func:`write_frontier`
writes its tables, plots and report, as ``budgetsearch frontier`` does.
"""

from ._aggregate import (DEFAULT_METRICS, POINT_KEYS, aggregate_seeds, complete_trials, per_budget, planned_epochs,
                         problem_trials, status_counts, status_labels, teacher_error)
from ._curves import curve_label, with_init
from ._frontier import (FRONTIER_FILES, MEASURED_FILES, PROJECTION_FIGURE, StudyFrontier, load_frontier,
                        load_study_file_frontier, study_frontier, write_frontier)
from ._intervals import INTERVALS, seed_interval
from ._missing import cell_rows, missing_cells, missing_points
from ._paired import paired_comparisons, paired_t
from ._pareto import COSTS, MEASURED_COSTS, frontier_table, measured_costs, pareto_frontier, pareto_mask
from ._projected import init_gains, plot_projection_errors, projection_error_figure, projection_errors
from ._plot import frontier_figure, plot_frontier, study_title, substitute_colors
from ._report import render_report
from ._scaling import PowerLawFit, fit_power_law, scaling_fits
from ._speed import SPEED_METRICS, speed_metrics
from ._trials import (TRIAL_ATTRIBUTES, load_skipped_cells, load_study_file_skipped, load_study_file_trials,
                      load_trials, open_study, resolve_storage, trials_frame, trials_to_csv)

__all__ = [
    "COSTS", "DEFAULT_METRICS", "FRONTIER_FILES", "INTERVALS", "MEASURED_COSTS", "MEASURED_FILES", "POINT_KEYS",
    "PROJECTION_FIGURE", "SPEED_METRICS", "TRIAL_ATTRIBUTES", "PowerLawFit", "measured_costs", "speed_metrics",
    "StudyFrontier", "aggregate_seeds", "cell_rows", "complete_trials", "curve_label", "init_gains", "fit_power_law",
    "frontier_figure",
    "frontier_table", "load_frontier", "load_skipped_cells", "load_study_file_frontier", "load_study_file_skipped",
    "load_study_file_trials", "load_trials", "missing_cells", "missing_points", "open_study", "paired_comparisons",
    "paired_t", "pareto_frontier", "pareto_mask", "per_budget", "planned_epochs", "plot_frontier",
    "plot_projection_errors", "problem_trials", "projection_error_figure", "projection_errors",
    "render_report", "resolve_storage", "scaling_fits", "seed_interval", "status_counts", "status_labels",
    "study_frontier", "study_title", "substitute_colors", "teacher_error", "trials_frame", "trials_to_csv",
    "with_init", "write_frontier",
]
