"""The budget solver against brute force, against the counter, and on its errors.

The brute force counts the network at every candidate setting (no bisection),
as its fixed part plus each substituted layer built on the meta device: the whole integer
domain, or for float settings a fine grid plus the plateau edges of each
layer's rank or budget formula, worked out here from the documented formulas.
"""

from __future__ import annotations

import math

import pytest
import torch

from budgetsearch.counting import count
from budgetsearch.errors import ConfigError, InfeasibleBudgetError
from budgetsearch.models import create_model, model_defaults
from budgetsearch.solver import network_counter, parse_budget, solve_budget
from budgetsearch.substitutes import shape_only
from budgetsearch.substitutes import get_substitute, list_substitutes
from budgetsearch.substitutes._tensor_shapes import dimensionize

TUNABLE = [n for n in list_substitutes() if get_substitute(n).hyperparameter is not None]


def network_params(model: str, substitute: str, setting) -> int:
    """The network's parameters: its fixed part plus every substituted layer, each layer built on its own.

    A layer is built (on the meta device) once per geometry and resolved size, so the brute force
    over thousands of settings of WRN-28-10 builds a few hundred small layers instead of thousands of
    networks. :func:`test_the_layer_sum_is_the_whole_network` checks the decomposition.
    """
    found = get_substitute(substitute)
    sites = network_counter(model).sites
    return fixed_params(model) + sum(n * layer_params(site, found, setting) for site, n in sites.items())


def layer_params(site, substitute, setting) -> int:
    key = (site, substitute.name, substitute.resolve(site.in_channels, site.out_channels, site.kernel_size, setting))
    if key not in _LAYERS:
        with shape_only():  # initialisation skipped: meta tensors hold no values
            _LAYERS[key] = sum(p.numel() for p in site.build(substitute, setting).parameters())
    return _LAYERS[key]


def fixed_params(model: str) -> int:
    """Everything but the substituted layers: the dense network less its dense layers at the sites."""
    if model not in _FIXED:
        with shape_only():
            dense = sum(p.numel() for p in create_model(model).parameters())
        reference = get_substitute(model_defaults(model)[2])
        _FIXED[model] = dense - sum(n * layer_params(site, reference, None)
                                    for site, n in network_counter(model).sites.items())
    return _FIXED[model]


def whole_network_params(model: str, substitute: str, setting) -> int:
    with shape_only():
        network = create_model(model, substitute=get_substitute(substitute).factory(setting))
    return sum(p.numel() for p in network.parameters())


_LAYERS: dict = {}
_FIXED: dict = {}


@pytest.mark.parametrize("model", ["wrn-16-4", "wrn-28-10"])
@pytest.mark.parametrize("substitute", TUNABLE)
def test_the_layer_sum_is_the_whole_network(model, substitute):
    for setting in (candidates(model, substitute)[0], candidates(model, substitute)[-1]):
        assert network_params(model, substitute, setting) == whole_network_params(model, substitute, setting)


def plateau_edges(model: str, substitute: str) -> set:
    """Settings where some layer's rank (or hash budget) steps, from the documented formulas."""
    edges = set()
    for site in network_counter(model).sites:
        c_in, c_out = site.in_channels, site.out_channels
        if substitute in ("generic", "lowrank"):
            edges |= {j / max(c_in, c_out) for j in range(1, max(c_in, c_out) + 1)}
        elif substitute in ("tensor-train", "tucker"):
            edges |= {(j + 0.5) / d for d in dimensionize(c_out, c_in) for j in range(d)}
        elif substitute == "cp":
            dims = dimensionize(c_out, c_in)
            scale = c_out * c_in / sum(dims)
            edges |= {(j + 0.5) / scale for j in range(int(scale) + 1)}
    # Both sides of each edge: round-half-even and float products land on either.
    return {s for e in edges if 0 < e <= 1 for s in (e, math.nextafter(e, 0), math.nextafter(e, 2)) if 0 < s <= 1}


def candidates(model: str, substitute: str) -> list:
    hp = get_substitute(substitute).hyperparameter
    if hp.type is int:
        return list(range(int(hp.low), int(hp.high) + 1))
    grid = {round(0.002 * i, 3) for i in range(1, 501)}
    return sorted(grid | plateau_edges(model, substitute))


def brute_force(model: str, substitute: str, cap: int):
    """(count, setting): the largest count <= cap, and the smallest setting reaching it."""
    fitting = [(network_params(model, substitute, s), s) for s in candidates(model, substitute)]
    fitting = [(n, s) for n, s in fitting if n <= cap]
    best = max(n for n, _ in fitting)
    return best, min(s for n, s in fitting if n == best)


