"""Third-party model definitions through the solver: transformers' models built from configs (no weights).

For every substitute that supports the selected layers, at a budget inside its
reachable range: the solution stays within the budget, equals the count (and
Σnumel) of the model its setting builds, and that model's forward gives the
right shape. Nobody here wrote these models, so nothing in them is tuned to
budgetsearch.
"""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from budgetsearch.counting import count
from budgetsearch.solver import network_counter, solve_budget
from budgetsearch.solver._search import highest, lowest
from budgetsearch.substitutes import get_substitute, linear_substitutes, list_substitutes

transformers = pytest.importorskip("transformers")

SIZE = (3, 32, 32)
CLASSES = 10


class Logits(nn.Module):
    """A transformers image classifier called as a plain module: pixels in, logits out."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(pixel_values=x).logits


def resnet50():
    return Logits(transformers.ResNetForImageClassification(transformers.ResNetConfig(num_labels=CLASSES)))


def convnext_small_config():
    config = transformers.ConvNextConfig(num_labels=CLASSES, depths=[1, 1, 1, 1], hidden_sizes=[16, 32, 64, 128])
    return Logits(transformers.ConvNextForImageClassification(config))


def mobilenetv2_tf_padding():
    config = transformers.MobileNetV2Config(num_labels=CLASSES, tf_padding=True, depth_multiplier=0.35)
    return Logits(transformers.MobileNetV2ForImageClassification(config))


def efficientnet_b0():
    config = transformers.EfficientNetConfig(num_labels=CLASSES)  # B0's own coefficients
    return Logits(transformers.EfficientNetForImageClassification(config))


def vit_small_config():
    config = transformers.ViTConfig(num_labels=CLASSES, image_size=32, patch_size=8, hidden_size=64,
                                    num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)
    return Logits(transformers.ViTForImageClassification(config))


# (model, selection, exclude, layer kind it selects, marks)
MODELS = [
    pytest.param(convnext_small_config, "convs", (), "conv", id="convnext-small-config"),
    pytest.param(vit_small_config, "linear", ("*patch_embeddings*",), "linear", id="vit-small-config"),
    pytest.param(resnet50, "convs", (), "conv", marks=pytest.mark.slow, id="resnet-50"),
    pytest.param(mobilenetv2_tf_padding, "convs", (), "conv", marks=pytest.mark.slow, id="mobilenetv2-tf-padding"),
    pytest.param(efficientnet_b0, "convs", (), "conv", marks=pytest.mark.slow,
                 id="efficientnet-b0"),
]


def _supporting(kind: str) -> list:
    return linear_substitutes() if kind == "linear" else list_substitutes()


@functools.lru_cache(maxsize=None)
def _counter(make, select, exclude):
    return network_counter(make, CLASSES, SIZE, select=select, exclude=exclude)


def _reachable_budget(counter, name: str) -> int:
    """Halfway between the smallest and largest count the substitute reaches on this model."""
    substitute = get_substitute(name)
    hp = substitute.hyperparameter
    if hp is None:
        return counter.params(substitute, None)
    return (counter.params(substitute, lowest(hp)) + counter.params(substitute, highest(hp))) // 2


@pytest.mark.parametrize("make, select, exclude, kind", MODELS)
def test_every_supporting_substitute_solves_within_budget_and_builds_what_it_counted(make, select, exclude, kind):
    counter = _counter(make, select, exclude)
    assert {site.kind for site in counter.sites} == {kind}
    dense = make()
    assert counter.dense.params == sum(p.numel() for p in dense.parameters())
    for name in _supporting(kind):
        budget = _reachable_budget(counter, name)
        solution = solve_budget(make, name, budget, num_classes=CLASSES, input_size=SIZE, select=select,
                                exclude=exclude)
        network = solution.build()
        counted = count(network, SIZE)
        assert solution.params <= budget, name
        assert (solution.params, solution.mult_adds) == (counted.params, counted.mult_adds), name
        assert solution.params == sum(p.numel() for p in network.parameters()), name
        with torch.no_grad():
            assert network.eval()(torch.zeros(2, *SIZE)).shape == (2, CLASSES), name
