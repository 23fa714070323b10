"""The frontier of one study, computed once: what ``budgetsearch frontier`` writes and the notebook shows.

:func:`study_frontier` turns a trials table into a :class:`StudyFrontier`
(the points with their fronts, the teacher's error, the cells without a
point, the trials that need a look); :func:`load_frontier` and
:func:`load_study_file_frontier` read the table first, from a storage or from
a study file. The frontier draws itself on any axes and writes its files with
:func:`write_frontier`, so that the command and a notebook show the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pandas as pd

from ..errors import ConfigError
from ._aggregate import DEFAULT_METRICS, aggregate_seeds, problem_trials, teacher_error
from ._intervals import LEVEL
from ._missing import SKIPPED_COLUMNS, cell_rows, missing_cells, missing_points
from ._paired import paired_comparisons
from ._pareto import COSTS, MEASURED_COSTS, frontier_table, measured_costs
from ._scaling import scaling_fits
from ._speed import measured_with, speed_metrics, with_speeds
from ._plot import METRIC_LABELS, frontier_figure, plot_frontier, study_title, substitute_colors
from ._projected import init_gains, projection_error_figure, projection_errors
from ._report import render_report
from ._trials import _study_file_storage, load_skipped_cells, load_trials, open_study, trials_to_csv

FRONTIER_FILES = ("trials.csv", "frontier.csv", *(f"frontier_{cost}.png" for cost in COSTS), "report.md")
PROJECTION_FIGURE = "projection_errors.png"  # written too where the study has projected starts
# Written beside them for each speed the trials measured: latency (a study with `measure = true`), training
# throughput (every trial recorded since the trainer measures it).
MEASURED_FILES = tuple(f"frontier_{cost}.png" for cost in MEASURED_COSTS)
DPI = 150  # the written plots: sharp in a report, a few hundred kB each


@dataclass(frozen=True)
class StudyFrontier:
    name: Optional[str]  # the study's name, in titles
    metric: str  # the error the fronts are computed on, e.g. "val_error"
    trials: pd.DataFrame  # load_trials' table, every trial as recorded
    skipped: pd.DataFrame  # load_skipped_cells' table: cells the study did not train, with the reason
    points: pd.DataFrame  # frontier_table of the seed aggregates: one row per point, with its front flags
    problems: pd.DataFrame  # problem_trials: every trial that did not complete its planned epochs
    reference: Optional[float]  # the dense teacher's mean error, when the study trained one network as teacher
    title: str  # study_title: "name: MODEL on DATASET"
    colors: dict  # substitute -> colour, the same in every plot
    missing: dict  # substitute -> its cells without a point (missing_points), named in the legend
    cells: pd.DataFrame  # missing_cells: every cell without a point, with its status and reason
    fits: pd.DataFrame  # scaling_fits: err = a·N^(−b) + c per substitute and cost, or why not determined
    pairs: pd.DataFrame  # paired_comparisons: two substitutes at one budget, seed against seed
    gains: pd.DataFrame  # init_gains: projected against scratch per budget and family
    projection: pd.DataFrame  # projection_errors: each family's projection error per budget

    @property
    def front(self) -> pd.DataFrame:
        """The points on the front of error against parameters or against mult-adds."""
        return self.points[self.points["on_front_params"] | self.points["on_front_mult_adds"]]

    @property
    def measured_costs(self) -> tuple:
        """The measured speeds (of ``MEASURED_COSTS``) the points hold, each with its own plot; () if none."""
        return measured_costs(self.points)

    def plot(self, ax, cost: str = "params"):
        """Draw the points against ``cost`` (of ``COSTS`` or :attr:`measured_costs`) on ``ax``; returns ``ax``."""
        return plot_frontier(self.points, ax, cost=cost, metric=self.metric, reference=self.reference,
                             colors=self.colors, missing=self.missing, cells=self.cells, fits=self.fits)

    def figure(self, cost: str = "params"):
        """A new matplotlib ``Figure`` (no pyplot) holding :meth:`plot` under the study's title.

        A measured cost's title also says where and at which batch it was
        measured; its cells without a point have no speed, so only the counted
        costs' plots show them.
        """
        if cost in MEASURED_COSTS:
            return frontier_figure(self.points, cost, self.metric, self.reference, colors=self.colors,
                                   title=f"{self.title}\n{measured_with(self.trials, cost)}", missing=self.missing)
        return frontier_figure(self.points, cost, self.metric, self.reference, title=self.title, colors=self.colors,
                               missing=self.missing, cells=self.cells, fits=self.fits)

    def report(self) -> str:
        """The markdown report: a table per budget, the fronts, fits, paired tests, cells without a point."""
        return render_report(self.trials, self.points, self.metric, title=self.title, skipped=self.skipped,
                             fits=self.fits, pairs=self.pairs, cells=self.cells, gains=self.gains,
                             projection=self.projection)

    def projection_figure(self):
        """A new ``Figure`` of each family's projection error against budget (:func:`plot_projection_errors`)."""
        return projection_error_figure(self.projection, self.colors, self.title)

    def table(self) -> pd.DataFrame:
        """``frontier.csv``: the points (status "complete"), then every cell without a point with its status and reason."""
        if not len(self.cells):
            return self.points.assign(status="complete", reason=None)
        return pd.concat([self.points.assign(status="complete", reason=None), self.cells], ignore_index=True)