def spread_of_budgets(model: str, substitute: str, num_classes=None) -> list:
    low, high = sorted(network_counter(model, num_classes).params(get_substitute(substitute), s)
                       for s in (candidates(model, substitute)[0], candidates(model, substitute)[-1]))
    return [int(low + (high - low) * f) for f in (0.02, 0.1, 0.3, 0.55, 0.8, 0.97)]


@pytest.mark.parametrize("substitute", TUNABLE)
def test_solver_matches_brute_force_on_wrn_16_4(substitute):
    for cap in spread_of_budgets("wrn-16-4", substitute):
        solution = solve_budget("wrn-16-4", substitute, cap)
        best, smallest = brute_force("wrn-16-4", substitute, cap)
        assert solution.params == network_params("wrn-16-4", substitute, solution.setting)
        assert solution.params <= cap
        if get_substitute(substitute).hyperparameter.type is int:
            assert (solution.params, solution.setting) == (best, smallest)
        else:
            # Float settings: never worse than any candidate; smallest_setting is the plateau's exact
            # left edge, and setting a shorter decimal on the same plateau.
            assert solution.params >= best
            if solution.params == best:
                assert solution.smallest_setting <= smallest
            below = math.nextafter(solution.smallest_setting, 0)
            assert below <= 0 or network_params("wrn-16-4", substitute, below) < solution.params
            assert network_params("wrn-16-4", substitute, solution.smallest_setting) == solution.params
            assert solution.smallest_setting <= solution.setting


@pytest.mark.parametrize("substitute", TUNABLE)
def test_solver_matches_brute_force_on_wrn_28_10(substitute):
    for cap in spread_of_budgets("wrn-28-10", substitute):
        solution = solve_budget("wrn-28-10", substitute, cap)
        best, smallest = brute_force("wrn-28-10", substitute, cap)
        assert solution.params <= cap and solution.params >= best
        assert solution.params == network_params("wrn-28-10", substitute, solution.setting)
        if solution.params == best:
            assert solution.smallest_setting <= smallest


@pytest.mark.parametrize("substitute,budget", [
    ("shuffle", "0.6M"),
    ("generic", "1.2M"),
    ("acdc", "1.2M"),
    ("tensor-train", "0.6M"),
])
def test_brute_force_on_wrn_28_10_at_the_papers_budgets(substitute, budget):
    cap = parse_budget(budget).resolve(36_479_194)
    solution = solve_budget("wrn-28-10", substitute, budget)
    best, smallest = brute_force("wrn-28-10", substitute, cap)
    assert (solution.params, solution.smallest_setting) == (best, smallest) or (
        get_substitute(substitute).hyperparameter.type is float and solution.params >= best)


