"""The registry's linear forms, and the channels-last 1×1 that structured linear maps run as."""

import pytest
import torch
from torch import nn

from budgetsearch.errors import ConfigError
from budgetsearch.substitutes import Substitute, get_substitute, linear_substitutes
from budgetsearch.substitutes._blocks import channels_last_pointwise
from budgetsearch.substitutes.conv import dense_conv, dense_linear


def test_dense_has_a_linear_form_with_he_fan_out_init():
    torch.manual_seed(0)
    layer = get_substitute("conv").factory().linear(256, 512, bias=True)
    assert isinstance(layer, nn.Linear) and (layer.in_features, layer.out_features) == (256, 512)
    assert layer.weight.var().item() == pytest.approx(2 / 512, rel=0.02)
    assert torch.count_nonzero(layer.bias) == 0
    assert "conv" in linear_substitutes()


def test_a_substitute_without_linear_form_says_so():
    conv_only = Substitute(name="conv-only", build=dense_conv, hyperparameter=None, original_name="ConvOnly",
                           summary="test")
    assert conv_only.layer_kinds == ("conv",)
    with pytest.raises(ConfigError, match="'conv-only' replaces convolutions only"):
        conv_only.factory().linear(8, 8)


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 0), (2, 1), ((1, 2), (0, 1))])
def test_channels_last_pointwise_equals_a_1x1_conv(stride, padding):
    torch.manual_seed(0)
    layer = channels_last_pointwise(dense_linear)(4, 6, stride=stride, padding=padding, bias=True)
    conv = nn.Conv2d(4, 6, 1, stride=stride, padding=padding)
    with torch.no_grad():
        conv.weight.copy_(layer.mixing.weight[:, :, None, None])
        conv.bias.copy_(torch.randn(6))
        layer.mixing.bias.copy_(conv.bias)
    x = torch.randn(2, 4, 7, 9)
    torch.testing.assert_close(layer(x), conv(x))
