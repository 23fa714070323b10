"""Tucker, tensor-train and CP projections against their known bounds.

For ranks r, any approximation whose mode-j (Tucker, CP) or first-j-modes (TT)
unfolding has rank at most r_j is at least ε_j = the discarded singular values of
that unfolding of the target away, so max_j ε_j bounds the best error from below;
HOSVD and TT-SVD are at most √(Σ_j ε_j²) ≤ √(d − 1 or d)·best away.
"""

import pytest
import torch
from torch import nn

from budgetsearch.projection import project_closed
from budgetsearch.projection._tensors import hosvd, tucker, tucker_core
from budgetsearch.substitutes import get_substitute

SHAPES = [(15, 8), (8, 15), (13, 13), (12, 18), (16, 16)]


def decaying_linear(in_features, out_features):
    layer = nn.Linear(in_features, out_features, bias=False)
    with torch.no_grad():
        spectrum = 0.8 ** torch.arange(min(in_features, out_features), dtype=torch.float32)
        u, _ = torch.linalg.qr(torch.randn(out_features, spectrum.numel()))
        v, _ = torch.linalg.qr(torch.randn(in_features, spectrum.numel()))
        layer.weight.copy_(u * spectrum @ v.t())
    return layer


def discarded(matrix, rank):
    return torch.linalg.svdvals(matrix)[rank:].square().sum().sqrt().item()


def mode_unfoldings(tensor):
    return [tensor.movedim(mode, 0).reshape(tensor.shape[mode], -1) for mode in range(3)]


def projected(name, setting, dense):
    layer = get_substitute(name).factory(setting).linear(dense.in_features, dense.out_features, bias=False)
    approximation = project_closed(dense, layer)
    return layer.pointwise, (approximation - dense.weight.double()).norm().item()


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("rank_scale", [0.3, 0.6])
def test_tucker_is_within_the_hosvd_bounds_and_no_worse_than_hosvd(shape, rank_scale):
    dense = decaying_linear(*shape)
    part, error = projected("tucker", rank_scale, dense)
    tensor = dense.weight.double().reshape(part.shape)
    bounds = [discarded(unfolding, rank) for unfolding, rank in zip(mode_unfoldings(tensor), part.ranks)]
    assert max(bounds) - 1e-9 <= error <= sum(b * b for b in bounds) ** 0.5 + 1e-9
    core, factors = hosvd(tensor, part.ranks)
    hosvd_error = (torch.einsum("abc,ia,jb,kc->ijk", core, *factors) - tensor).norm().item()
    assert error <= hosvd_error + 1e-9


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("rank_scale", [0.3, 0.6])
def test_tensor_train_is_within_the_tt_svd_bounds(shape, rank_scale):
    dense = decaying_linear(*shape)
    part, error = projected("tensor-train", rank_scale, dense)
    tensor = dense.weight.double().reshape(part.shape)
    d1, d2, d3 = part.shape
    bounds = [discarded(tensor.reshape(d1, d2 * d3), part.ranks[0]),
              discarded(tensor.reshape(d1 * d2, d3), part.ranks[1])]
    assert max(bounds) - 1e-9 <= error <= sum(b * b for b in bounds) ** 0.5 + 1e-9
    assert error <= 2 ** 0.5 * max(bounds) + 1e-9  # hence ≤ √(d − 1)·best


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("rank_scale", [0.1, 0.3])
def test_cp_is_no_better_than_its_multilinear_bound_and_beats_the_zero_tensor(shape, rank_scale):
    dense = decaying_linear(*shape)
    part, error = projected("cp", rank_scale, dense)
    tensor = dense.weight.double().reshape(part.shape)
    bound = max(discarded(unfolding, part.rank) for unfolding in mode_unfoldings(tensor))
    assert bound - 1e-9 <= error < tensor.norm().item()


@pytest.mark.parametrize("name, setting, structure", [
    ("tucker", 0.5, lambda shape, ranks: torch.einsum("abc,ia,jb,kc->ijk", torch.randn(ranks),
                                                       *(torch.randn(d, r) for d, r in zip(shape, ranks)))),
    ("tensor-train", 0.5, lambda shape, ranks: torch.einsum("xia,ajb,bky->ijk", torch.randn(1, shape[0], ranks[0]),
                                                             torch.randn(ranks[0], shape[1], ranks[1]),
                                                             torch.randn(ranks[1], shape[2], 1))),
    ("cp", 0.2, lambda shape, rank: torch.einsum("ir,jr,kr->ijk", *(torch.randn(d, rank) for d in shape))),
])
def test_a_tensor_of_the_family_is_recovered(name, setting, structure):
    dense = nn.Linear(16, 16, bias=False)
    part = get_substitute(name).factory(setting).linear(16, 16, bias=False).pointwise
    sizes = part.rank if name == "cp" else part.ranks
    with torch.no_grad():
        dense.weight.copy_(structure(part.shape, sizes).reshape(16, 16))
    _, error = projected(name, setting, dense)
    assert (part.rank if name == "cp" else min(part.ranks)) > 1  # a structure worth recovering
    assert error < 1e-4 * dense.weight.norm().item()


@pytest.mark.parametrize("name", ["tucker", "tensor-train", "cp"])
def test_the_error_falls_as_the_setting_grows(name):
    dense = decaying_linear(16, 24)
    errors = [projected(name, setting, dense)[1] for setting in (0.1, 0.3, 0.6, 1.0)]
    assert all(later <= earlier + 1e-9 for earlier, later in zip(errors, errors[1:]))
    assert errors[-1] < errors[0]


def test_hooi_never_increases_the_hosvd_error():
    tensor = torch.randn(6, 7, 5, dtype=torch.float64)
    ranks = (3, 2, 4)
    core, factors = hosvd(tensor, ranks)
    hooi_core, hooi_factors = tucker(tensor, ranks)
    hooi = (torch.einsum("abc,ia,jb,kc->ijk", hooi_core, *hooi_factors) - tensor).norm()
    assert hooi <= (torch.einsum("abc,ia,jb,kc->ijk", core, *factors) - tensor).norm() + 1e-12
    # The core is the projection onto the factors: orthonormal columns make it the best core for them.
    torch.testing.assert_close(hooi_core, tucker_core(tensor, hooi_factors))
