"""Turn a parameter budget (and optionally a mult-adds cap) into a substitute's setting.

The answer is the setting whose parameter count is the largest that does not
exceed the budget, with the mult-adds cap holding too; among settings with
that count, the smallest. Both counts move monotonically with the setting in
the direction the registry declares, so the settings that fit form one end of
the domain, and two bisections find its edge and then the left edge of the
winning count's plateau. A float setting is then written with as few decimals
as that plateau allows (0.23, not its exact edge 0.22999999999999998), and the
exact edge is kept as ``smallest_setting``.

A budget above everything the substitute reaches gets its largest network
(the best setting not above the budget), marked ``saturated``: compared at
that budget, it is smaller than asked for, and ``fill`` says by how much.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional, Tuple, Union

from torch import nn

from ..compat import hyperparameter as compat_hyperparameter
from ..errors import InfeasibleBudgetError
from ..models import ModelSpec, create_model, input_options
from ..substitutes import ConvFactory, Substitute, get_substitute
from ._budget import Budget, parse_budget
from ._network import NetworkCounter, network_counter
from ._site_cache import SITE_COUNTS
from ._search import first_at_least, first_true, highest, last_at_most, last_true, lowest, shortest_decimal_from

Setting = Union[int, float, None]


@dataclass(frozen=True)
class Solution:
    """A substitute's setting for a budget on a model, with the counts it achieves.

    ``params_range`` is the smallest and largest parameter count the substitute
    reaches on this model over its whole domain. ``setting`` is the shortest
    decimal on the winning plateau; ``smallest_setting`` the plateau's exact
    left edge (the same for integer settings); both build the same network. ``ratio`` and the ``dense_*``
    counts are relative to the model family's reference substitute (dense convs
    for WideResNets). ``convention`` records how every count was made.
    ``saturated``: the budget is above the largest count the substitute reaches
    (a substitute without a setting: above its one count), so ``params`` falls
    short of it; ``fill`` is the fraction of the budget used.
    ``reconstruction_mult_adds``: rebuilding the structured weights once, the
    cost per training step on top of ``mult_adds`` per image (see ``count``).
    """

    model: str
    substitute: str
    hyperparameter: Optional[str]
    setting: Setting
    smallest_setting: Setting
    params: int
    mult_adds: int
    reconstruction_mult_adds: int
    budget: str
    budget_params: int
    budget_mult_adds: Optional[int]
    dense_params: int
    dense_mult_adds: int
    reference: str
    params_range: Tuple[int, int]
    num_classes: int
    input_size: Tuple[int, int, int]
    compat: Optional[str]
    convention: dict
    saturated: bool
    # What no selected layer holds: the same at every setting, so no budget below it is feasible.
    fixed_params: int = 0
    fixed_mult_adds: int = 0
    options: dict = dataclasses.field(default_factory=dict)  # the model's constructor arguments
    select: Optional[str] = None  # None: the family's own substitution points ("spatial" for other models)
    exclude: Tuple[str, ...] = ()
    # What was solved: a name, reference, callable or nn.Module (``model`` is its label).
    source: object = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def ratio(self) -> float:
        return self.params / self.dense_params

    @property
    def fill(self) -> float:
        """The fraction of the parameter budget the solution uses (1 when it is met exactly)."""
        return self.params / self.budget_params

    @property
    def slack(self) -> int:
        """Parameters left unused under the budget."""
        return self.budget_params - self.params

    def factory(self) -> ConvFactory:
        return get_substitute(self.substitute).factory(self.setting)

    def build(self) -> nn.Module:
        """The model at this setting; counting it gives exactly ``params`` and ``mult_adds``."""
        source = self.model if self.source is None else self.source
        return create_model(source, num_classes=self.num_classes, substitute=self.factory(), compat=self.compat,
                            select=self.select, exclude=self.exclude,
                            **{**input_options(source, self.input_size), **self.options})

    def to_dict(self) -> dict:
        record = dataclasses.asdict(dataclasses.replace(self, source=None))
        del record["source"]
        return record | {"ratio": self.ratio, "fill": self.fill, "slack": self.slack, "feasible": True}


def _at(hp, setting) -> str:
    """``name=value``, or ``name → bound`` for the float just inside an open bound (not 5e-324)."""
    if hp.low_open and setting == lowest(hp):
        return f"{hp.name} → {hp.low:g}"
    return f"{hp.name}={setting}"


def _infeasible(counter: NetworkCounter, substitute: Substitute, budget: str, reason: str) -> InfeasibleBudgetError:
    return InfeasibleBudgetError(f"{substitute.name} cannot meet budget {budget} on {counter.model}: {reason}; "
                                 f"the fixed part (layers not substituted) alone holds {counter.fixed.params:,} params "
                                 f"and {round(counter.fixed.mult_adds):,} mult-adds")


def _solution(counter, substitute, setting, budget: Budget, cap: int, mult_adds_cap, params_range,
              smallest_setting=None, saturated=False) -> Solution:
    totals = counter.totals(substitute, setting)
    dense = counter.dense
    hp = substitute.hyperparameter
    return Solution(
        model=counter.model, substitute=substitute.name, hyperparameter=hp.name if hp else None, setting=setting,
        smallest_setting=setting if smallest_setting is None else smallest_setting,
        params=totals.params, mult_adds=totals.mult_adds,
        reconstruction_mult_adds=counter.reconstruction_mult_adds(substitute, setting), budget=budget.label,
        budget_params=cap,
        budget_mult_adds=mult_adds_cap, dense_params=dense.params, dense_mult_adds=dense.mult_adds,
        reference=counter.reference, params_range=params_range, num_classes=counter.num_classes,
        input_size=counter.input_size, compat=counter.compat, convention=counter.convention.to_dict(),
        saturated=saturated,
        fixed_params=counter.fixed.params, fixed_mult_adds=round(counter.fixed.mult_adds), options=counter.options,
        select=counter.select if counter.select is None or isinstance(counter.select, str) else repr(counter.select),
        exclude=counter.exclude, source=counter.source,
    )


def solve_budget(model: ModelSpec, substitute: Union[str, Substitute], budget, *, mult_adds=None,
                 num_classes: Optional[int] = None, input_size: Optional[tuple] = None,
                 compat: Optional[str] = None, options: Optional[dict] = None, select=None, exclude=(),
                 rules: Optional[dict] = None) -> Solution:
    """The setting of ``substitute`` on ``model`` that best uses ``budget`` parameters.

    ``budget`` and ``mult_adds`` are absolute counts (``1200000``, ``"1.2M"``) or
    fractions of the dense model (``"0.1x"``). Raises
    :class:`~budgetsearch.errors.InfeasibleBudgetError` when no setting fits. When
    the budget is above the largest count the substitute reaches, the answer is
    that largest network, marked ``saturated``.
    ``compat`` builds and counts as :func:`~budgetsearch.models.create_model` and
    :func:`~budgetsearch.counting.count` do under that mode.

    ``model`` is anything :func:`~budgetsearch.models.create_model` builds: a
    registered name, a reference ``package.module:callable``, a callable returning
    an ``nn.Module`` (built with ``options``) or an ``nn.Module`` (copied, never
    modified); ``select`` and ``exclude`` choose its layers as
    :func:`~budgetsearch.models.substitute` does. ``rules`` is the operator table, as
    :func:`~budgetsearch.counting.count` takes it.
    """
    substitute = substitute if isinstance(substitute, Substitute) else get_substitute(substitute)
    budget = parse_budget(budget)
    mult_adds_budget = None if mult_adds is None else parse_budget(mult_adds, what="mult-adds cap")
    try:
        counter = network_counter(model, num_classes, None if input_size is None else tuple(input_size), compat,
                                  options=options, select=select, exclude=exclude, rules=rules)
        return _solve(counter, substitute, budget, mult_adds_budget)
    finally:
        SITE_COUNTS.save()  # what was counted, for the next process (an infeasible budget's counts too)


def _solve(counter: NetworkCounter, substitute: Substitute, budget: Budget, mult_adds_budget: Optional[Budget]):
    """:func:`solve_budget` on ``counter``'s network: parameters probed at every step, mult-adds only where capped."""
    cap = budget.resolve(counter.dense.params)
    mult_adds_cap = None if mult_adds_budget is None else mult_adds_budget.resolve(counter.dense.mult_adds)
    caps = f"{cap:,} params" + ("" if mult_adds_cap is None else f" and {mult_adds_cap:,} mult-adds")

    def fits(setting) -> bool:
        if counter.params(substitute, setting) > cap:
            return False
        return mult_adds_cap is None or counter.totals(substitute, setting).mult_adds <= mult_adds_cap

    hp = compat_hyperparameter(substitute, counter.compat)
    if hp is None:
        totals = counter.totals(substitute, None)
        if not fits(None):
            raise _infeasible(counter, substitute, budget.label,
                              f"it has no setting and counts {totals.params:,} params and {totals.mult_adds:,} "
                              f"mult-adds, over the caps of {caps}")
        return _solution(counter, substitute, None, budget, cap, mult_adds_cap, (totals.params, totals.params),
                         saturated=totals.params < cap)

    # Orient the domain so that the count grows from `small` to `large`.
    small, large = (lowest(hp), highest(hp)) if hp.grows else (highest(hp), lowest(hp))
    params_range = (counter.params(substitute, small), counter.params(substitute, large))
    if not fits(small):
        totals = counter.totals(substitute, small)
        raise _infeasible(counter, substitute, budget.label,
                          f"the caps are {caps}, but its smallest reachable count is {totals.params:,} params and "
                          f"{totals.mult_adds:,} mult-adds ({_at(hp, small)})")
    # Every setting fits and none reaches the budget: the searches below end at `large`.
    saturated = params_range[1] < cap and fits(large)
    if hp.grows:
        def params(setting) -> int:
            return counter.params(substitute, setting)

        edge = last_at_most(hp, small, large, params, cap) if mult_adds_cap is None else last_true(
            hp, small, large, fits)
        best = params(edge)
        setting = first_at_least(hp, small, edge, params, best)
        if hp.type is float:
            shortest = shortest_decimal_from(setting, lambda s: counter.params(substitute, s) == best and fits(s))
            return _solution(counter, substitute, shortest, budget, cap, mult_adds_cap, params_range, setting,
                             saturated)
    else:
        # The count falls as the setting grows: the fitting settings are the upper end of the
        # domain, and the smallest of them has the largest count.
        setting = first_true(hp, large, small, fits)
    return _solution(counter, substitute, setting, budget, cap, mult_adds_cap, params_range, saturated=saturated)
