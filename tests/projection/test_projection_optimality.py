"""The matrix families' closed forms against their independent optima.

Each optimum is computed here from its theorem on a structure built by the
definition (Eckart–Young on singular values, the Van Loan–Pitsianis
rearrangement by explicit block loops, the hashed normal equations, least
squares on the output), or, for Monarch and BTT, checked against a direct
gradient fit of the layer's own parameters, and by exact recovery of a random
member of the family.
"""

import math

import pytest
import torch
from torch import nn

from budgetsearch.projection import effective_weight, geometry_of, project_closed
from budgetsearch.substitutes import get_substitute
from budgetsearch.substitutes.generic import bottleneck_rank

SHAPES = [(15, 8), (8, 15), (13, 13), (12, 18)]  # (in, out): both ways non-square, prime, non-divisible


def dense_linear(in_features, out_features, kind):
    """A random weight, or one with a decaying spectrum like a trained layer's."""
    layer = nn.Linear(in_features, out_features, bias=False)
    with torch.no_grad():
        if kind == "decaying":
            u, _ = torch.linalg.qr(torch.randn(out_features, out_features))
            v, _ = torch.linalg.qr(torch.randn(in_features, in_features))
            n = min(in_features, out_features)
            spectrum = 0.7 ** torch.arange(n, dtype=torch.float32)
            layer.weight.copy_(u[:, :n] * spectrum @ v[:, :n].t() + 0.01 * torch.randn(out_features, in_features))
        else:
            layer.weight.normal_()
    return layer


def error(approximation, dense):
    return (approximation - dense.weight.double()).norm().item()


def discarded(singular_values, kept):
    return singular_values[kept:].square().sum().sqrt().item()


