"""Compression-ratio-scaled weight decay: groups by module type, sizes from the architecture's formulas."""

import pytest
from torch import nn

from budgetsearch.counting import count
from budgetsearch.models import create_model
from budgetsearch.substitutes import get_substitute, list_substitutes, parse_substitute
from budgetsearch.training import reference_ratio, weight_decay_groups
from budgetsearch.training._architecture import resolve_architecture

# WRN-16-2: n = 2 blocks per group, widths 16 / 32 / 64 / 128 (depth 6n + 4).
# The substituted 3x3 convs, as (C_in, C_out):
WRN_16_2_CONVS = [(16, 32), (32, 32), (32, 32), (32, 32),
                  (32, 64), (64, 64), (64, 64), (64, 64),
                  (64, 128), (128, 128), (128, 128), (128, 128)]
# Never substituted: stem 3->16 3x3, 1x1 shortcuts 16->32, 32->64, 64->128, every BN (weight + bias),
# the final BN of 128 and the FC 128->10 with bias.
BN_CHANNELS = [16, 32, 32, 32, 32, 64, 64, 64, 64, 128, 128, 128, 128]
FIXED = 3 * 16 * 9 + (16 * 32 + 32 * 64 + 64 * 128) + 2 * sum(BN_CHANNELS) + 128 * 10 + 10
DENSE = FIXED + sum(ci * co * 9 for ci, co in WRN_16_2_CONVS)


def test_dense_wrn_16_2_total_is_the_formula():
    assert DENSE == 691_674
    assert sum(p.numel() for p in create_model("wrn-16-2").parameters()) == DENSE


@pytest.mark.parametrize("factors", [1, 4, 12])
def test_acdc_groups_match_the_layer_formula(factors):
    # budgetsearch's ACDC: each conv is a depthwise 3x3 (C_in·9, base decay)
    # plus n factors of 2·c parameters, c = max(C_in, C_out) (compressed).
    compressed = sum(2 * max(ci, co) * factors for ci, co in WRN_16_2_CONVS)
    depthwise = sum(ci * 9 for ci, _ in WRN_16_2_CONVS)
    total = FIXED + depthwise + compressed
    factory = parse_substitute("acdc", factors)
    model = create_model("wrn-16-2", substitute=factory)
    ratio, params, dense = reference_ratio(resolve_architecture("wrn-16-2", factory, None, 10, (3, 32, 32)))
    assert (params, dense) == (total, DENSE) and ratio == pytest.approx(total / DENSE, rel=1e-15)

    _, records = weight_decay_groups(model, factory, ratio, 5e-4, crs=True)
    by_name = {r.name: r for r in records}
    assert by_name["compressed"].params == compressed
    assert by_name["compressed"].tensors == 2 * len(WRN_16_2_CONVS)  # a and d of every conv
    assert by_name["compressed"].weight_decay == pytest.approx(5e-4 * total / DENSE, rel=1e-12)
    assert by_name["compressed"].module_types == ("ACDCPointwise",)
    assert by_name["base"].params == FIXED + depthwise and by_name["base"].weight_decay == 5e-4


def test_reference_ratio_example_from_the_original():
    # The original study: Shuffle_1 on WRN-28-10 gives rho = 0.065357 (2,384,154 / 36,479,194 params).
    ratio, params, dense = reference_ratio(resolve_architecture("wrn-28-10", "Shuffle_1", None, 10, (3, 32, 32)))
    assert (params, dense) == (2_384_154, 36_479_194)
    assert ratio == pytest.approx(0.065357, abs=5e-7)


SUBSTITUTES_WITH_SETTINGS = {"hashed": 0.1, "sep-hashed": 0.2, "generic": 0.2, "lowrank": 0.25, "shuffle": 4,
                             "acdc": 3, "tensor-train": 0.4, "tucker": 0.4, "cp": 0.4, "monarch": 4, "butterfly": 2,
                             "kronecker": 2, "btt": 2, "blast": 2}


@pytest.mark.parametrize("name", [n for n in list_substitutes() if get_substitute(n).compressed_types])
def test_every_registered_substitute_gets_its_compressed_weights_grouped(name):
    # The group must hold exactly the parameters inside modules of the registered compressed types,
    # whatever the parameters are called; the fixed part of the WRN always stays in the base group.
    assert name in SUBSTITUTES_WITH_SETTINGS, f"add a setting for the new substitute {name!r}"
    factory = parse_substitute(name, SUBSTITUTES_WITH_SETTINGS[name])
    model = create_model("wrn-16-2", substitute=factory)
    types = get_substitute(name).compressed_types
    inside = {id(p) for m in model.modules() if isinstance(m, types) for p in m.parameters()}
    expected = sum(p.numel() for p in model.parameters() if id(p) in inside)
    groups, records = weight_decay_groups(model, factory, 0.25, 1e-3, crs=True)
    by_name = {r.name: r for r in records}
    total = sum(p.numel() for p in model.parameters())
    assert by_name["compressed"].params == expected > 0
    assert by_name["base"].params == total - expected >= FIXED
    assert {g["name"]: g["weight_decay"] for g in groups} == {"compressed": pytest.approx(2.5e-4), "base": 1e-3}
    fixed = [model.stem, model.fc, model.bn] + [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    base_ids = {id(p) for g in groups if g["name"] == "base" for p in g["params"]}
    assert all(id(p) in base_ids for m in fixed for p in m.parameters())


def test_crs_off_keeps_the_split_but_not_the_scaling():
    factory = parse_substitute("tucker", 0.4)
    model = create_model("wrn-16-2", substitute=factory)
    groups, records = weight_decay_groups(model, factory, 0.05, 5e-4, crs=False)
    assert [g["weight_decay"] for g in groups] == [5e-4, 5e-4]
    assert records[0].params > 0


def test_dense_network_has_an_empty_compressed_group():
    factory = parse_substitute("conv")
    model = create_model("wrn-16-2")
    groups, records = weight_decay_groups(model, factory, 1.0, 5e-4, crs=True)
    assert [g["name"] for g in groups] == ["base"] and records[0].params == 0
    assert records[1].params == DENSE


def test_the_ratio_is_the_counters_count_so_darts_auxiliary_head_is_left_out():
    # DARTS's reference is its own separable convs. The auxiliary head runs only in training: the
    # solver's budget does not count it, so neither does ρ.
    architecture = resolve_architecture("darts", "tucker", 0.3, 10, (3, 32, 32), {"channels": 4, "layers": 3})
    ratio, params, reference = reference_ratio(architecture)
    student, dense = architecture.build(), resolve_architecture("darts", "separable", None, 10, (3, 32, 32),
                                                                 {"channels": 4, "layers": 3}).build()
    assert (params, reference) == (count(student, (3, 32, 32)).params, count(dense, (3, 32, 32)).params)
    assert ratio == params / reference
    head = sum(p.numel() for p in student.auxiliary_head.parameters())
    assert head > 0 and params == sum(p.numel() for p in student.parameters()) - head
