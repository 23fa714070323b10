"""``select`` and ``exclude`` on the built-in families: convs and linears, with and without the compatibility mode."""

import pytest
import torch
from torch import nn

from budgetsearch.compat import DEFICIENT_EFFICIENT, compat_factory
from budgetsearch.models import create_model


def _numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _replacement(layer: nn.Module, factory) -> nn.Module:
    """What ``factory`` builds in place of one dense layer, built on its own."""
    if isinstance(layer, nn.Linear):
        return factory.linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
    return factory(layer.in_channels, layer.out_channels, layer.kernel_size, stride=layer.stride,
                   padding=layer.padding, dilation=layer.dilation, bias=layer.bias is not None)


def check_chosen_layers(model: nn.Module, dense: nn.Module, factory, chosen: set) -> None:
    """``model`` is ``dense`` with exactly the ``chosen`` layers built by ``factory`` and the rest untouched."""
    assert set(model.substitution_points) == chosen
    for name, layer in dense.named_modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            built = model.get_submodule(name)
            expected = type(_replacement(layer, factory)) if name in chosen else type(layer)
            assert type(built) is expected, name
    replaced = sum(_numel(_replacement(dense.get_submodule(n), factory)) - _numel(dense.get_submodule(n))
                   for n in chosen)
    assert _numel(model) == _numel(dense) + replaced


@pytest.mark.parametrize("compat", [None, DEFICIENT_EFFICIENT])
def test_a_vit_takes_select_and_exclude(compat):
    model = create_model("vit-2-64", substitute="tucker", setting=0.5, select="linear", exclude=("*.fc2", "head"),
                         compat=compat)
    chosen = {f"blocks.{b}.{layer}" for b in range(2) for layer in ("attention.qkv", "attention.proj", "mlp.fc1")}
    check_chosen_layers(model, create_model("vit-2-64"), compat_factory("tucker", 0.5, compat), chosen)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("compat", [None, DEFICIENT_EFFICIENT])
def test_a_vit_in_the_compatibility_mode_builds_its_own_linear_points(compat):
    model = create_model("vit-1-64", substitute="hashed", setting=0.1, compat=compat)
    chosen = {f"blocks.0.{layer}" for layer in ("attention.qkv", "attention.proj", "mlp.fc1", "mlp.fc2")}
    check_chosen_layers(model, create_model("vit-1-64"), compat_factory("hashed", 0.1, compat), chosen)


@pytest.mark.parametrize("compat", [None, DEFICIENT_EFFICIENT])
def test_a_wrn_takes_select_and_exclude(compat):
    model = create_model("wrn-10-2", substitute="sep-hashed", setting=0.2, select="convs",
                         exclude=("stem", "groups.2.*"), compat=compat)
    dense = create_model("wrn-10-2")
    # Every conv of the first two groups: the 3×3s the family substitutes itself, and the 1×1 shortcuts it keeps dense.
    chosen = {name for name, layer in dense.named_modules()
              if isinstance(layer, nn.Conv2d) and name.startswith(("groups.0.", "groups.1."))}
    assert {"groups.0.0.shortcut", "groups.1.0.shortcut"} <= chosen
    check_chosen_layers(model, dense, compat_factory("sep-hashed", 0.2, compat), chosen)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
