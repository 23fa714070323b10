"""Compatibility mode "deficient-efficient" against the original's published integers."""

import math

import pytest
import torch

from budgetsearch.compat import MODES, compat_factory
from budgetsearch.counting import count, count_model, zero_filled
from budgetsearch.errors import ConfigError
from budgetsearch.models import create_model
from budgetsearch.substitutes import shape_only

MODE = "deficient-efficient"

# The original's WRN-28-10 on CIFAR-10 (32×32): setting -> (params, mult-adds), every row.
SEPARABLE_MULT_ADDS = 629_696_778
WRN_28_10 = {
    "Conv": (36_479_194, 5_245_638_922),
    "Sep": (4_380_138, SEPARABLE_MULT_ADDS),
    "HashedDecimate": (3_911_898, 5_245_638_922),
    "SepHashedDecimate": (3_911_898, SEPARABLE_MULT_ADDS),
    "Hashed_0.01": (654_272, 5_245_638_922),
    "ACDC": (555_498, 1_338_791_913),
    "OriginalACDC": (555_498, 1_338_791_913),
    "ACDC_12": (555_498, 1_338_791_913),
    "ACDC_2": (376_298, 167_488_845),
    "ACDC_6": (447_978, 636_010_072),
    "ACDC_15": (609_258, 1_690_182_833),
    "ACDC_48": (1_200_618, 5_555_482_958),
    "ACDC_64": (1_487_338, 7_429_567_866),
    "SepHashed_0.05": (568_426, SEPARABLE_MULT_ADDS),
    "SepHashed_0.09": (729_296, SEPARABLE_MULT_ADDS),
    "SepHashed_0.2": (1_171_690, SEPARABLE_MULT_ADDS),
    "SepHashed_0.38": (1_895_606, SEPARABLE_MULT_ADDS),
    "SepHashed_0.5": (2_378_218, SEPARABLE_MULT_ADDS),
    "Generic_0.03": (601_162, 83_745_034),
    "Generic_0.06": (851_322, 120_875_274),
    "Generic_0.1": (1_190_634, 171_206_922),
    "Generic_0.12": (1_346_682, 193_865_994),
    "Generic_0.24": (2_344_906, 338_008_330),
    "LR_0.1": (788_458, 176_187_658),
    "LR_0.25": (1_433_578, 364_931_338),
    "LR_0.5": (2_508_778, 679_504_138),
    "Shuffle_1": (2_384_154, 358_537_482),
    "Shuffle_2": (1_343_834, 197_646_602),
    "Shuffle_3": (1_343_834, 197_646_602),
    "Shuffle_4": (823_674, 117_201_162),
    "Shuffle_7": (719_994, 101_472_522),
    "Shuffle_8": (563_594, 76_978_442),
    "Shuffle_16": (437_354, 60_758_282),
    "Shuffle_32": (378_314, 51_296_522),
    **{f"TensorTrain_{h}": (p, SEPARABLE_MULT_ADDS) for h, p in [
        ("0.1", 407_298), ("0.23", 598_200), ("0.26", 664_226), ("0.27", 690_465), ("0.41", 1_075_080),
        ("0.44", 1_181_863), ("0.59", 1_840_487), ("0.7", 2_413_390), ("0.8", 3_029_622)]},
    **{f"Tucker_{h}": (p, SEPARABLE_MULT_ADDS) for h, p in [
        ("0.1", 402_088), ("0.21", 592_947), ("0.24", 655_095), ("0.25", 681_248), ("0.37", 1_032_744),
        ("0.4", 1_134_012), ("0.41", 1_150_364), ("0.54", 1_703_831), ("0.67", 2_381_200)]},
}


# WRN-28-10's 24 substituted 3×3 convs (padding 1, no bias): (C_i, C_o, input side, stride) and how many there are.
SITES = [((16, 160, 32, 1), 1), ((160, 160, 32, 1), 7), ((160, 320, 32, 2), 1), ((320, 320, 16, 1), 7),
         ((320, 640, 16, 2), 1), ((640, 640, 8, 1), 7)]
