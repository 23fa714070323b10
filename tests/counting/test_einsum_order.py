"""An einsum counts in budgetsearch's order, left to right, whether or not torch reorders it with opt_einsum.

With opt_einsum installed and enabled, torch contracts three or more operands
along the path opt_einsum finds. Every test here runs with torch's opt_einsum
flag off and on; where opt_einsum is not installed (torch refuses to enable it
then), a stand-in whose path contracts right to left takes its place, through
the same ``torch.backends.opt_einsum`` lookup torch's einsum makes.
"""

import pytest
import torch
from torch import nn
from torch_counts import flop_counter_mult_adds

from budgetsearch.counting import count, reconstruction_mult_adds
from budgetsearch.models import create_model
from budgetsearch.substitutes import ReconstructedModule, shape_only


class RightToLeft:
    """opt_einsum's ``contract_path`` where opt_einsum is not installed: the last two operands first, every time."""

    @staticmethod
    def contract_path(equation, *operands, optimize=None):
        return [(n - 2, n - 1) for n in range(len(operands), 1, -1)], None


@pytest.fixture(params=[False, True], ids=["opt_einsum-off", "opt_einsum-on"])
def opt_einsum(request, monkeypatch):
    backend = torch.backends.opt_einsum
    if request.param and not backend.is_available():
        monkeypatch.setattr(backend.m, "_opt_einsum", RightToLeft)
        backend.is_available.cache_clear()
    try:
        with backend.flags(enabled=request.param):
            yield request.param
    finally:
        backend.is_available.cache_clear()  # torch caches the answer; the stand-in goes with the test


class Chain(nn.Module):
    """x (3, 5) · B (5, 7) · C (7, 1): left to right 3·5·7 + 3·7·1 = 126, right to left 5·7·1 + 3·5·1 = 50."""

    def __init__(self):
        super().__init__()
        self.b, self.c = nn.Parameter(torch.zeros(5, 7)), nn.Parameter(torch.zeros(7, 1))

    def forward(self, x):
        return torch.einsum("ij,jk,kl->il", x[0, 0], self.b, self.c)


def test_an_einsum_counts_left_to_right_whatever_order_torch_runs(opt_einsum):
    model, size = Chain(), (1, 3, 5)
    # what torch runs: opt_einsum's cheaper path when it is on (the real one finds it too)
    assert sum(flop_counter_mult_adds(model, size).values()) == (50 if opt_einsum else 126)
    assert count(model, size).mult_adds == 126


def tucker(layer) -> int:
    """abc,ia -> ibc; ibc,jb -> ijc; ijc,kc -> ijk."""
    (d1, d2, d3), (t1, t2, t3) = layer.shape, layer.ranks
    return d1 * t1 * t2 * t3 + d1 * d2 * t2 * t3 + d1 * d2 * d3 * t3


def tensor_train(layer) -> int:
    """xia,ajb -> ijb (x and y are bonds of size 1); ijb,bk -> ijk."""
    (d1, d2, d3), (r1, r2) = layer.shape, layer.ranks
    return d1 * r1 * d2 * r2 + d1 * d2 * r2 * d3


def cp(layer) -> int:
    """ir,jr -> ijr; ijr,kr -> ijk."""
    (d1, d2, d3), rank = layer.shape, layer.rank
    return d1 * d2 * rank + d1 * d2 * d3 * rank


@pytest.mark.parametrize("substitute, rebuild", [("tucker:0.3", tucker), ("tensor-train:0.3", tensor_train),
                                                 ("cp:0.3", cp)], ids=["tucker", "tensor-train", "cp"])
def test_a_rebuild_counts_left_to_right_whatever_order_torch_runs(opt_einsum, substitute, rebuild):
    with shape_only():
        network = create_model("wrn-10-1", substitute=substitute)
    layers = [m for m in network.modules() if isinstance(m, ReconstructedModule)]
    assert layers and reconstruction_mult_adds(network) == sum(rebuild(layer) for layer in layers)
