"""The cells of a study: every (substitute, budget) solved to a setting, then one trial per (cell, init, seed[, tuning
trial]).

Solving happens once, before any training, in the process that starts the
run; what it found travels with each queued trial (user attributes), so a
worker on another machine trains a cell without solving anything again.

A cell whose solution fills less than ``min_fill`` of its budget is skipped.
Cells of one substitute whose settings build the same network (the same
layer sizes at every site) are trained once: the trial of the first such
cell lists every budget it serves in its ``budgets`` attribute.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from ..errors import InfeasibleBudgetError
from ._config import BudgetSpec, StudyConfig
from ._inits import DEFAULT_INIT, INITS
from ._record import TrialRecord

TEACHER_BUDGET = "dense"  # the budget label of the dense teacher trial

# Attributes also recorded as Optuna parameters, so Optuna's own tools (dashboard, trials_dataframe) see each cell.
CELL_PARAMS = ("substitute", "budget", "budget_params", "setting", "init")
# Study user attribute: the skipped cells of the latest run (substitute, budget, reason), for `status` and reports.
SKIPPED_ATTR = "budgetsearch:skipped"


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
    trained_at: Optional[str] = None  # label of the budget whose cell trains this same network; None: this one
    saturated: bool = False  # the budget is above the largest network the substitute reaches

    @property
    def fill(self) -> float:
        """The fraction of the parameter budget the solution uses."""
        return self.params / self.budget_params


@dataclass(frozen=True)
class SkippedCell:
    substitute: str
    budget: BudgetSpec
    reason: str
    status: str = "infeasible"  # "infeasible" (no setting fits) or "below_min_fill"
    # What the cell was counted at, so a frontier places it at its budget: the caps, and the network the solver
    # found (None where no setting fits).
    budget_params: Optional[int] = None
    budget_mult_adds: Optional[int] = None
    params: Optional[int] = None
    mult_adds: Optional[int] = None


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
            if cell.trained_at is not None:
                continue  # another budget's trial trains this network
            for init in config.init:  # the same network from both starts, side by side in the queue
                for seed in config.seeds:
                    for index in range(config.tuning.trials) if config.tuning.enabled else (None,):
                        rows.append(_attributes(config, cell, init, seed, index, self.served_by(cell)))
        return rows

    def served_by(self, cell: SolvedCell) -> list:
        """The cells the trial of ``cell`` trains for: itself, then those that point at its budget."""
        return [cell] + [c for c in self.solved if c.substitute == cell.substitute and c.trained_at == cell.budget.label]

    def distributions(self, config: StudyConfig) -> dict:
        """Optuna distributions of ``CELL_PARAMS``, fixed by the study file, so every trial's are compatible."""
        teacher = config.distillation.teacher == "train"
        substitutes = tuple(config.substitutes) + (("conv",) if teacher and "conv" not in config.substitutes else ())
        budgets = tuple(b.label for b in config.budgets) + ((TEACHER_BUDGET,) if teacher else ())
        sizes = [c.budget_params for c in self.solved] + ([self.solved[0].dense_params] if teacher and self.solved else [])
        settings = [float(c.setting) for c in self.solved if c.setting is not None]
        found = {"substitute": CategoricalDistribution(substitutes), "budget": CategoricalDistribution(budgets),
                 "init": CategoricalDistribution(INITS)}  # every init, so a study's choices never change
        if sizes:
            found["budget_params"] = IntDistribution(min(sizes), max(sizes))
        if settings:
            found["setting"] = FloatDistribution(min(settings), max(settings))
        return found


def trial_key(attrs: dict) -> tuple:
    """What makes a trial unique in a study: its cell and its tuning index."""
    return attrs.get("cell"), attrs.get("tuning_trial")


def cell_name(substitute: str, budget_label: str, seed: int, init: str = DEFAULT_INIT) -> str:
    """``substitute|budget|seed``, with ``|projected`` after it for a projected start (scratch cells keep the
    name they had before ``init`` existed, so a study started then continues without training them again)."""
    return f"{substitute}|{budget_label}|{seed}" + ("" if init == DEFAULT_INIT else f"|{init}")


