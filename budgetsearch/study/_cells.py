"""The cells of a study: every (substitute, budget) solved to a setting, then one trial per (cell, seed[, tuning trial]).

Solving happens once, before any training, in the process that starts the
run; what it found travels with each queued trial (user attributes), so a
worker on another machine trains a cell without solving anything again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..errors import InfeasibleBudgetError
from ._config import BudgetSpec, StudyConfig

TEACHER_BUDGET = "dense"  # the budget label of the dense teacher trial

# Every trial carries all of these user attributes (None where not applicable), see the project README.
ATTRIBUTE_KEYS = (
    "model", "dataset", "substitute", "setting", "budget", "budget_params", "budget_mult_adds", "seed", "cell",
    "role", "params", "mult_adds", "dense_params", "dense_mult_adds", "convention", "val_error", "val_top5_error",
    "test_error", "test_top5_error", "train_error", "status", "message", "wall_time", "epochs_run", "config",
    # budgetsearch's own additions: which tuning trial of the cell this is; whether a dead worker lost it.
    "tuning_trial", "lost",
)


@dataclass(frozen=True)
class SolvedCell:
    """A (substitute, budget) pair with the setting that meets the budget, as the solver counted it."""

    substitute: str
    budget: BudgetSpec
    setting: object
    params: int
    mult_adds: int
    dense_params: int
    dense_mult_adds: int
    budget_params: int
    budget_mult_adds: Optional[int]
    convention: dict


@dataclass(frozen=True)
class SkippedCell:
    substitute: str
    budget: BudgetSpec
    reason: str


@dataclass(frozen=True)
class StudyPlan:
    solved: tuple  # SolvedCell
    skipped: tuple  # SkippedCell

    def trials(self, config: StudyConfig) -> list[dict]:
        """The initial user attributes of every trial the study runs, teacher first, then cell by cell."""
        rows = []
        if config.distillation.teacher == "train" and self.solved:
            rows.append(teacher_attributes(config, self.solved[0]))
        for cell in self.solved:
            for seed in config.seeds:
                for index in range(config.tuning.trials) if config.tuning.enabled else (None,):
                    rows.append(_attributes(config, cell, seed, index))
        return rows


def trial_key(attrs: dict) -> tuple:
    """What makes a trial unique in a study: its cell and its tuning index."""
    return attrs.get("cell"), attrs.get("tuning_trial")


def cell_name(substitute: str, budget_label: str, seed: int) -> str:
    return f"{substitute}|{budget_label}|{seed}"


def plan_study(config: StudyConfig, on_cell=None) -> StudyPlan:
    """Solve every (substitute, budget) cell; infeasible ones are skipped with the solver's reason.

    ``on_cell(substitute, budget_label, solved_or_skipped)`` reports each as it is done.
    """
    from ..solver import parse_budget, solve_budget

    solved, skipped = [], []
    for budget in config.budgets:
        for substitute in config.substitutes:
            try:
                solution = solve_budget(config.model, substitute, budget.params, mult_adds=budget.mult_adds,
                                        num_classes=config.num_classes, input_size=tuple(config.input_size),
                                        options=config.model_options, **config.model_selection)
            except InfeasibleBudgetError as error:
                result = SkippedCell(substitute, budget, str(error))
                skipped.append(result)
            else:
                result = SolvedCell(
                    substitute=substitute, budget=budget, setting=solution.setting, params=solution.params,
                    mult_adds=solution.mult_adds, dense_params=solution.dense_params,
                    dense_mult_adds=solution.dense_mult_adds,
                    budget_params=parse_budget(budget.params).resolve(solution.dense_params),
                    budget_mult_adds=None if budget.mult_adds is None else
                    parse_budget(budget.mult_adds).resolve(solution.dense_mult_adds),
                    convention=dict(solution.convention),
                )
                solved.append(result)
            if on_cell is not None:
                on_cell(substitute, budget.label, result)
    return StudyPlan(tuple(solved), tuple(skipped))


def _empty() -> dict:
    return dict.fromkeys(ATTRIBUTE_KEYS) | {"lost": False}


def _attributes(config: StudyConfig, cell: SolvedCell, seed: int, tuning_index) -> dict:
    return _empty() | {
        "model": config.model, "dataset": config.dataset, "substitute": cell.substitute, "setting": cell.setting,
        "budget": cell.budget.label, "budget_params": cell.budget_params, "budget_mult_adds": cell.budget_mult_adds,
        "seed": seed, "cell": cell_name(cell.substitute, cell.budget.label, seed), "role": "student",
        "params": cell.params, "mult_adds": cell.mult_adds, "dense_params": cell.dense_params,
        "dense_mult_adds": cell.dense_mult_adds, "convention": cell.convention, "tuning_trial": tuning_index,
    }


def teacher_attributes(config: StudyConfig, any_cell: SolvedCell) -> dict:
    """The dense teacher trial (distillation = "train"): the unsubstituted model, counted by the solver as dense."""
    seed = config.seeds[0]
    return _empty() | {
        "model": config.model, "dataset": config.dataset, "substitute": "conv", "setting": None,
        "budget": TEACHER_BUDGET, "budget_params": any_cell.dense_params, "budget_mult_adds": None, "seed": seed,
        "cell": cell_name("conv", TEACHER_BUDGET, seed), "role": "teacher", "params": any_cell.dense_params,
        "mult_adds": any_cell.dense_mult_adds, "dense_params": any_cell.dense_params,
        "dense_mult_adds": any_cell.dense_mult_adds, "convention": any_cell.convention,
    }