@pytest.mark.parametrize("substitute", list_substitutes())
def test_the_solution_builds_a_model_the_counter_counts_exactly(substitute):
    counter = network_counter("wrn-10-2", num_classes=7)
    budget = counter.params(get_substitute(substitute), None) if substitute in ("conv", "separable") else (
        sum(spread_of_budgets("wrn-10-2", substitute, num_classes=7)[2:4]) // 2)
    solution = solve_budget("wrn-10-2", substitute, budget, num_classes=7)
    counted = count(solution.build(), solution.input_size)
    assert (counted.params, counted.mult_adds) == (solution.params, solution.mult_adds)
    dense = count(create_model("wrn-10-2", num_classes=7), (3, 32, 32))
    assert (solution.dense_params, solution.dense_mult_adds) == (dense.params, dense.mult_adds)
    assert solution.ratio == pytest.approx(counted.params / dense.params)
    assert solution.slack == solution.budget_params - solution.params >= 0


def test_the_original_studys_hand_picked_settings_are_the_solvers_answers():
    # The original study's table: Shuffle_8 (563,594) is the largest ShuffleNet under 0.6M; Generic_0.1 gives 1,190,634.
    assert solve_budget("wrn-28-10", "shuffle", 600_000).setting == 8
    assert solve_budget("wrn-28-10", "Shuffle", 1_000_000).setting == 4
    generic = solve_budget("wrn-28-10", "generic", 1_190_634)
    assert generic.params == 1_190_634 and int(generic.setting * 640) == 64


def test_groups_that_divide_nothing_are_never_returned():
    for cap in (600_000, 700_000, 900_000, 1_500_000):
        groups = solve_budget("wrn-28-10", "shuffle", cap).setting
        assert all(c % groups == 0 for c in (16, 160, 320, 640, 40, 80, 160))


def test_a_mult_adds_cap_holds_together_with_the_parameter_budget():
    loose = solve_budget("wrn-16-4", "generic", "0.2x")
    capped = solve_budget("wrn-16-4", "generic", "0.2x", mult_adds=loose.mult_adds // 2)
    assert capped.mult_adds <= loose.mult_adds // 2 < loose.mult_adds
    assert capped.params < loose.params
    nudged = math.nextafter(capped.setting, 2)
    assert network_counter("wrn-16-4").totals(get_substitute("generic"), nudged).mult_adds >= capped.mult_adds


def test_substitutes_without_a_setting_report_whether_they_fit():
    assert solve_budget("wrn-16-4", "separable", "0.2x").setting is None
    with pytest.raises(InfeasibleBudgetError, match=r"separable.*no setting"):
        solve_budget("wrn-16-4", "separable", "0.05x")


def test_a_budget_below_every_setting_names_the_smallest_reachable_count():
    smallest = network_params("wrn-16-4", "generic", math.nextafter(0, 1))
    with pytest.raises(InfeasibleBudgetError, match=f"generic.*1000.*smallest reachable count is {smallest:,}"):
        solve_budget("wrn-16-4", "generic", 1000)


def test_a_budget_above_every_setting_gets_the_largest_network_marked_saturated():
    # The original study's Shuffle_1 at its 2.4M budget (2,384,154 params).
    largest = network_params("wrn-28-10", "shuffle", 1)
    solution = solve_budget("wrn-28-10", "shuffle", "2.4M")
    assert (solution.setting, solution.params, solution.saturated) == (1, largest, True)
    assert solution.fill == largest / 2_400_000 == solution.to_dict()["fill"]
    assert solution.to_dict()["saturated"] is True


def test_a_saturated_float_setting_is_the_start_of_the_top_plateau():
    # generic's rank r = max(1, int(h·c)) reaches c only at h = 1: every h below it builds a smaller network.
    top = network_params("wrn-10-1", "generic", 1.0)
    solution = solve_budget("wrn-10-1", "generic", "0.9x")
    assert solution.saturated and solution.params == top < solution.budget_params
    assert network_params("wrn-10-1", "generic", math.nextafter(solution.smallest_setting, 0)) < top


def test_a_met_budget_is_not_saturated_and_its_fill_is_params_over_budget():
    solution = solve_budget("wrn-28-10", "shuffle", 2_384_154)  # exactly Shuffle_1
    assert not solution.saturated and solution.fill == 1.0
    fixed = solve_budget("wrn-16-4", "separable", "0.2x")
    assert fixed.saturated and fixed.fill == fixed.params / int(0.2 * 2_748_890)


@pytest.mark.parametrize("text,expected", [("1.2M", 1_200_000), ("1.1m", 1_100_000), ("600K", 600_000),
                                           ("6e8", 600_000_000), (1200000, 1_200_000), ("1.5G", 1_500_000_000)])
def test_absolute_budgets_parse_exactly(text, expected):
    assert parse_budget(text).resolve(10**12) == expected


def test_fraction_budgets_are_of_the_dense_model_and_round_down():
    assert parse_budget("0.1x").resolve(36_479_194) == 3_647_919


@pytest.mark.parametrize("text", ["1.2Q", "abc", "-5", "0x", "1.5x", "2.5", "", True])
def test_bad_budget_strings_show_the_string_and_the_accepted_forms(text):
    with pytest.raises(ConfigError, match=r"budget.*but got") as error:
        parse_budget(text)
    assert "0.1x" in str(error.value) or "(0, 1]" in str(error.value)


def test_solving_leaves_the_global_random_stream_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    solve_budget("wrn-10-1", "hashed", "0.2x")
    assert torch.equal(torch.rand(3), expected)


def test_solutions_for_one_channel_inputs_build_and_count_exactly():
    # digits: 1×8×8 images; the stem takes the input's channels.
    solution = solve_budget("wrn-10-2", "tucker", "0.1x", num_classes=10, input_size=(1, 8, 8))
    counted = count(solution.build(), (1, 8, 8))
    assert (counted.params, counted.mult_adds) == (solution.params, solution.mult_adds)


def test_float_settings_are_written_with_the_fewest_decimals_their_plateau_allows():
    # The original study's hand-picked TensorTrain_0.23 (598,200 params) is what a 598,200 budget gives.
    solution = solve_budget("wrn-28-10", "tensor-train", 598_200)
    assert (solution.setting, solution.params) == (0.23, 598_200)
    assert solution.smallest_setting == 0.22999999999999998
    # A plateau that starts at the open bound 0 gets a readable setting, not 5e-324.
    floor = solve_budget("wrn-10-1", "generic", "0.08x")
    assert floor.setting == 0.01 and floor.smallest_setting < 1e-300
    assert network_params("wrn-10-1", "generic", 0.01) == floor.params


def test_an_open_lower_bound_is_named_as_a_limit_not_as_the_smallest_float():
    with pytest.raises(InfeasibleBudgetError, match="rank_scale → 0") as error:
        solve_budget("wrn-16-4", "tucker", 1000)
    assert "e-324" not in str(error.value)
