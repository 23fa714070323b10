"""The solver on models it has no family for: callables, modules, selections; the fixed part and rules.

Expectations: the network the solution builds, counted whole by :func:`count` and
Σnumel, and for the fixed part the layers left alone, summed by hand.
"""

from __future__ import annotations

import pytest
from torch import nn

from budgetsearch.counting import count, default_rules
from budgetsearch.errors import CountingError, InfeasibleBudgetError
from budgetsearch.solver import settings_curve, solve_budget

SIZE = (3, 12, 12)


def small_cnn(num_classes=10, width=16):
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1),
                         nn.ReLU(), nn.Conv2d(width, width, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(width, num_classes))


@pytest.mark.parametrize("substitute, budget", [("tucker", "0.3x"), ("generic", "0.4x"), ("hashed", "0.5x")])
@pytest.mark.parametrize("select", [None, "convs"])
def test_a_callable_is_solved_within_budget_and_builds_what_was_counted(substitute, budget, select):
    solution = solve_budget(small_cnn, substitute, budget, input_size=SIZE, options={"width": 24}, select=select)
    network = solution.build()
    counted = count(network, SIZE)
    assert solution.params == counted.params == sum(p.numel() for p in network.parameters())
    assert solution.mult_adds == counted.mult_adds and solution.params <= solution.budget_params
    assert solution.dense_params == sum(p.numel() for p in small_cnn(width=24).parameters())
    head = 24 * 10 + 10
    pointwise = 24 * 24 + 24
    assert solution.fixed_params == head + (pointwise if select is None else 0)


def test_a_module_passed_in_is_never_modified_and_exclude_keeps_a_layer_dense():
    module = small_cnn()
    before = [type(m) for m in module]
    solution = solve_budget(module, "generic", "0.4x", input_size=SIZE, exclude=["0"])
    assert [type(m) for m in module] == before
    built = solution.build()
    assert type(built[0]) is nn.Conv2d and type(built[2]) is not nn.Conv2d
    stem = 3 * 16 * 9 + 16
    assert solution.fixed_params == stem + (16 * 16 + 16) + (16 * 10 + 10)


def test_an_infeasible_budget_names_the_fixed_part():
    fixed = (16 * 16 + 16) + (16 * 10 + 10)
    with pytest.raises(InfeasibleBudgetError, match=f"the fixed part .* holds {fixed:,} params"):
        solve_budget(small_cnn, "tucker", 300, input_size=SIZE)


def test_rules_reach_the_solver_and_the_curves():
    def gelu_cnn():
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.GELU(), nn.Conv2d(8, 8, 3, padding=1))

    rules = default_rules()
    rules.pop("aten::gelu", None)
    with pytest.raises(CountingError, match="aten::gelu"):
        solve_budget(gelu_cnn, "tucker", "0.3x", input_size=SIZE, rules=rules)
    rules["aten::gelu"] = lambda inputs, outputs: 1000  # a convention made up here, to be seen in the total
    solution = solve_budget(gelu_cnn, "tucker", "0.3x", input_size=SIZE, rules=rules)
    assert solution.mult_adds == count(solution.build(), SIZE, rules=rules).mult_adds
    curve = settings_curve(gelu_cnn, ["tucker"], points=3, input_size=SIZE, rules=rules)
    assert len(curve) == 3 and (curve["model"] == solution.model).all()
