"""Third-party model definitions through the solver: transformers' models built from configs (no weights).

For every substitute that supports the selected layers, at a budget inside its
reachable range: the solution stays within the budget, equals the count (and
Σnumel) of the model its setting builds, and that model's forward gives the
right shape. Nobody here wrote these models, so nothing in them is tuned to
budgetsearch. Each is a small config of its architecture (every kind of layer it
has, a few of each), and the solution's network is built for its shapes only
(a count reads nothing else): the solver's work is what is tested.
"""

from __future__ import annotations

import functools

import pytest
import torch
from torch import nn

from budgetsearch.counting import count, zero_filled
from budgetsearch.solver import network_counter, solve_budget
from budgetsearch.solver._search import highest, lowest
from budgetsearch.substitutes import get_substitute, linear_substitutes, list_substitutes, shape_only

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


def resnet_bottleneck_small_config():
    """ResNet-50's bottleneck blocks, one per stage, at a sixteenth of its widths: every kind of conv it has."""
    config = transformers.ResNetConfig(num_labels=CLASSES, embedding_size=8, hidden_sizes=[16, 32, 64, 128],
                                       depths=[1, 1, 1, 1], layer_type="bottleneck")
    return Logits(transformers.ResNetForImageClassification(config))


def convnext_small_config():
    config = transformers.ConvNextConfig(num_labels=CLASSES, depths=[1, 1, 1, 1], hidden_sizes=[16, 32, 64, 128])
    return Logits(transformers.ConvNextForImageClassification(config))


def mobilenetv2_tf_padding():
    """TF "same" padding, computed in forward from each conv's stride, kernel and dilation, at a tenth of the widths."""
    config = transformers.MobileNetV2Config(num_labels=CLASSES, tf_padding=True, depth_multiplier=0.1, min_depth=4,
                                            depth_divisible_by=4)
    return Logits(transformers.MobileNetV2ForImageClassification(config))


def efficientnet_small_config():
    """EfficientNet's blocks (squeeze-excitation, depthwise, TF padding), one per stage, at a quarter of B0's widths."""
    # hidden_dim is the width of the last conv, which round_filters scales: 1280 · 0.25.
    config = transformers.EfficientNetConfig(num_labels=CLASSES, width_coefficient=0.25, depth_coefficient=0.1,
                                             hidden_dim=320)
    return Logits(transformers.EfficientNetForImageClassification(config))


def vit_small_config():
    config = transformers.ViTConfig(num_labels=CLASSES, image_size=32, patch_size=8, hidden_size=64,
                                    num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)
    return Logits(transformers.ViTForImageClassification(config))


# (model, selection, exclude, layer kind it selects)
MODELS = [
    (convnext_small_config, "convs", (), "conv"),
    (vit_small_config, "linear", ("model.classifier",), "linear"),  # the head kept dense
    (resnet_bottleneck_small_config, "convs", (), "conv"),
    (mobilenetv2_tf_padding, "convs", (), "conv"),
    (efficientnet_small_config, "convs", (), "conv"),
]


def _supporting(kind: str) -> list:
    return linear_substitutes() if kind == "linear" else list_substitutes()


CELLS = [pytest.param(make, select, exclude, kind, name, id=f"{make.__name__}-{name}")
         for make, select, exclude, kind in MODELS for name in _supporting(kind)]


@functools.lru_cache(maxsize=None)
def _counter(make, select, exclude):
    return network_counter(make, CLASSES, SIZE, select=select, exclude=exclude)


def _reachable_budget(counter, name: str) -> int:
    """A quarter of the way from the count of the substitute's lowest setting to its highest's on this model
    (not further: ACDC's rebuilds, which every count traces, grow with the setting)."""
    substitute = get_substitute(name)
    hp = substitute.hyperparameter
    if hp is None:
        return counter.params(substitute, None)
    return (3 * counter.params(substitute, lowest(hp)) + counter.params(substitute, highest(hp))) // 4


@pytest.mark.parametrize("make, select, exclude, kind", MODELS, ids=lambda value: getattr(value, "__name__", None))
def test_the_sites_are_the_selected_layers_and_the_dense_count_is_the_models(make, select, exclude, kind):
    counter = _counter(make, select, exclude)
    assert {site.kind for site in counter.sites} == {kind}
    assert counter.dense.params == sum(p.numel() for p in make().parameters())


@pytest.mark.parametrize("make, select, exclude, kind, name", CELLS)
def test_a_supporting_substitute_solves_within_budget_and_builds_what_it_counted(make, select, exclude, kind, name):
    budget = _reachable_budget(_counter(make, select, exclude), name)
    solution = solve_budget(make, name, budget, num_classes=CLASSES, input_size=SIZE, select=select, exclude=exclude)
    with shape_only():
        network = solution.build()
    counted = count(zero_filled(network), SIZE)
    assert solution.params <= budget
    assert (solution.params, solution.mult_adds) == (counted.params, counted.mult_adds)
    assert solution.params == sum(p.numel() for p in network.parameters())
    with torch.no_grad():
        assert network.eval()(torch.zeros(2, *SIZE)).shape == (2, CLASSES)
