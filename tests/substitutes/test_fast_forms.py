"""The fast forwards of butterfly, Kronecker and hashed against straightforward implementations kept here.

Butterfly runs two stages per batched matmul on a reordered feature layout,
Kronecker the cheapest of its three contraction orders, hashed an index_select
gather; each must compute the map (and the gradients) of the plain stage-by-stage,
einsum and sign-and-index forms below, for the same parameters, on square and
non-square shapes.
"""

import pytest
import torch

from budgetsearch.counting import count
from budgetsearch.substitutes import butterfly, get_substitute
from structured_formulas import kronecker_orders

SHAPES = [(16, 16, 3), (12, 20, 3), (20, 12, 2), (10, 7, 3), (5, 33, 2), (1, 5, 1), (2, 2, 2), (3, 17, 4),
          (64, 200, 4), (300, 40, 3), (24, 48, 2), (48, 24, 2)]


def linear(name, d_in, d_out, setting):
    torch.manual_seed(0)
    layer = get_substitute(name).factory(setting).linear(d_in, d_out, bias=False)
    with torch.no_grad():
        for p in layer.parameters():
            p.normal_()  # not the init: every twiddle and factor entry matters
    return layer


def butterfly_stage_by_stage(layer, x):
    """One 2×2 matmul per stage on features j and j + stride of each group of 2·stride, as the paper draws it."""
    n, stacks, log_n = layer.n, layer.nstacks, layer.log_n
    x = torch.nn.functional.pad(x, (0, n - layer.in_features)).t().unsqueeze(0).expand(stacks, n, -1)
    for block in range(layer.factors):
        for stage in range(log_n):
            stride = 1 << (stage if block % 2 == 0 else log_n - 1 - stage)
            twiddle = layer.twiddle[:, block, stage].reshape(stacks, n // (2 * stride), stride, 2, 2)
            x = x.reshape(stacks, n // (2 * stride), 2, stride, -1).transpose(2, 3)
            x = torch.matmul(twiddle, x).transpose(2, 3).reshape(stacks, n, -1)
    return x.permute(2, 0, 1).reshape(-1, stacks * n)[:, :layer.out_features]


def kronecker_einsum(layer, x):
    """Σₖ Aₖ·X·Bₖᵀ with X the row read as an i₁×i₂ matrix."""
    y = torch.einsum("kpa,nab,kqb->npq", layer.A, x.reshape(-1, layer.i1, layer.i2), layer.B)
    return y.reshape(-1, layer.out_features)


REFERENCES = {"butterfly": butterfly_stage_by_stage, "kronecker": kronecker_einsum}
# Kronecker at 200 terms (capped per shape) takes the weight-first order wherever it may.
CASES = [(name, *shape) for name in REFERENCES for shape in SHAPES] + [("kronecker", d_in, d_out, 200)
                                                                        for d_in, d_out, _ in SHAPES]


@pytest.mark.parametrize("name, d_in, d_out, setting", CASES)
def test_forward_and_gradients_equal_the_straightforward_form(name, d_in, d_out, setting):
    layer = linear(name, d_in, d_out, setting)
    x = torch.randn(7, d_in, dtype=torch.float64, requires_grad=True)
    layer.double()
    fast, plain = layer.mix(x), REFERENCES[name](layer, x)
    assert fast.shape == (7, d_out)
    torch.testing.assert_close(fast, plain, rtol=1e-12, atol=1e-12)
    weights = torch.randn_like(plain)
    grads = torch.autograd.grad((fast * weights).sum(), [x, *layer.parameters()])
    expected = torch.autograd.grad((plain * weights).sum(), [x, *layer.parameters()])
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("d_in, d_out", [(12, 20), (20, 12), (5, 33)])
def test_butterfly_in_chunks_of_rows_is_the_same_map_and_count(d_in, d_out, monkeypatch):
    layer = linear("butterfly", d_in, d_out, 2).double()
    n = layer.n * layer.nstacks
    monkeypatch.setattr(butterfly, "CHUNK_ACTIVATIONS", 2 * n)  # 7 rows: chunks of 2, 2, 2, 1
    x = torch.randn(7, d_in, dtype=torch.float64, requires_grad=True)
    fast, plain = layer.mix(x), butterfly_stage_by_stage(layer, x)
    torch.testing.assert_close(fast, plain, rtol=1e-12, atol=1e-12)
    (grad,) = torch.autograd.grad(fast.sum(), layer.twiddle)
    (expected,) = torch.autograd.grad(plain.sum(), layer.twiddle)
    torch.testing.assert_close(grad, expected, rtol=1e-12, atol=1e-12)
    # Each stage is two mult-adds per padded feature and row, chunked or not.
    assert count(layer.float(), (1, 7, d_in)).mult_adds == 7 * 2 * n * layer.log_n * layer.factors


@pytest.mark.parametrize("terms, order", [(1, "A first"), (3, "A first"), (4, "weight first"), (16, "weight first")])
def test_kronecker_runs_the_cheapest_order_ties_to_the_first(terms, order):
    # 48 = 6·8 → 24 = 4·6: 432 per term B first, 384 A first; the dense 1152 from 3 terms on (a tie at 3).
    assert kronecker_orders(48, 24, 1) == {"B first": 432, "A first": 384, "weight first": 1152}
    assert linear("kronecker", 48, 24, terms).order == order
    assert linear("kronecker", 24, 48, 1).order == "B first"  # the reverse shape: 384 B first, 432 A first


@pytest.mark.parametrize("d_in, d_out, terms", [(48, 24, 2), (24, 48, 2), (48, 24, 9), (160, 320, 2),
                                                (320, 640, 3), (320, 640, 200), (100, 36, 2), (17, 5, 2)])
def test_kronecker_is_counted_in_the_order_it_runs(d_in, d_out, terms):
    layer = linear("kronecker", d_in, d_out, terms)
    orders = kronecker_orders(d_in, d_out, layer.terms)
    rows = 5
    result = count(layer, (1, rows, d_in))
    assert result.mult_adds == rows * orders[layer.order] == rows * min(orders.values())
    # Only W = Σₖ Aₖ ⊗ Bₖ is rebuilt arithmetic: one mult-add per term and entry, per step.
    assert result.reconstruction_mult_adds == (layer.terms * d_in * d_out if layer.order == "weight first" else 0)


@pytest.mark.parametrize("c_in, c_out, kernel", [(3, 5, 3), (8, 4, 1), (6, 10, 3)])
def test_hashed_weight_and_gradient_equal_the_sign_and_index_form(c_in, c_out, kernel):
    torch.manual_seed(0)
    layer = get_substitute("hashed").factory(0.3)(c_in, c_out, kernel, padding=kernel // 2)
    index, budget = layer.signed_index.long(), layer.bank.numel()
    # Entry j is ξ(j)·w[h(j)]: the table holds h(j) for ξ = +1 and B + h(j) for ξ = −1.
    plain = torch.where(index < budget, 1.0, -1.0) * layer.bank[index % budget]
    torch.testing.assert_close(layer.reconstruct_weight(), plain.view(layer.weight_shape), rtol=0, atol=0)
    weights = torch.randn(layer.weight_shape)
    (grad,) = torch.autograd.grad((layer.reconstruct_weight() * weights).sum(), layer.bank)
    (expected,) = torch.autograd.grad((plain.view(layer.weight_shape) * weights).sum(), layer.bank)
    torch.testing.assert_close(grad, expected)
