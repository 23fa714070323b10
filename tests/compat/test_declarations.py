"""The compatibility mode is a flag of the one conv factory, and a layer's count in it is what the layer declares."""

import math

import torch
from torch import nn

from budgetsearch.compat import DEFICIENT_EFFICIENT, compat_factory
from budgetsearch.counting import count
from budgetsearch.substitutes import CompatCounted, ConvFactory, as_factory


def _numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_the_mode_is_a_flag_of_the_conv_factory_with_its_linear_form():
    clean, original = as_factory("tucker", 0.25), compat_factory("tucker", 0.25, DEFICIENT_EFFICIENT)
    assert type(original) is ConvFactory and original.compat == DEFICIENT_EFFICIENT
    assert original.label == "tucker:0.25 [deficient-efficient]" and clean.label == "tucker:0.25"
    # The conv form takes the mode's quirks (the original stored the Tucker core as a tensor train, 2,490 parameters
    # for 160 → 160 at 0.25, where budgetsearch's own core has more); the linear form, which the original never
    # had, is budgetsearch's.
    assert _numel(original(160, 160, 1, bias=False)) == 2_490 != _numel(clean(160, 160, 1, bias=False))
    assert _numel(original.linear(160, 160)) == _numel(clean.linear(160, 160))
    assert compat_factory("tucker", 0.25) == clean  # no mode: the factory as_factory gives


class DeclaredCount(nn.Module, CompatCounted):
    """A layer from outside budgetsearch that states its count under the mode: 1000 per position of the input of the
    layer holding it, plus 1 per output position."""

    def forward(self, x):
        return 2 * x

    def compat_mult_adds(self, input_shape, output_shape, layer_input_shape):
        return output_shape[0] * (1000 * math.prod(layer_input_shape[2:]) + math.prod(output_shape[2:]))


class Holder(nn.Module):
    def __init__(self):
        super().__init__()
        self.down = nn.Conv2d(4, 4, 1, stride=2, bias=False)
        self.declared = DeclaredCount()

    def forward(self, x):
        return self.declared(self.down(x))


def test_a_layer_that_declares_its_count_is_counted_by_its_declaration_alone():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), Holder())
    conv, down = 3 * 4 * 9 * 6 * 6, 4 * 4 * 3 * 3  # C_i·C_o·k²·A_out
    declared = 1000 * 6 * 6 + 3 * 3  # the holder's input is 6×6, the layer's output 3×3
    assert count(model, (3, 6, 6), compat=DEFICIENT_EFFICIENT).mult_adds == conv + down + declared
    # budgetsearch's own rules count what it runs: one multiply per element.
    assert count(model, (3, 6, 6)).mult_adds == conv + down + 4 * 3 * 3
    with torch.no_grad():
        assert model(torch.ones(1, 3, 6, 6)).shape == (1, 4, 3, 3)
