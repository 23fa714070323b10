"""Counting against independent numbers: the original study's published WRN-28-10 counts and closed-form formulas."""

import pytest
import torch
from torch import nn

from budgetsearch.counting import count, default_rules
from budgetsearch.errors import CountingError
from budgetsearch.models import create_model


def test_dense_wrn_28_10_params_exact_and_mult_adds_within_half_a_percent():
    result = count(create_model("wrn-28-10"), (3, 32, 32))
    assert result.params == 36_479_194
    assert result.by_operator["conv"] == 5_243_322_368  # the published WRN-28-10 conv mult-adds, exact
    assert abs(result.mult_adds - 5.2456e9) / 5.2456e9 < 0.005
    assert sum(layer.params for layer in result.layers) == result.params
    assert sum(layer.mult_adds for layer in result.layers) == result.mult_adds
    assert result.convention.input_size == (3, 32, 32) and result.convention.batch == 1


def test_mult_adds_of_a_small_network_by_hand():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    result = count(model, (3, 5, 5))
    conv = 3 * 4 * 9 * 25
    bn = 2 * 4 * 25  # fvcore: eval-mode normalise plus affine, two per element
    pool = 4 * 25  # one per input element
    linear = 4 * 2  # weights, bias excluded
    assert result.mult_adds == conv + bn + pool + linear
    assert result.params == 3 * 4 * 9 + 8 + 10


def test_reconstruction_is_not_per_image_cost():
    # A hashed conv costs exactly what the dense conv it stands for costs per image.
    dense = count(create_model("wrn-10-1"), (3, 32, 32))
    hashed = count(create_model("wrn-10-1", substitute="hashed", setting=0.1), (3, 32, 32))
    assert hashed.mult_adds == dense.mult_adds
    assert hashed.params < dense.params


def test_an_operator_without_a_rule_fails_the_count():
    class Exotic(nn.Module):
        def forward(self, x):
            return torch.erf(x)

    with pytest.raises(CountingError, match="erf"):
        count(Exotic(), (1, 2, 2))
    rules = default_rules() | {"aten::erf": lambda inputs, outputs: 7}
    assert count(Exotic(), (1, 2, 2), rules=rules).mult_adds == 7


def test_frozen_parameters_are_not_counted_as_trainable():
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.Conv2d(2, 2, 1))
    model[0].requires_grad_(False)
    assert count(model, (1, 4, 4)).params == 6


def test_bad_input_size_is_a_clear_error():
    with pytest.raises(ValueError, match="input_size"):
        count(nn.Conv2d(1, 1, 1), (1, 4))


def test_count_cli_defaults_to_the_network_as_published(capsys):
    import json

    from cli import main

    # "Dense" DARTS is its own depthwise-separable network (its reference substitute).
    assert main(["count", "--model", "darts", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["substitute"] == "separable" and result["params"] == 3_349_342