# The network less those convs: every parameter but the 3×3 convs' 36,195,840, and every mult-add but their
# C_i·C_o·9·A_out: 283,354 parameters, as the original reported its never-substituted part.
FIXED = (WRN_28_10["Conv"][0] - sum(n * c_in * c_out * 9 for (c_in, c_out, _, _), n in SITES),
         WRN_28_10["Conv"][1] - sum(n * c_in * c_out * 9 * (size // stride) ** 2
                                    for (c_in, c_out, size, stride), n in SITES))
# Rows counted as whole networks too: separable (= TT, Tucker, SepHashed), and both layers that declare their count.
WHOLE = ["Sep", "ACDC_12", "LR_0.1"]


@pytest.mark.parametrize("setting", list(WRN_28_10))
def test_wrn_28_10_parameters_reproduce_the_original_exactly(setting):
    with torch.device("meta"):
        model = create_model("wrn-28-10", substitute=setting, compat=MODE)
    assert sum(p.numel() for p in model.parameters()) == WRN_28_10[setting][0]


def _site_count(setting, c_in, c_out, size, stride):
    with shape_only():
        layer = compat_factory(setting, compat=MODE)(c_in, c_out, 3, stride=stride, padding=1, bias=False)
    return count(zero_filled(layer), (c_in, size, size), compat=MODE)


@pytest.mark.parametrize("setting", list(WRN_28_10))
def test_wrn_28_10_totals_reproduce_the_original_exactly(setting):
    # A count is the fixed part plus each conv's own count (fvcore counts the operators each runs); the ACDC
    # cost is not an integer, so the network's total is rounded once.
    sites = [(n, _site_count(setting, *geometry)) for geometry, n in SITES]
    params = FIXED[0] + sum(n * site.params for n, site in sites)
    mult_adds = FIXED[1] + sum(n * site.exact_mult_adds for n, site in sites)
    assert (params, round(mult_adds)) == WRN_28_10[setting]


@pytest.mark.parametrize("setting", WHOLE)
def test_wrn_28_10_whole_network_totals_reproduce_the_original_exactly(setting):
    result = count_model("wrn-28-10", setting, compat=MODE)
    assert (result.params, result.mult_adds) == WRN_28_10[setting]
    assert result.convention.compat == MODE
    assert sum(layer.mult_adds for layer in result.layers) == result.mult_adds
    assert sum(layer.params for layer in result.layers) == result.params
    assert sum(result.by_operator.values()) == result.mult_adds


def test_dense_wrn_28_10_decomposition_under_the_original_convention():
    # The original's decomposition: conv 5,243,322,368 + ReLU elements 2,310,144 + FC 6,410 (weights and biases).
    result = count_model("wrn-28-10", compat=MODE)
    assert result.by_operator["conv"] == 5_243_322_368
    assert result.by_operator["relu"] == 2_310_144
    assert result.by_operator["linear"] == 6_410
    assert result.mult_adds == 5_243_322_368 + 2_310_144 + 6_410


def wrn_50_2_original_mult_adds(separable: bool) -> int:
    """WRN-50-2 at 224² under the original's count.py, written out block by block.

    Convs C_i·C_o·k²·A_out (a separable 3×3 is a depthwise C_i·9·A_out plus a 1×1), ReLU one per element,
    the stem's 3×3 max pool and torchvision's final ``nn.AvgPool2d(7, stride=1)`` N·C·H_out·W_out·k²,
    the FC its weights and biases.
    """
    total = 3 * 64 * 49 * 112 ** 2 + 64 * 112 ** 2 + 64 * 56 ** 2 * 9 + 2048 * 7 ** 2 + 2048 * 1000 + 1000
    channels, size = 64, 56
    for width, blocks, stride in [(128, 3, 1), (256, 4, 2), (512, 6, 2), (1024, 3, 2)]:
        for b in range(blocks):
            out = size // (stride if b == 0 else 1)
            three_by_three = (width * 9 + width * width) if separable else 9 * width * width
            total += channels * width * size ** 2 + three_by_three * out ** 2 + 2 * width * width * out ** 2
            total += width * size ** 2 + width * out ** 2 + 2 * width * out ** 2  # three ReLUs
            if b == 0:
                total += channels * 2 * width * out ** 2  # the 1×1 downsample
            channels, size = 2 * width, out
    return total


@pytest.mark.parametrize("setting, separable", [("Conv", False), ("Sep", True), ("SepHashed_0.2", True)])
def test_wrn_50_2_totals_reproduce_the_original_convention(setting, separable):
    assert count_model("wrn-50-2", setting, compat=MODE).mult_adds == wrn_50_2_original_mult_adds(separable)


# The original's per-layer vectors: (C_i, C_o, input H, stride) and per setting (params, mult-adds) per layer,
# k=3, padding 1, no bias.
GEOMETRIES = [(16, 160, 32, 1), (160, 160, 32, 1), (160, 320, 32, 2), (640, 640, 8, 1)]
PER_LAYER = {
    "Conv": [(23_040, 23_592_960), (230_400, 235_929_600), (460_800, 117_964_800), (3_686_400, 235_929_600)],
    "Sep": [(2_704, 2_768_896), (27_040, 27_688_960), (52_640, 13_475_840), (415_360, 26_583_040)],
    "Hashed_0.1": [(2_464, 23_592_960), (23_200, 235_929_600), (46_400, 117_964_800), (369_280, 235_929_600)],
    "HashedDecimate": [(2_464, 23_592_960), (23_200, 235_929_600), (46_400, 117_964_800), (369_280, 235_929_600)],
    "SepHashed_0.2": [(816, 2_768_896), (6_720, 27_688_960), (12_000, 13_475_840), (88_320, 26_583_040)],
    "SepHashedDecimate": [(2_464, 2_768_896), (23_200, 27_688_960), (46_400, 13_475_840), (369_280, 26_583_040)],
    "Generic_0.1": [(2_960, 3_031_040), (6_560, 6_717_440), (16_800, 4_300_800), (87_680, 5_611_520)],
    "LR_0.25": [(6_544, 13_254_656), (7_840, 14_581_760), (27_040, 13_475_840), (108_160, 13_475_840)],
    "Shuffle_4": [(2_120, 2_170_880), (3_560, 3_645_440), (10_320, 5_099_520), (52_640, 3_368_960)],
    "TensorTrain_0.44": [(744, 2_768_896), (7_091, 27_688_960), (12_688, 13_475_840), (88_752, 26_583_040)],
    "Tucker_0.41": [(984, 2_768_896), (7_198, 27_688_960), (12_265, 13_475_840), (84_660, 26_583_040)],
    "ACDC_12": [(3_664, 73_335_774), (4_960, 74_662_878), (8_480, 164_767_677), (19_840, 23_171_320)],
}


@pytest.mark.parametrize("setting", list(PER_LAYER))
@pytest.mark.parametrize("index", range(len(GEOMETRIES)), ids=lambda i: "x".join(map(str, GEOMETRIES[i])))
def test_per_layer_vectors_reproduce_the_original_exactly(setting, index):
    c_in, c_out, size, stride = GEOMETRIES[index]
    layer = compat_factory(setting, compat=MODE)(c_in, c_out, 3, stride=stride, padding=1, bias=False)
    result = count(layer, (c_in, size, size), compat=MODE)
    assert (result.params, result.mult_adds) == PER_LAYER[setting][index]


@pytest.mark.parametrize("c, per_factor", [(160, 6_497.54), (320, 14_595.08), (640, 32_390.17), (2048, 120_832)])
def test_acdc_per_factor_cost_matches_the_reference(c, per_factor):
    # One factor, no depthwise (k = 1), one position: the count is 4c + 5c·log2(c), rounded once.
    layer = compat_factory("ACDC_2", compat=MODE)(c, c, 1, bias=False)
    assert count(layer, (c, 1, 1), compat=MODE).mult_adds == round(per_factor)


def test_acdc_strided_layer_is_counted_at_input_resolution_only_in_compat_mode():
    # The original's quirk: A' = 32² for a stride-2 layer whose output is 16².
    layer = compat_factory("ACDC_12", compat=MODE)(160, 320, 3, stride=2, padding=1, bias=False)
    depthwise = 160 * 9 * 16 * 16
    expected = depthwise + 11 * (4 * 320 + 5 * 320 * math.log2(320)) * 32 * 32
    assert count(layer, (160, 32, 32), compat=MODE).mult_adds == round(expected)
    # k = 1 with stride: the 1×1 itself is strided, so A' is the output.
    pointwise = compat_factory("ACDC_12", compat=MODE)(320, 320, 1, stride=2, bias=False)
    assert count(pointwise, (320, 8, 8), compat=MODE).mult_adds == round(11 * (4 * 320 + 5 * 320 * math.log2(320)) * 16)


def test_quirks_change_the_layers_only_in_compat_mode():
    clean = create_model("wrn-16-2", substitute="ACDC_12")
    quirked = create_model("wrn-16-2", substitute="ACDC_12", compat=MODE)
    assert {m.factors for m in clean.modules() if hasattr(m, "factors") and isinstance(m.factors, int)} == {12}
    assert {m.factors for m in quirked.modules() if hasattr(m, "factors") and isinstance(m.factors, int)} == {11}
    hashed = compat_factory("Hashed_0.1", compat=MODE)(16, 32, 3, padding=1, bias=False)
    assert hashed.bias is not None and hashed.bias.numel() == 32
    assert compat_factory("Hashed_0.1", compat=None)(16, 32, 3, padding=1, bias=False).bias is None


def test_original_acdc_omits_the_inner_riffle_but_keeps_the_count():
    torch.manual_seed(0)
    riffled = compat_factory("ACDC", compat=MODE)(8, 8, 1, bias=False)
    torch.manual_seed(0)
    original = compat_factory("OriginalACDC", compat=MODE)(8, 8, 1, bias=False)
    assert sum(p.numel() for p in riffled.parameters()) == sum(p.numel() for p in original.parameters()) == 2 * 8 * 11
    assert not torch.allclose(riffled.pointwise.reconstruct_weight(), original.pointwise.reconstruct_weight())


def test_quirked_tucker_core_is_a_tensor_train_with_the_reference_ranks():
    # The original's Tucker at (160, 160), h = 0.25: dims [32, 32, 25], t = [8, 8, 6], r1' = 32, r2' = 6: 2,490.
    layer = compat_factory("Tucker_0.25", compat=MODE)(160, 160, 1, bias=False)
    assert [tuple(c.shape) for c in layer.pointwise.core_cores] == [(1, 8, 32), (32, 8, 6), (6, 6, 1)]
    assert sum(p.numel() for p in layer.parameters()) == 2_490
    x = torch.randn(2, 160, 4, 4)
    assert layer(x).shape == (2, 160, 4, 4)


def test_compat_counting_rules_on_a_small_network_by_hand():
    from torch import nn

    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(3, stride=2, padding=1), nn.ReLU6(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(4, 2))
    result = count(model, (3, 6, 6), compat=MODE)
    conv, relu, pool, linear = 3 * 4 * 9 * 36, 4 * 36, 4 * 3 * 3 * 9, 4 * 2 + 2  # BN, ReLU6, adaptive pool: 0
    assert result.mult_adds == conv + relu + pool + linear
    assert count(model, (3, 6, 6)).mult_adds != result.mult_adds


@pytest.mark.parametrize("bad", ["deficient_efficient", "original", ""])
def test_unknown_mode_is_a_config_error_listing_the_modes(bad):
    with pytest.raises(ConfigError, match="deficient-efficient"):
        create_model("wrn-10-1", compat=bad)
    with pytest.raises(ConfigError, match="deficient-efficient"):
        count(create_model("wrn-10-1"), (3, 32, 32), compat=bad)
    assert MODES == ("deficient-efficient",)


def test_fixed_original_settings_take_no_extra_setting():
    with pytest.raises(ConfigError, match="HashedDecimate"):
        compat_factory("HashedDecimate", 0.2, compat=MODE)
    with pytest.raises(ConfigError, match="layers must be >= 2"):
        compat_factory("ACDC_1", compat=MODE)(16, 16, 3, padding=1)


def test_a_quirked_hashed_budget_of_zero_is_a_config_error():
    # int(h·size) has no floor at 1 in the original: 0.001·(4·4·1·1) = 0 shared values.
    with pytest.raises(ConfigError, match="no hashed weights"):
        compat_factory("Hashed_0.001", compat=MODE)(4, 4, 1)
    with pytest.raises(ConfigError, match="no hashed weights"):
        compat_factory("SepHashedDecimate", compat=MODE)(4, 4, 3, padding=1)  # 14 < the depthwise's 36
    assert compat_factory("Hashed_0.001", compat=None)(4, 4, 1).bank.numel() == 1
