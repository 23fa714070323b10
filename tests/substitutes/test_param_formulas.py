"""Substitutes' parameter formulas (``Substitute.params``), against the layers they describe, and the solver on them."""

import dataclasses

import pytest

from budgetsearch.solver import solve_budget
from budgetsearch.solver._search import highest, lowest
from budgetsearch.substitutes import get_substitute, list_substitutes, shape_only

WITH_FORMULA = [name for name in list_substitutes() if get_substitute(name).params is not None]
# (C_i, C_o, kernel): equal, widened and summed channels, odd and even, square and not, 1×1 and k×k.
GEOMETRIES = [(16, 160, 3), (160, 160, 3), (7, 5, 1), (5, 9, (1, 3)), (9, 4, 3), (3, 3, 5), (320, 640, 3),
              (1, 6, 1), (12, 1, 3)]


def settings(name: str) -> list:
    """The domain's ends and points between them."""
    hp = get_substitute(name).hyperparameter
    low, high = lowest(hp), highest(hp)
    inner = [low + (high - low) * f for f in (0.01, 0.1, 0.3, 0.55, 0.9)]
    return sorted({low, high, *(round(v) if hp.type is int else v for v in inner)})


def trainable(layer) -> int:
    return sum(p.numel() for p in layer.parameters() if p.requires_grad)


def test_the_families_listed_have_formulas():
    assert {"acdc", "cp", "tensor-train", "tucker", "lowrank", "generic"} <= set(WITH_FORMULA)


@pytest.mark.parametrize("name", WITH_FORMULA)
@pytest.mark.parametrize("c_in, c_out, kernel", GEOMETRIES)
@pytest.mark.parametrize("bias", [False, True])
def test_a_formula_counts_the_trainable_parameters_of_the_layer_built(name, c_in, c_out, kernel, bias):
    substitute = get_substitute(name)
    pair = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    for setting in settings(name):
        factory = substitute.factory(setting)
        with shape_only():
            conv = factory(c_in, c_out, kernel, padding=1, bias=bias)
            linear = factory.linear(c_in, c_out, bias=bias) if substitute.linear is not None else None
        resolved = substitute.resolve(c_in, c_out, pair, setting)
        assert substitute.params(c_in, c_out, pair, bias, resolved) == trainable(conv), (setting, conv)
        if linear is not None:  # a linear form counts as its 1×1
            assert substitute.params(c_in, c_out, (1, 1), bias, substitute.resolve(c_in, c_out, (1, 1), setting)) \
                == trainable(linear), (setting, linear)


@pytest.mark.parametrize("name", WITH_FORMULA)
@pytest.mark.parametrize("model, budgets", [("wrn-16-4", ("0.05x", "0.2x", "0.6x")), ("vit-6-256", ("0.1x",))])
def test_the_solver_finds_what_it_finds_by_building_every_probe(name, model, budgets):
    formula = get_substitute(name)
    built = dataclasses.replace(formula, params=None)
    for budget in budgets:
        assert solve_budget(model, formula, budget) == solve_budget(model, built, budget)