def study_frontier(trials: pd.DataFrame, name: Optional[str] = None, metric: str = "val_error",
                   skipped: Optional[pd.DataFrame] = None, interval: str = "t", level: float = LEVEL) -> StudyFrontier:
    """The frontier of a trials table (:func:`load_trials`'), its fronts computed on ``metric``'s seed means.

    ``skipped``: :func:`load_skipped_cells`' table (None: no cell was skipped).
    ``interval``/``level``: the seed interval (:func:`seed_interval`) shown beside each mean.
    """
    if metric not in METRIC_LABELS:
        raise ConfigError(f"metric must be one of {sorted(METRIC_LABELS)}, but got {metric!r}")
    skipped = skipped if skipped is not None else pd.DataFrame(columns=list(SKIPPED_COLUMNS))
    return StudyFrontier(
        name=name, metric=metric, trials=trials, skipped=skipped,
        points=frontier_table(with_speeds(aggregate_seeds(trials, DEFAULT_METRICS + speed_metrics(trials),
                                                          interval=interval, level=level)), metric=metric),
        problems=problem_trials(trials), reference=teacher_error(trials, metric), title=study_title(name, trials),
        colors=substitute_colors(trials["substitute"].dropna()), missing=missing_points(trials, skipped),
        cells=missing_cells(trials, skipped), fits=scaling_fits(trials, metric),
        pairs=paired_comparisons(trials, metric, level), gains=init_gains(trials, metric, level),
        projection=projection_errors(trials),
    )


def load_frontier(study, study_name: Optional[str] = None, metric: str = "val_error", interval: str = "t",
                  level: float = LEVEL) -> StudyFrontier:
    """:func:`study_frontier` of a study in a storage, with the cells its latest run skipped.

    ``study``: an ``optuna.Study``, or a storage with ``study_name`` (as :func:`load_trials` takes them).
    """
    study = open_study(study, study_name)
    return study_frontier(load_trials(study), study.study_name, metric, skipped=load_skipped_cells(study),
                          interval=interval, level=level)


def load_study_file_frontier(study_file, storage=None, runs_dir=None, metric: str = "val_error", interval: str = "t",
                             level: float = LEVEL) -> StudyFrontier:
    """:func:`study_frontier` of the study a study file (TOML) describes.

    The storage is ``storage`` when given, else the study file's own (its
    default: ``<runs_dir>/<name>/journal.log``), as for :func:`load_study_file_trials`.
    """
    name, opened = _study_file_storage(study_file, storage, runs_dir)
    return load_frontier(opened, name, metric, interval, level)


def write_frontier(frontier: StudyFrontier, out) -> dict:
    """Write ``FRONTIER_FILES`` into the folder ``out`` (created if missing); returns file name -> path.

    The trials table (with a row per skipped cell) and the points (with a row
    per cell without a point) as CSV, one plot per cost as PNG (and one per
    measured speed the points hold, of ``MEASURED_FILES``), and the markdown
    report; where the study has projected starts, ``PROJECTION_FIGURE`` too.
    """
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"out {str(out)!r} cannot be used as an output folder: {error.strerror or error}") from None
    paths = {name: folder / name for name in FRONTIER_FILES}
    trials_to_csv(cell_rows(frontier.trials, frontier.skipped), paths["trials.csv"])
    frontier.table().to_csv(paths["frontier.csv"], index=False)
    for cost in COSTS:
        frontier.figure(cost).savefig(paths[f"frontier_{cost}.png"], dpi=DPI)
    paths["report.md"].write_text(frontier.report())
    for cost in frontier.measured_costs:
        paths[f"frontier_{cost}.png"] = folder / f"frontier_{cost}.png"
        frontier.figure(cost).savefig(paths[f"frontier_{cost}.png"], dpi=DPI)
    if len(frontier.projection):
        paths[PROJECTION_FIGURE] = folder / PROJECTION_FIGURE
        frontier.projection_figure().savefig(paths[PROJECTION_FIGURE], dpi=DPI)
    return paths