@pytest.mark.parametrize("kind", ["random", "decaying"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("rank_scale", [0.1, 0.3, 0.8])
def test_low_rank_error_is_the_discarded_singular_values(kind, shape, rank_scale):
    dense = dense_linear(*shape, kind)
    layer = get_substitute("generic").factory(rank_scale).linear(*shape, bias=False)
    approximation = project_closed(dense, layer)
    singular_values = torch.linalg.svdvals(dense.weight.double())
    rank = bottleneck_rank(rank_scale, *shape)
    assert error(approximation, dense) == pytest.approx(discarded(singular_values, rank), abs=1e-9)
    assert torch.linalg.matrix_rank(approximation).item() <= rank


def per_channel_slices(weight):
    """(C_i, C_o, k²): what a depthwise kernel of input channel i and its 1×1 column must approximate together."""
    return weight.double().transpose(0, 1).flatten(2)


@pytest.mark.parametrize("geometry", [(6, 10, 3), (10, 6, 3), (7, 5, (3, 1))], ids=str)
def test_separable_split_is_the_per_channel_rank_one_optimum(geometry):
    c_in, c_out, k = geometry
    dense = nn.Conv2d(c_in, c_out, k, padding=1, bias=False)
    layer = get_substitute("separable").factory()(c_in, c_out, k, padding=1, bias=False)
    approximation = project_closed(dense, layer)
    slices = per_channel_slices(dense.weight)
    best = sum(slices[i].square().sum() - torch.linalg.svdvals(slices[i])[0] ** 2 for i in range(c_in))
    assert error(approximation, dense) ** 2 == pytest.approx(best.item(), abs=1e-9)


def test_a_separable_weight_is_recovered_exactly():
    pointwise, kernels = torch.randn(9, 5), torch.randn(5, 3, 3)
    dense = nn.Conv2d(5, 9, 3, padding=1, bias=False)
    with torch.no_grad():
        dense.weight.copy_(pointwise[:, :, None, None] * kernels[None])
    layer = get_substitute("separable").factory()(5, 9, 3, padding=1, bias=False)
    assert error(project_closed(dense, layer), dense) < 1e-5


def test_behind_a_depthwise_the_two_steps_errors_add():
    """‖W − P'⊗D‖² = (separable split's error)² + ‖P − P'‖², P'’s error the low-rank optimum of P."""
    dense = nn.Conv2d(8, 12, 3, padding=1, bias=False)
    layer = get_substitute("generic").factory(0.25)(8, 12, 3, padding=1, bias=False)
    approximation = project_closed(dense, layer)
    slices = per_channel_slices(dense.weight)
    split = sum(slices[i].square().sum() - torch.linalg.svdvals(slices[i])[0] ** 2 for i in range(8))
    pointwise = torch.stack([torch.linalg.svdvals(s)[0] * torch.linalg.svd(s)[0][:, 0] for s in slices], 1)
    low_rank = discarded(torch.linalg.svdvals(pointwise), bottleneck_rank(0.25, 8, 12)) ** 2
    assert error(approximation, dense) ** 2 == pytest.approx(split.item() + low_rank, abs=1e-9)


def rearranged(weight, out_split, in_split):
    """Van Loan–Pitsianis by the definition: row (p, a) is block (p, a) of W, of size o₂×i₂, read row-major."""
    (o1, o2), (i1, i2) = out_split, in_split
    blocks = [weight[p * o2:(p + 1) * o2, a * i2:(a + 1) * i2] for p in range(o1) for a in range(i1)]
    return torch.stack([block.flatten() for block in blocks])


@pytest.mark.parametrize("kind", ["random", "decaying"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("terms", [1, 2, 3])
def test_kronecker_error_is_the_discarded_singular_values_of_the_rearrangement(kind, shape, terms):
    dense = dense_linear(*shape, kind)
    layer = get_substitute("kronecker").factory(terms).linear(*shape, bias=False)
    approximation = project_closed(dense, layer)
    splits = (layer.o1, layer.o2), (layer.i1, layer.i2)
    singular_values = torch.linalg.svdvals(rearranged(dense.weight.double(), *splits))
    assert error(approximation, dense) == pytest.approx(discarded(singular_values, layer.terms), abs=1e-9)


@pytest.mark.parametrize("name, setting", [("kronecker", 2), ("btt", 2), ("monarch", 2), ("monarch", 3)])
@pytest.mark.parametrize("shape", [(12, 18), (10, 7), (16, 16)], ids=str)
def test_a_member_of_the_family_is_recovered_exactly(name, setting, shape):
    """The effective weight of a randomly initialised layer is in the family, so its projection loses nothing."""
    member = get_substitute(name).factory(setting).linear(*shape, bias=False)
    dense = nn.Linear(*shape, bias=False)
    with torch.no_grad():
        dense.weight.copy_(effective_weight(member, geometry_of(dense)))
    layer = get_substitute(name).factory(setting).linear(*shape, bias=False)
    assert error(project_closed(dense, layer), dense) < 1e-5 * dense.weight.norm().item()


def gradient_fit_error(layer, dense, steps=600):
    """A direct least-squares fit of the layer's own parameters to W, by Adam from its random init."""
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.02)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = (effective_weight(layer, geometry_of(dense)) - dense.weight).square().sum()
        loss.backward()
        optimizer.step()
        schedule.step()
    return (effective_weight(layer, geometry_of(dense)) - dense.weight).norm().item()


@pytest.mark.parametrize("name, setting, shape",
                         [("monarch", 2, (8, 6)), ("monarch", 3, (7, 10)), ("btt", 1, (9, 8))], ids=str)
def test_no_direct_fit_beats_the_closed_form(name, setting, shape):
    dense = dense_linear(*shape, "random")
    closed = error(project_closed(dense, get_substitute(name).factory(setting).linear(*shape, bias=False)), dense)
    for start in range(2):
        torch.manual_seed(start)
        fitted = gradient_fit_error(get_substitute(name).factory(setting).linear(*shape, bias=False), dense)
        assert closed <= fitted + 1e-4


@pytest.mark.parametrize("shape", [(12, 18), (15, 8), (16, 16)], ids=str)
@pytest.mark.parametrize("rank", [1, 2])
def test_btt_error_is_the_discarded_singular_values_of_each_block(shape, rank):
    dense = dense_linear(*shape, "random")
    layer = get_substitute("btt").factory(rank).linear(*shape, bias=False)
    approximation = project_closed(dense, layer)
    m0, n1, weight = layer.m0, layer.n1, dense.weight.double()
    blocks = [weight[t * n1:(t + 1) * n1, j * m0:(j + 1) * m0] for t in range(layer.n0) for j in range(layer.m1)]
    best = sum(discarded(torch.linalg.svdvals(block), layer.rank) ** 2 for block in blocks)
    assert error(approximation, dense) ** 2 == pytest.approx(best, abs=1e-9)


@pytest.mark.parametrize("name, dense", [
    ("hashed", nn.Conv2d(5, 7, 3, bias=False)),
    ("sep-hashed", nn.Linear(11, 6, bias=False)),
])
def test_hashed_bank_solves_the_least_squares_problem(name, dense):
    build = get_substitute(name).factory(0.2)
    layer = build(5, 7, 3, bias=False) if isinstance(dense, nn.Conv2d) else build.linear(11, 6, bias=False)
    project_closed(dense, layer)
    hashed = layer if isinstance(dense, nn.Conv2d) else layer.pointwise
    # The normal equations: the gradient of the squared weight error in the bank is zero.
    loss = (effective_weight(layer, geometry_of(dense)) - dense.weight).square().sum()
    (gradient,) = torch.autograd.grad(loss, hashed.bank)
    assert gradient.abs().max().item() < 1e-5
    # And the bank is the least-squares solution of the explicit design: entry j reads ξ_j·w[h(j)].
    budget = hashed.bank.numel()
    index = hashed.signed_index.long()
    design = torch.zeros(index.numel(), budget, dtype=torch.float64)
    design[torch.arange(index.numel()), index % budget] = torch.where(index < budget, 1.0, -1.0).double()
    solution = torch.linalg.lstsq(design, dense.weight.double().flatten().unsqueeze(1)).solution[:, 0]
    used = design.abs().sum(0) > 0
    torch.testing.assert_close(hashed.bank.double()[used], solution[used], atol=1e-6, rtol=1e-5)


def output_optimum(weight, inputs, rank):
    """min over rank-r W' of ‖(W − W')X‖: for any X, the discarded singular values of W·X."""
    return discarded(torch.linalg.svdvals(weight @ inputs), rank)


@pytest.mark.parametrize("samples, dead", [(200, 0), (40, 0), (200, 5)], ids=["full", "few-samples", "dead-channels"])
def test_whitened_low_rank_reaches_the_output_optimum(samples, dead):
    dense = dense_linear(16, 12, "decaying")
    inputs = torch.randn(samples, 16) * torch.linspace(0.1, 3.0, 16)
    inputs[:, :dead] = 0.0  # channels a ReLU left dead: a singular second moment
    weight, columns = dense.weight.double(), inputs.double().t()
    for rank_scale in (0.1, 0.25, 0.5):
        layer = get_substitute("generic").factory(rank_scale).linear(16, 12, bias=False)
        whitened = project_closed(dense, layer, inputs=inputs)
        plain = project_closed(dense, get_substitute("generic").factory(rank_scale).linear(16, 12, bias=False))
        rank = bottleneck_rank(rank_scale, 16, 12)
        whitened_error = ((weight - whitened) @ columns).norm().item()
        assert whitened_error == pytest.approx(output_optimum(weight, columns, rank), rel=1e-6, abs=1e-9)
        assert whitened_error <= ((weight - plain) @ columns).norm().item() + 1e-9
        # What the layer computes on the inputs is that optimum too.
        layer_error = (layer(inputs) - dense(inputs)).double().norm().item()
        assert layer_error == pytest.approx(whitened_error, rel=1e-4, abs=1e-5)


def test_whitened_on_a_strided_padded_1x1_conv_reaches_the_optimum_on_what_it_multiplies():
    dense = nn.Conv2d(10, 8, 1, stride=2, padding=1, bias=False)
    layer = get_substitute("generic").factory(0.2)(10, 8, 1, stride=2, padding=1, bias=False)
    inputs = torch.randn(6, 10, 7, 7)
    project_closed(dense, layer, inputs=inputs)
    columns = nn.functional.unfold(inputs, 1, padding=1, stride=2).transpose(0, 1).reshape(10, -1).double()
    optimum = output_optimum(dense.weight.double().flatten(1), columns, bottleneck_rank(0.2, 10, 8))
    assert (layer(inputs) - dense(inputs)).double().norm().item() == pytest.approx(optimum, rel=1e-4)
    assert math.isfinite(optimum) and optimum > 0


@pytest.mark.parametrize("kind", ["random", "decaying"])
@pytest.mark.parametrize("rank_scale", [0.1, 0.4, 1.0])
def test_square_tied_low_rank_is_the_nearest_positive_semidefinite_matrix(kind, rank_scale):
    """‖W − VᵀV‖² = ‖antisymmetric part‖² + Σ of the squared eigenvalues of the symmetric part not kept,
    the kept ones being its r largest positive ones (Higham, 1988)."""
    dense = dense_linear(13, 13, kind)
    layer = get_substitute("lowrank").factory(rank_scale).linear(13, 13, bias=False)
    approximation = project_closed(dense, layer)
    weight = dense.weight.double()
    eigenvalues = torch.linalg.eigvalsh((weight + weight.t()) / 2).flip(0)
    rank = bottleneck_rank(rank_scale, 13, 13)
    kept = eigenvalues[:rank].clamp_min(0)
    best = ((weight - weight.t()) / 2).square().sum() + (eigenvalues[:rank] - kept).square().sum() \
        + eigenvalues[rank:].square().sum()
    assert error(approximation, dense) ** 2 == pytest.approx(best.item(), abs=1e-9)