def plan_study(config: StudyConfig, on_cell=None) -> StudyPlan:
    """Solve every (substitute, budget) cell; infeasible ones are skipped with the solver's reason.

    ``on_cell(substitute, budget_label, solved_or_skipped)`` reports each as it is done.
    """
    from ..solver import network_counter, parse_budget, solve_budget

    counter = network_counter(config.model, config.num_classes, tuple(config.input_size),
                              options=config.model_options, **config.model_selection)
    solved, skipped = [], []
    first_of_network: dict = {}  # (substitute, layer sizes) -> the budget label of the cell that trains it
    for budget in config.budgets:
        for substitute in config.substitutes:
            try:
                solution = solve_budget(config.model, substitute, budget.params, mult_adds=budget.mult_adds,
                                        num_classes=config.num_classes, input_size=tuple(config.input_size),
                                        options=config.model_options, **config.model_selection)
            except InfeasibleBudgetError as error:
                result = SkippedCell(substitute, budget, str(error), budget_params=parse_budget(budget.params).resolve(
                    counter.dense.params), budget_mult_adds=None if budget.mult_adds is None else
                    parse_budget(budget.mult_adds).resolve(counter.dense.mult_adds))
                skipped.append(result)
            else:
                cell = SolvedCell(
                    substitute=substitute, budget=budget, setting=solution.setting, params=solution.params,
                    mult_adds=solution.mult_adds, dense_params=solution.dense_params,
                    dense_mult_adds=solution.dense_mult_adds,
                    budget_params=parse_budget(budget.params).resolve(solution.dense_params),
                    budget_mult_adds=None if budget.mult_adds is None else
                    parse_budget(budget.mult_adds).resolve(solution.dense_mult_adds),
                    convention=dict(solution.convention), saturated=solution.saturated,
                )
                result = _place(cell, config.min_fill, counter, first_of_network)
                (solved if isinstance(result, SolvedCell) else skipped).append(result)
            if on_cell is not None:
                on_cell(substitute, budget.label, result)
    return StudyPlan(tuple(solved), tuple(skipped))


def _place(cell: SolvedCell, min_fill: float, counter, first_of_network: dict):
    """The cell skipped for its fill, or pointed at the budget whose cell trains the same network."""
    if cell.fill < min_fill:
        return SkippedCell(cell.substitute, cell.budget,
                           f"{cell.substitute} reaches only {cell.params:,} of the {cell.budget_params:,} params of "
                           f"budget {cell.budget.label} (fill {cell.fill:.3f}, setting {cell.setting}), below "
                           f"min_fill = {min_fill:g}", status="below_min_fill", budget_params=cell.budget_params,
                           budget_mult_adds=cell.budget_mult_adds, params=cell.params, mult_adds=cell.mult_adds)
    network = (cell.substitute, network_sizes(counter, cell.substitute, cell.setting))
    trained_at = first_of_network.setdefault(network, cell.budget.label)
    return cell if trained_at == cell.budget.label else dataclasses.replace(cell, trained_at=trained_at)


def network_sizes(counter, substitute: str, setting) -> tuple:
    """What ``setting`` builds at every substituted site of the counter's network: equal tuples, equal networks."""
    from ..substitutes import get_substitute

    found = get_substitute(substitute)
    return tuple(sorted(((repr(site), repr(found.resolve(site.in_channels, site.out_channels, site.kernel_size, setting)))
                         for site in counter.sites)))


def skipped_record(cell: SkippedCell) -> dict:
    return {"substitute": cell.substitute, "budget": cell.budget.label, "reason": cell.reason, "status": cell.status,
            "budget_params": cell.budget_params, "budget_mult_adds": cell.budget_mult_adds, "params": cell.params,
            "mult_adds": cell.mult_adds}


def _served(cells: list) -> list:
    return [{"budget": c.budget.label, "budget_params": c.budget_params, "budget_mult_adds": c.budget_mult_adds,
             "saturated": c.saturated} for c in cells]


def _attributes(config: StudyConfig, cell: SolvedCell, init: str, seed: int, tuning_index, served: list) -> dict:
    return TrialRecord(
        model=config.model, dataset=config.dataset, substitute=cell.substitute, setting=cell.setting,
        budget=cell.budget.label, budget_params=cell.budget_params, budget_mult_adds=cell.budget_mult_adds,
        seed=seed, init=init, cell=cell_name(cell.substitute, cell.budget.label, seed, init), role="student",
        params=cell.params, mult_adds=cell.mult_adds, dense_params=cell.dense_params,
        dense_mult_adds=cell.dense_mult_adds, convention=cell.convention, fill=cell.fill, saturated=cell.saturated,
        tuning_trial=tuning_index, budgets=_served(served),
    ).to_attrs()


def teacher_attributes(config: StudyConfig, any_cell: SolvedCell) -> dict:
    """The dense teacher trial (distillation = "train"): the unsubstituted model, counted by the solver as dense."""
    seed = config.seeds[0]
    return TrialRecord(
        model=config.model, dataset=config.dataset, substitute="conv", setting=None,
        budget=TEACHER_BUDGET, budget_params=any_cell.dense_params, budget_mult_adds=None, seed=seed,
        init=DEFAULT_INIT, cell=cell_name("conv", TEACHER_BUDGET, seed), role="teacher", params=any_cell.dense_params,
        mult_adds=any_cell.dense_mult_adds, dense_params=any_cell.dense_params,
        dense_mult_adds=any_cell.dense_mult_adds, convention=any_cell.convention, fill=1.0,
        budgets=[{"budget": TEACHER_BUDGET, "budget_params": any_cell.dense_params, "budget_mult_adds": None}],
    ).to_attrs()
