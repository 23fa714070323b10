"""The fast forwards of butterfly and Kronecker against straightforward implementations kept here.

Butterfly runs two stages per batched matmul on a reordered feature layout, and
Kronecker picks the cheaper of its two contraction orders; both must compute
exactly the map (and the gradients) of the plain stage-by-stage and einsum
forms below, for the same parameters, on square and non-square shapes.
"""

import pytest
import torch

from budgetsearch.counting import count
from budgetsearch.substitutes import get_substitute
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


@pytest.mark.parametrize("name", list(REFERENCES))
@pytest.mark.parametrize("d_in, d_out, setting", SHAPES)
def test_forward_and_gradients_equal_the_straightforward_form(name, d_in, d_out, setting):
    layer = linear(name, d_in, d_out, setting)
    x = torch.randn(7, d_in, dtype=torch.float64, requires_grad=True)
    layer.double()
    fast, plain = layer.mix(x), REFERENCES[name](layer, x)
    torch.testing.assert_close(fast, plain, rtol=1e-12, atol=1e-12)
    weights = torch.randn_like(plain)
    grads = torch.autograd.grad((fast * weights).sum(), [x, *layer.parameters()])
    expected = torch.autograd.grad((plain * weights).sum(), [x, *layer.parameters()])
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_kronecker_runs_each_order_where_it_is_cheaper():
    # 48 = 6·8 → 24 = 4·6 costs 384 per term A first, 432 B first; 24 → 48 the reverse.
    assert kronecker_orders(48, 24) == {"B first": 432, "A first": 384}
    assert kronecker_orders(24, 48) == {"B first": 384, "A first": 432}
    assert not linear("kronecker", 48, 24, 2).b_first and linear("kronecker", 24, 48, 2).b_first


@pytest.mark.parametrize("d_in, d_out", [(48, 24), (24, 48), (160, 320), (320, 640), (100, 36), (17, 5)])
def test_kronecker_is_counted_in_the_order_it_runs(d_in, d_out):
    layer = linear("kronecker", d_in, d_out, 2)
    rows = 5
    per_term = kronecker_orders(d_in, d_out)["B first" if layer.b_first else "A first"]
    assert per_term == min(kronecker_orders(d_in, d_out).values())
    assert count(layer, (1, rows, d_in)).mult_adds == rows * layer.terms * per_term
