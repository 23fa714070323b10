"""Pruners and samplers that compare a trial only with its peers (same budget; same cell for tuning).

Why a filtered view of one study rather than one Optuna study per budget: the
agreed layout is one study per study file (one name for optuna-dashboard and
for the analysis), and a view keeps Optuna's own Median/Hyperband logic
untouched: they simply never see trials of other budgets.
"""

from __future__ import annotations

import optuna

from ._config import StudyConfig
from ._inits import DEFAULT_INIT
from ._views import FilteredStorage


def make_pruner(config: StudyConfig) -> optuna.pruners.BasePruner:
    p = config.pruning
    if p.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=p.n_startup_trials, n_warmup_steps=p.n_warmup_steps)
    if p.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=p.min_resource, max_resource=config.training.epochs,
                                              reduction_factor=p.reduction_factor)
    return optuna.pruners.NopPruner()


def make_sampler(config: StudyConfig, seed: int) -> optuna.samplers.BaseSampler:
    if config.tuning.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def budget_peers(storage, study_name: str, trial: optuna.trial.FrozenTrial, pruner) -> optuna.Study:
    """The study as ``trial``'s pruner sees it: only trials of the same role, budget and init (a projected start
    leads a scratch one by far after its first epochs, which says nothing of either's end)."""
    budget, role = trial.user_attrs.get("budget"), trial.user_attrs.get("role")
    init = trial.user_attrs.get("init") or DEFAULT_INIT  # None: queued before the axis, from scratch
    view = FilteredStorage(storage, lambda t: t.user_attrs.get("budget") == budget
                           and t.user_attrs.get("role") == role and (t.user_attrs.get("init") or DEFAULT_INIT) == init)
    return optuna.Study(study_name, storage=view, pruner=pruner)


def cell_peers(storage, study_name: str, trial: optuna.trial.FrozenTrial, sampler) -> optuna.Study:
    """The study as a tuning sampler sees it: only the trials of ``trial``'s own cell."""
    cell = trial.user_attrs.get("cell")
    view = FilteredStorage(storage, lambda t: t.user_attrs.get("cell") == cell)
    return optuna.Study(study_name, storage=view, sampler=sampler)
