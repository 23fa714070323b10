"""BLAST from dense weights: no closed form (refused by name), the authors' factorisation starts the fit.

Independent expectations: Eckart–Young's optimum at one block (U·diag(s)·Vᵀ is a
rank-r product), exactness at the rank where BLAST holds every matrix, the
paper's definition of the matrix block by block, and the layer's effective
weight read off by impulses.
"""

import pytest
import torch
from torch import nn

from budgetsearch.models import create_model
from budgetsearch.projection import (
    NoClosedFormError, effective_weight, geometry_of, project, project_closed, project_layer,
)
from budgetsearch.projection._blast import blast_factors, blast_matrix
from budgetsearch.substitutes import get_substitute
from budgetsearch.substitutes.blast import BlastLinear

# (d_out, d_in, blocks): square, non-square both ways, every block count the layer takes.
SHAPES = [(24, 24, 4), (36, 24, 3), (20, 30, 2), (16, 40, 4)]


def relative_error(approximation, target):
    return ((approximation - target).norm() / target.norm()).item()


def definition(left, coupling, right):
    """W block by block, as the paper writes it: W_ij = U_i · diag(s_ij) · V_jᵀ."""
    blocks = left.shape[0]
    return torch.cat([torch.cat([left[i] @ torch.diag(coupling[i, j]) @ right[j].t() for j in range(blocks)], 1)
                      for i in range(blocks)])


def decaying(d_out, d_in, rate=0.85):
    """A matrix with geometrically decaying singular values, as trained weights have."""
    u = torch.linalg.qr(torch.randn(d_out, d_out, dtype=torch.float64))[0]
    v = torch.linalg.qr(torch.randn(d_in, d_out, dtype=torch.float64))[0]
    count = min(d_out, d_in)
    return (u[:, :count] * rate ** torch.arange(count, dtype=torch.float64)) @ v[:, :count].t()


@pytest.mark.parametrize("d_out, d_in, rank", [(24, 16, 3), (30, 45, 7)])
def test_one_block_reaches_the_truncated_svd(d_out, d_in, rank):
    # b = 1 is U·diag(s)·Vᵀ, a rank-r product: the optimum is Eckart–Young's.
    weight = decaying(d_out, d_in)
    factors = blast_factors(weight, 1, rank, generator=torch.Generator().manual_seed(0))
    discarded = torch.linalg.svdvals(weight)[rank:].norm().item()
    assert (blast_matrix(*factors) - weight).norm().item() == pytest.approx(discarded, rel=1e-6)


@pytest.mark.parametrize("d_out, d_in, blocks", SHAPES)
def test_at_full_rank_every_matrix_is_reproduced(d_out, d_in, blocks):
    weight = torch.randn(d_out, d_in, dtype=torch.float64)
    factors = blast_factors(weight, blocks, min(d_out, d_in), generator=torch.Generator().manual_seed(0))
    assert relative_error(blast_matrix(*factors), weight) < 1e-10
    torch.testing.assert_close(blast_matrix(*factors), definition(*factors))


def test_the_factorisation_is_deterministic_given_the_generator():
    weight = torch.randn(16, 24, dtype=torch.float64)
    first, second = (blast_factors(weight, 4, 5, rounds=10, generator=torch.Generator().manual_seed(3))
                     for _ in range(2))
    assert all(torch.equal(a, b) for a, b in zip(first, second))


@pytest.mark.parametrize("kind", ["gaussian", "decaying"])
def test_the_error_falls_as_the_rank_grows(kind):
    weight = torch.randn(32, 48, dtype=torch.float64) if kind == "gaussian" else decaying(32, 48)
    errors = [relative_error(blast_matrix(*blast_factors(weight, 4, rank)), weight) for rank in (2, 4, 8, 16, 24, 32)]
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-12


def test_a_direct_least_squares_fit_gains_little_on_the_factorisation():
    # Adam on the weight error (the fit without data), from the factorisation: it ends near a local optimum.
    dense = nn.Linear(48, 32, bias=False)
    with torch.no_grad():
        dense.weight.copy_(decaying(32, 48))
    layer = BlastLinear(48, 32, bias=False, rank=8, blocks=4)
    started = project_layer("layer", dense, layer, "fit", steps=0).weight_error
    fitted = project_layer("layer", dense, layer, "fit", steps=200).weight_error
    assert fitted >= 0.97 * started


def test_closed_refuses_blast_by_name():
    dense = nn.Linear(24, 16)
    with pytest.raises(NoClosedFormError, match="'blast'.*method='fit'"):
        project_closed(dense, get_substitute("blast").factory(3).linear(24, 16))


@pytest.mark.parametrize("geometry", [(12, 20, 3, 2, 1, 1), (9, 15, 1, 1, 0, 1), (7, 10, 3, 1, 1, 1),
                                      (16, 16, 1, 2, 1, 1)], ids=str)
def test_the_fit_start_is_what_the_conv_computes(geometry):
    c_in, c_out, k, s, p, d = geometry
    dense = nn.Conv2d(c_in, c_out, k, s, p, d, bias=False)
    layer = get_substitute("blast").factory(3)(c_in, c_out, k, stride=s, padding=p, dilation=d, bias=False)
    approximation = project_closed(dense, layer, for_fit=True)
    torch.testing.assert_close(effective_weight(layer, geometry_of(dense)).double(), approximation,
                               atol=1e-6, rtol=1e-5)
    assert relative_error(approximation, dense.weight.double()) < 1


@pytest.mark.parametrize("d_out, d_in, blocks", SHAPES)
def test_a_full_rank_layer_fitted_without_steps_computes_the_dense_weight(d_out, d_in, blocks):
    dense = nn.Linear(d_in, d_out)
    layer = BlastLinear(d_in, d_out, rank=min(d_out, d_in), blocks=blocks)
    record = project_layer("layer", dense, layer, "fit", steps=0)
    assert record.method == "fit" and record.weight_error < 1e-6
    torch.testing.assert_close(effective_weight(layer, geometry_of(dense)), dense.weight, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(layer.bias, dense.bias)


def test_fit_projects_a_model_and_closed_names_the_family():
    dense = create_model("vit-1-64", num_classes=10, substitute="conv")
    substituted = create_model("vit-1-64", num_classes=10, substitute="blast", setting=4)
    with pytest.raises(NoClosedFormError, match="'blast'"):
        project(dense, substituted, "closed")
    batch = torch.randn(4, 3, 32, 32)
    started = project(dense, substituted, "fit", calibration=batch, steps=0)
    fitted = project(dense, substituted, "fit", calibration=batch, steps=20)
    assert all(layer.method == "fit" for layer in fitted.layers)
    assert 0 < fitted.output_error <= started.output_error < 1
