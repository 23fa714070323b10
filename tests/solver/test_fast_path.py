"""The solver's fast path (parameters from layer shapes, per-site counts remembered) against whole networks traced.

On every model and substitute of the combination matrix, the solution's setting is checked where it is decided:
the whole network, built and traced by fvcore at the setting, has the solution's parameters and mult-adds; the
whole network one step beyond the winning plateau is over the budget, and one step before the plateau's first
setting it has fewer parameters. So a solver that counted whole networks at every probe would stop at the same
setting with the same counts.
"""

from __future__ import annotations

import math

import pytest

from budgetsearch.counting import build_for_counting, count_model, count_parameters
from budgetsearch.errors import BudgetSearchError
from budgetsearch.solver import network_counter, solve_budget
from budgetsearch.solver._search import highest, last_true, lowest
from budgetsearch.substitutes import get_substitute, linear_substitutes, list_substitutes

from combinations import CASES

pytest.importorskip("transformers")

NUM_CLASSES = 10


def _traced(case, substitute: str, setting) -> tuple:
    """(params, mult-adds) of the whole network built at ``setting`` and traced by fvcore."""
    counted = count_model(case.model, substitute, setting, num_classes=NUM_CLASSES, input_size=case.input_size,
                          **case.options)
    return counted.params, counted.mult_adds


def _whole_params(case, substitute: str, setting) -> int:
    """Parameters of the whole network built at ``setting`` (fvcore's count and the unique tensors', which agree)."""
    return count_parameters(build_for_counting(case.model, substitute, setting, num_classes=NUM_CLASSES,
                                               input_size=case.input_size, **case.options))


def _step(hp, setting, direction: int):
    """The next setting of the domain above (``direction`` 1) or below (-1), or None past its end."""
    nearer = setting + direction if hp.type is int else math.nextafter(setting, direction * math.inf)
    return nearer if lowest(hp) <= nearer <= highest(hp) else None


@pytest.mark.parametrize("model, substitute", [pytest.param(m, s, id=f"{m}-{s}") for m in CASES
                                               for s in list_substitutes()])
def test_the_fast_path_decides_as_whole_traced_networks_do(model, substitute):
    case = CASES[model]
    counter = network_counter(case.model, NUM_CLASSES, case.input_size, options=case.options)
    found = get_substitute(substitute)
    if substitute not in linear_substitutes() and any(site.kind == "linear" for site in counter.sites):
        with pytest.raises(BudgetSearchError, match=substitute):
            solve_budget(case.model, substitute, 10 ** 12, num_classes=NUM_CLASSES, input_size=case.input_size,
                         options=case.options)
        return
    hp = found.hyperparameter
    low, high = (None, None) if hp is None else sorted((counter.params(found, lowest(hp)),
                                                        counter.params(found, highest(hp))))
    budget = counter.params(found, None) if hp is None else low + (high - low) // 20  # small layers: quick traces
    solution = solve_budget(case.model, substitute, budget, num_classes=NUM_CLASSES, input_size=case.input_size,
                            options=case.options)

    assert _traced(case, substitute, solution.setting) == (solution.params, solution.mult_adds)
    if hp is None:
        return
    assert _traced(case, substitute, solution.smallest_setting) == (solution.params, solution.mult_adds)
    if hp.grows:
        # The plateau's first setting: one step below has fewer parameters.
        below = _step(hp, solution.smallest_setting, -1)
        if below is not None:
            assert _whole_params(case, substitute, below) < solution.params
        # The plateau's last setting (found fast, checked traced): one step above is over the budget.
        last = last_true(hp, solution.smallest_setting, highest(hp), lambda s: counter.params(found, s) == solution.params)
        assert _whole_params(case, substitute, last) == solution.params
        above = _step(hp, last, 1)
        if above is not None:
            assert _whole_params(case, substitute, above) > budget
    else:
        # Fewer parameters as the setting grows: the answer is the smallest setting that fits.
        below = _step(hp, solution.setting, -1)
        if below is not None:
            assert _whole_params(case, substitute, below) > budget
