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
from ._aggregate import aggregate_seeds, missing_points, problem_trials, teacher_error
from ._pareto import COSTS, frontier_table
from ._plot import METRIC_LABELS, frontier_figure, plot_frontier, study_title, substitute_colors
from ._report import render_report
from ._trials import _study_file_storage, load_skipped_cells, load_trials, open_study, trials_to_csv

FRONTIER_FILES = ("trials.csv", "frontier.csv", *(f"frontier_{cost}.png" for cost in COSTS), "report.md")
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

    @property
    def front(self) -> pd.DataFrame:
        """The points on the front of error against parameters or against mult-adds."""
        return self.points[self.points["on_front_params"] | self.points["on_front_mult_adds"]]

    def plot(self, ax, cost: str = "params"):
        """Draw the points against ``cost`` (one of ``COSTS``) on ``ax``; returns ``ax``."""
        return plot_frontier(self.points, ax, cost=cost, metric=self.metric, reference=self.reference,
                             colors=self.colors, missing=self.missing)

    def figure(self, cost: str = "params"):
        """A new matplotlib ``Figure`` (no pyplot) holding :meth:`plot` under the study's title."""
        return frontier_figure(self.points, cost, self.metric, self.reference, title=self.title, colors=self.colors,
                               missing=self.missing)

    def report(self) -> str:
        """The markdown report: a table per budget, the fronts, skipped cells, every trial that did not finish."""
        return render_report(self.trials, self.points, self.metric, title=self.title, skipped=self.skipped)


def study_frontier(trials: pd.DataFrame, name: Optional[str] = None, metric: str = "val_error",
                   skipped: Optional[pd.DataFrame] = None) -> StudyFrontier:
    """The frontier of a trials table (:func:`load_trials`'), its fronts computed on ``metric``'s seed means.

    ``skipped``: :func:`load_skipped_cells`' table (None: no cell was skipped).
    """
    if metric not in METRIC_LABELS:
        raise ConfigError(f"metric must be one of {sorted(METRIC_LABELS)}, but got {metric!r}")
    skipped = skipped if skipped is not None else pd.DataFrame(columns=["substitute", "budget", "reason"])
    return StudyFrontier(
        name=name, metric=metric, trials=trials, skipped=skipped,
        points=frontier_table(aggregate_seeds(trials), metric=metric), problems=problem_trials(trials),
        reference=teacher_error(trials, metric), title=study_title(name, trials),
        colors=substitute_colors(trials["substitute"].dropna()), missing=missing_points(trials, skipped),
    )


def load_frontier(study, study_name: Optional[str] = None, metric: str = "val_error") -> StudyFrontier:
    """:func:`study_frontier` of a study in a storage, with the cells its latest run skipped.

    ``study``: an ``optuna.Study``, or a storage with ``study_name`` (as :func:`load_trials` takes them).
    """
    study = open_study(study, study_name)
    return study_frontier(load_trials(study), study.study_name, metric, skipped=load_skipped_cells(study))


def load_study_file_frontier(study_file, storage=None, runs_dir=None, metric: str = "val_error") -> StudyFrontier:
    """:func:`study_frontier` of the study a study file (TOML) describes.

    The storage is ``storage`` when given, else the study file's own (its
    default: ``<runs_dir>/<name>/journal.log``), as for :func:`load_study_file_trials`.
    """
    name, opened = _study_file_storage(study_file, storage, runs_dir)
    return load_frontier(opened, name, metric)


def write_frontier(frontier: StudyFrontier, out) -> dict:
    """Write ``FRONTIER_FILES`` into the folder ``out`` (created if missing); returns file name -> path.

    The trials table and the points as CSV, one plot per cost as PNG, and the
    markdown report.
    """
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"out {str(out)!r} cannot be used as an output folder: {error.strerror or error}") from None
    paths = {name: folder / name for name in FRONTIER_FILES}
    trials_to_csv(frontier.trials, paths["trials.csv"])
    frontier.points.to_csv(paths["frontier.csv"], index=False)
    for cost in COSTS:
        frontier.figure(cost).savefig(paths[f"frontier_{cost}.png"], dpi=DPI)
    paths["report.md"].write_text(frontier.report())
    return paths
