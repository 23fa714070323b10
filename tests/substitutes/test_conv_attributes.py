"""Substitutes answer like the nn.Conv2d they replace: its geometry attributes, and torch's string padding."""

import pytest
import torch
from torch import nn

from budgetsearch.errors import ConfigError
from budgetsearch.models import substitute
from budgetsearch.substitutes import get_substitute, list_substitutes

NAMES = list_substitutes()
ATTRIBUTES = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "padding_mode")


def typical_setting(name):
    hp = get_substitute(name).hyperparameter
    if hp is None:
        return None
    return 0.25 if hp.type is float else int(hp.low) + 1


def build(name, *args, **kwargs):
    return get_substitute(name).factory(typical_setting(name))(*args, **kwargs)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("args", [
    (8, 16, 3, {"stride": 2, "padding": 1}),
    (16, 8, (3, 1), {"stride": (2, 1), "padding": (1, 0), "dilation": (2, 1)}),
    (8, 8, 1, {}),
    (8, 16, 5, {"padding": "same", "dilation": 2}),
    (8, 16, 3, {"padding": "valid"}),
], ids=str)
def test_a_substitute_has_the_attributes_of_the_conv_it_replaces(name, args):
    c_in, c_out, k, options = args
    expected = nn.Conv2d(c_in, c_out, k, bias=False, **options)
    layer = build(name, c_in, c_out, k, bias=False, **options)
    assert {a: getattr(layer, a) for a in ATTRIBUTES} == {a: getattr(expected, a) for a in ATTRIBUTES}


@pytest.mark.parametrize("kernel, dilation", [(4, 1), (3, 2), ((2, 5), (3, 1)), (1, 1), (4, 3)], ids=str)
def test_dense_same_padding_equals_torch_including_the_extra_right_and_bottom_pad(kernel, dilation):
    torch.manual_seed(0)
    reference = nn.Conv2d(6, 5, kernel, padding="same", dilation=dilation)
    model = nn.Sequential(reference)
    original = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(2, 6, 9, 10)
    expected = reference(x)
    report = substitute(model, "conv", select="convs")
    assert len(report) == 1 and model[0] is not reference
    model.load_state_dict(original)
    torch.testing.assert_close(model(x), expected)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kernel, dilation, padding", [(4, 1, "same"), (3, 2, "same"), ((2, 5), (3, 1), "same"),
                                                       (3, 1, "valid"), (4, 2, "valid")], ids=str)
def test_string_padding_gives_torch_output_shapes(name, kernel, dilation, padding):
    x = torch.randn(2, 8, 9, 10)
    expected = nn.Conv2d(8, 16, kernel, padding=padding, dilation=dilation)(x).shape
    assert build(name, 8, 16, kernel, padding=padding, dilation=dilation)(x).shape == expected


@pytest.mark.parametrize("padding, message", [("same", "padding='same' needs stride 1 .* stride=\\(2, 2\\)"),
                                              ("full", "padding must be int\\(s\\) >= 0, 'same' or 'valid', but got 'full'")])
def test_bad_string_padding_is_a_clear_error(padding, message):
    with pytest.raises(ConfigError, match=message):
        build("tucker", 8, 16, 3, stride=2, padding=padding)


@pytest.mark.parametrize("kernel, dilation", [(4, 1), ((2, 5), (3, 1))], ids=str)
def test_a_rebuilt_weight_pads_same_as_torch(kernel, dilation):
    layer = build("hashed", 6, 5, kernel, padding="same", dilation=dilation, bias=True)
    reference = nn.Conv2d(6, 5, kernel, padding="same", dilation=dilation)
    with torch.no_grad():
        reference.weight.copy_(layer.reconstruct_weight())
        reference.bias.zero_()
        x = torch.randn(2, 6, 9, 10)
        torch.testing.assert_close(layer(x), reference(x))
