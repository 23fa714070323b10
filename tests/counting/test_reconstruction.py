"""The per-step cost of rebuilding structured weights, against the rebuilds' own arithmetic written out."""

import copy
import json

import pytest
import torch

from budgetsearch import cli
from budgetsearch.counting import COUNTERS, count, reconstruction_mult_adds
from budgetsearch.counting import _reconstruction
from budgetsearch.counting._reconstruction import layer_reconstruction_mult_adds
from budgetsearch.models import create_model
from budgetsearch.solver import solve_budget
from budgetsearch.substitutes import shape_only
from budgetsearch.substitutes.acdc import ACDCPointwise

# wrn-16-4: two blocks per group, widths 64/128/256 after a 16-channel stem; each block has two 3×3 convs.
WRN_16_4_CONVS = [(16, 64), (64, 64), (64, 64), (64, 64), (64, 128), (128, 128), (128, 128), (128, 128),
                  (128, 256), (256, 256), (256, 256), (256, 256)]


def acdc_rebuild(n: int, c_in: int, c_out: int) -> int:
    """n factors on c = max(C_i, C_o) channels, and c² adds folding the widened or summed channels into
    (C_o, C_i) when they differ. Odd c: 2n - 1 dense c×c matmuls and 2n diagonal scalings of c² entries.
    Even c: each product with the DCT or its inverse is two (c/2)×(c/2) matmuls on c rows (c³/2) and c
    adds or subtractions (c² over the rows); the first factor's DCT is a scaled matrix (2c²), then one
    inverse product; every later factor scales twice (2c²) and runs one product of each."""
    c = max(c_in, c_out)
    fold = c * c if c_in != c_out else 0
    if c % 2:
        return (2 * n - 1) * c ** 3 + 2 * n * c ** 2 + fold
    first = 2 * c ** 2 + (c ** 3 // 2 + c ** 2)
    later = 2 * c ** 2 + 2 * (c ** 3 // 2 + c ** 2)
    return first + (n - 1) * later + fold


def meta_network(model, substitute):
    with shape_only():
        return create_model(model, substitute=substitute)


def test_acdc_12_on_wrn_16_4_costs_half_the_issue_s_1_76_g_per_step():
    # The issue's 1.76 G was dense c×c products; the DCT's symmetry halves them (all widths are even).
    expected = sum(acdc_rebuild(12, c_in, c_out) for c_in, c_out in WRN_16_4_CONVS)
    assert expected == 896_536_576  # 23·Σc³/2 = 880,279,552 of it from the matmuls
    assert reconstruction_mult_adds(meta_network("wrn-16-4", "ACDC_12")) == expected


def test_a_hashed_rebuild_negates_the_bank_and_gathers_for_free():
    # B = max(1, int(0.1·C_o·C_i·9)) shared values per 3×3; the signed bank [b, -b] costs B negations.
    expected = sum(max(1, int(0.1 * c_out * c_in * 9)) for c_in, c_out in WRN_16_4_CONVS)
    assert reconstruction_mult_adds(meta_network("wrn-16-4", "hashed:0.1")) == expected


@pytest.mark.parametrize("substitute", ["conv", "separable", "generic:0.2", "shuffle:4"])
def test_substitutes_with_plain_weights_rebuild_nothing(substitute):
    assert reconstruction_mult_adds(meta_network("wrn-16-4", substitute)) == 0


# (C_i, C_o): odd and even c, equal, widened (C_o > C_i) and summed (C_o < C_i) channels.
ACDC_CHANNELS = [(5, 5), (6, 6), (4, 9), (3, 8), (9, 4), (10, 4), (7, 10)]


@pytest.mark.parametrize("counter", sorted(COUNTERS))
@pytest.mark.parametrize("c_in, c_out", ACDC_CHANNELS)
@pytest.mark.parametrize("factors", [1, 2, 3, 4, 7])
def test_acdc_s_rebuild_extrapolated_from_two_factors_equals_its_full_count(counter, c_in, c_out, factors):
    with shape_only():
        layer = ACDCPointwise(c_in, c_out, factors)
    full = _reconstruction._rebuild_count(layer, counter)
    assert layer_reconstruction_mult_adds(layer, counter) == full == acdc_rebuild(factors, c_in, c_out)


@pytest.mark.parametrize("counter", sorted(COUNTERS))
@pytest.mark.parametrize("c_in, c_out", [(6, 6), (5, 5), (4, 10)])
def test_acdc_without_the_inner_riffle_extrapolates_exactly_too(counter, c_in, c_out):
    layer = ACDCPointwise(c_in, c_out, 5, inner_riffle=False)
    full = _reconstruction._rebuild_count(copy.deepcopy(layer).to("meta"), counter)
    assert layer_reconstruction_mult_adds(layer, counter) == full


def test_a_long_acdc_stack_is_counted_from_copies_of_at_most_two_factors(monkeypatch):
    counted_factors = []
    full_count = _reconstruction._rebuild_count

    def spy(shadow, counter):
        counted_factors.append(shadow.factors)
        return full_count(shadow, counter)

    monkeypatch.setattr(_reconstruction, "_rebuild_count", spy)
    with shape_only():
        layer = ACDCPointwise(320, 640, 128)
    assert layer_reconstruction_mult_adds(layer) == acdc_rebuild(128, 320, 640)
    assert sorted(counted_factors) == [1, 2] and layer.factors == 128 and tuple(layer.a.shape) == (128, 640)


def test_count_reports_it_beside_the_per_image_figure_independent_of_the_real_weights():
    torch.manual_seed(0)
    model = create_model("wrn-10-1", substitute="acdc:3")
    widths = [(16, 16), (16, 16), (16, 32), (32, 32), (32, 64), (64, 64)]
    result = count(model, (3, 32, 32))
    assert result.reconstruction_mult_adds == sum(acdc_rebuild(3, i, o) for i, o in widths)
    assert result.to_dict()["reconstruction_mult_adds"] == result.reconstruction_mult_adds


@pytest.mark.parametrize("substitute", ["acdc", "tensor-train", "tucker", "cp", "lowrank", "sep-hashed"])
def test_the_solver_s_per_site_figure_equals_the_whole_network_s(substitute):
    solution = solve_budget("wrn-10-1", substitute, "0.3x")
    whole = count(solution.build(), solution.input_size)
    assert solution.reconstruction_mult_adds == whole.reconstruction_mult_adds > 0
    assert solution.to_dict()["reconstruction_mult_adds"] == solution.reconstruction_mult_adds


def test_count_command_prints_it(capsys):
    assert cli.main(["count", "--model", "wrn-16-4", "--substitute", "ACDC_12", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["reconstruction_mult_adds"] == 896_536_576 and out["mult_adds"] < 10 ** 8
    assert cli.main(["count", "--model", "wrn-16-4", "--substitute", "ACDC_12"]) == 0
    assert "reconstruction_mult_adds" in capsys.readouterr().out
