"""The network counter and the solver on a family with a linear substitution point.

The expectations are the whole network built at each setting and counted with
:func:`count` (a second counter, no site decomposition), and for the solve a scan of
every rank.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from budgetsearch.counting import count
from budgetsearch.errors import ConfigError
from budgetsearch.models import ModelFamily, _families, create_model
from budgetsearch.solver import NetworkCounter, solve_budget
from budgetsearch.substitutes import Hyperparameter, Substitute, get_substitute
from budgetsearch.substitutes.conv import dense_conv


class _Tokens(nn.Module):
    """A conv stem, then a linear point applied to every position as a token, then a dense head."""

    def __init__(self, num_classes, conv):
        super().__init__()
        self.stem = conv(3, 8, 3, padding=1)
        self.mix = conv.linear(8, 24, bias=True)
        self.head = nn.Linear(24, num_classes)

    def forward(self, x):
        tokens = self.stem(x).flatten(2).transpose(1, 2)  # (B, H·W, 8)
        return self.head(torch.relu(self.mix(tokens)).mean(1))


def _low_rank_linear(in_features, out_features, bias=True, rank=1):
    return nn.Sequential(nn.Linear(in_features, rank, bias=False), nn.Linear(rank, out_features, bias=bias))


LOW_RANK = Substitute(name="test-low-rank", build=lambda *args, rank, **kwargs: dense_conv(*args, **kwargs),
                      hyperparameter=Hyperparameter("rank", int, 1, 24), original_name="TestLowRank", summary="test",
                      linear=_low_rank_linear)


@pytest.fixture
def tokens_family(monkeypatch):
    family = ModelFamily(pattern=r"tokens-test", example="tokens-test", build=lambda num_classes, conv: _Tokens(
        num_classes, conv), input_size=(3, 6, 5), num_classes=4, summary="test")
    monkeypatch.setattr(_families, "_FAMILIES", [*_families._FAMILIES, family])
    return family.example


def test_a_linear_site_records_its_features_and_leading_shape(tokens_family):
    sites = NetworkCounter(tokens_family).sites
    linear = [site for site in sites if site.kind == "linear"]
    assert [(s.in_channels, s.out_channels, s.bias, s.input_shape) for s in linear] == [(8, 24, True, (30, 8))]
    assert {site.kind for site in sites} == {"conv", "linear"}


@pytest.mark.parametrize("rank", [1, 5, 24])
def test_counts_with_a_linear_site_equal_the_whole_network_counted(tokens_family, rank):
    counter = NetworkCounter(tokens_family)
    network = create_model(tokens_family, substitute=LOW_RANK.factory(rank))
    whole = count(network, (3, 6, 5))
    totals = counter.totals(LOW_RANK, rank)
    assert (totals.params, totals.mult_adds) == (sum(p.numel() for p in network.parameters()), whole.mult_adds)
    # The linear point by hand: 30 tokens through 8→rank→24 with a bias of 24.
    dense_rest = whole.mult_adds - 30 * (8 * rank + rank * 24)
    assert count(create_model(tokens_family), (3, 6, 5)).mult_adds - 30 * 8 * 24 == dense_rest


def test_solve_on_a_linear_site_is_the_largest_rank_within_budget(tokens_family):
    counter = NetworkCounter(tokens_family)
    budget = counter.dense.params - 100
    solution = solve_budget(tokens_family, LOW_RANK, budget)
    by_rank = {rank: sum(p.numel() for p in create_model(tokens_family, substitute=LOW_RANK.factory(rank)).parameters())
               for rank in range(1, 25)}
    best = max((params, -rank) for rank, params in by_rank.items() if params <= budget)
    assert (solution.setting, solution.params) == (-best[1], best[0])


def test_a_substitute_without_linear_form_is_refused_at_a_linear_site(tokens_family):
    with pytest.raises(ConfigError, match="'shuffle' replaces convolutions only"):
        solve_budget(tokens_family, get_substitute("shuffle"), "1x")
