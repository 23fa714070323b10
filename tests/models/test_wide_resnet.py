"""WideResNet structure and whole-network totals against the original study's published integers."""

import pytest
import torch
from torch import nn

from budgetsearch.errors import ConfigError, UnknownNameError
from budgetsearch.models import WideResNet, create_model, substitute
from budgetsearch.substitutes import DepthwiseSeparable

# The original study's WRN-28-10 on CIFAR-10: settings whose definition matches the original.
WRN_28_10_PARAMS = {
    "Conv": 36_479_194, "Sep": 4_380_138,
    "Generic_0.03": 601_162, "Generic_0.06": 851_322, "Generic_0.1": 1_190_634, "Generic_0.12": 1_346_682,
    "Generic_0.24": 2_344_906,
    "LR_0.1": 788_458, "LR_0.25": 1_433_578, "LR_0.5": 2_508_778,
    "Shuffle_1": 2_384_154, "Shuffle_2": 1_343_834, "Shuffle_3": 1_343_834, "Shuffle_4": 823_674,
    "Shuffle_7": 719_994, "Shuffle_8": 563_594, "Shuffle_16": 437_354, "Shuffle_32": 378_314,
    "TensorTrain_0.1": 407_298, "TensorTrain_0.23": 598_200, "TensorTrain_0.26": 664_226,
    "TensorTrain_0.27": 690_465, "TensorTrain_0.41": 1_075_080, "TensorTrain_0.44": 1_181_863,
    "TensorTrain_0.59": 1_840_487, "TensorTrain_0.7": 2_413_390, "TensorTrain_0.8": 3_029_622,
}


@pytest.mark.parametrize("setting", list(WRN_28_10_PARAMS))
def test_wrn_28_10_parameter_totals_match_the_original(setting):
    with torch.device("meta"):
        model = create_model("wrn-28-10", substitute=setting)
    assert sum(p.numel() for p in model.parameters()) == WRN_28_10_PARAMS[setting]


def test_dense_wrn_28_10_decomposition():
    # The original's dense WRN-28-10: convs 36,454,832 (stem 432, shortcuts 258,560, 3×3 convs 36,195,840),
    # BN 17,952, FC 6,410.
    with torch.device("meta"):
        model = WideResNet(28, 10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert sum(m.weight.numel() for m in convs) == 36_454_832
    assert sum(m.weight.numel() for m in convs if m.kernel_size == (1, 1)) == 258_560
    assert sum(p.numel() for m in model.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters()) == 17_952
    assert sum(p.numel() for p in model.fc.parameters()) == 6_410
    assert len([m for m in convs if m.kernel_size == (3, 3)]) == 25  # 24 substituted + the stem


def test_forward_shapes_and_attention_maps():
    model = create_model("wrn-10-2", num_classes=7)
    logits, maps = model(torch.randn(3, 3, 32, 32), return_attention=True)
    assert logits.shape == (3, 7)
    assert [m.shape for m in maps] == [(3, 32 * 32), (3, 16 * 16), (3, 8 * 8)]
    for m in maps:
        assert torch.allclose(m.norm(dim=1), torch.ones(3), atol=1e-5)


def test_dense_convs_use_he_fan_out_init():
    model = create_model("wrn-16-8")
    conv = model.groups[1][1].conv1
    expected = (2.0 / (9 * conv.out_channels)) ** 0.5
    assert conv.weight.std().item() == pytest.approx(expected, rel=0.02)


@pytest.mark.parametrize("name", ["wrn-15-2", "wrn-4-1", "resnet-50"])
def test_bad_model_names_are_clear_errors(name):
    with pytest.raises((ConfigError, UnknownNameError), match="depth|unknown model"):
        create_model(name)


def test_substitute_any_model_copies_full_geometry():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=(2, 1), padding=(1, 2), dilation=(1, 2), bias=True),
        nn.Conv2d(8, 8, 1),
        nn.Conv2d(8, 8, 3, padding=1, groups=8),
    )
    x = torch.randn(2, 3, 16, 16)
    expected = model(x).shape
    report = substitute(model, "separable")
    assert [r.name for r in report.replaced] == ["0"]  # 1×1 and grouped convs are not selected by default
    r = report.replaced[0]
    assert (r.stride, r.padding, r.dilation, r.bias) == ((2, 1), (1, 2), (1, 2), True)
    assert isinstance(model[0], DepthwiseSeparable)
    assert model[0].pointwise.bias is not None
    assert model(x).shape == expected


def test_substitute_with_a_custom_predicate_and_setting():
    model = create_model("wrn-10-1")
    report = substitute(model, "generic", 0.5, select=lambda name, module: name.endswith(".shortcut"))
    assert len(report) == 2  # the two strided 1×1 shortcuts of wrn-10-1 (first group keeps 16 channels)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)
