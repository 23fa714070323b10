"""Monarch, butterfly, Kronecker, BTT and BLAST against their definitions.

Parameter counts are the issue's formulas (with each family's documented cap),
written out here; outputs are compared with the explicit dense matrix assembled
in the test from the module's factors, as the papers define it; mult-adds are the
formula, torch's FlopCounterMode and both of budgetsearch's counters.
"""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from budgetsearch.counting import count
from budgetsearch.errors import ConfigError
from budgetsearch.substitutes import get_substitute
from structured_formulas import expected_mult_adds_per_row, expected_params

# (d_in, d_out): square, rectangular both ways, powers of two and not, primes, a single feature.
SHAPES = [(640, 640), (160, 320), (320, 160), (96, 160), (256, 1024), (1024, 256), (100, 36), (48, 24), (7, 7),
          (17, 5), (3, 17), (1, 5), (12, 18)]
SETTINGS = {"monarch": [1, 2, 3, 4, 6, 8, 16, 64], "butterfly": [1, 2, 3, 8], "kronecker": [1, 2, 5, 40, 300],
            "btt": [1, 2, 3, 16, 100], "blast": [1, 2, 3, 8, 40, 300]}


def linear(name, d_in, d_out, setting, bias=False):
    return get_substitute(name).factory(setting).linear(d_in, d_out, bias=bias)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_parameter_counts_follow_the_formulas(name):
    cases = 0
    for d_in, d_out in SHAPES:
        for setting in SETTINGS[name]:
            with torch.device("meta"):
                layer = linear(name, d_in, d_out, setting, bias=True)
            assert sum(p.numel() for p in layer.parameters()) == expected_params(name, d_in, d_out, setting) + d_out, \
                (d_in, d_out, setting)
            cases += 1
    assert cases >= 10


@pytest.mark.parametrize("name", list(SETTINGS))
def test_no_setting_builds_more_than_the_dense_layer_where_the_smallest_fits(name):
    for d_in, d_out in [(640, 640), (160, 320), (1024, 256), (96, 160)]:
        for setting in range(1, int(get_substitute(name).hyperparameter.high) + 1, 3):
            with torch.device("meta"):
                params = sum(p.numel() for p in linear(name, d_in, d_out, setting).parameters())
            assert params <= d_in * d_out, (d_in, d_out, setting)


def monarch_matrix(layer):
    """Pout · BD₂ · P · BD₁, from the reference's reshapes, acting on the zero-padded input."""
    first, second = layer.blkdiag1.detach(), layer.blkdiag2.detach()
    b, q, s = first.shape[0], first.shape[1], second.shape[1]
    middle = torch.zeros(b * q, b * q)
    for f in range(b * q):  # h[f], f = k·q + j, read as (r, l) = divmod(f, b), lands at l·q + r
        r, l = divmod(f, b)
        middle[l * q + r, f] = 1
    out = torch.zeros(b * s, b * s)
    for l in range(b):
        for j in range(s):
            out[j * b + l, l * s + j] = 1
    return out @ torch.block_diag(*second) @ middle @ torch.block_diag(*first)


def butterfly_matrix(layer):
    twiddle, n = layer.twiddle.detach(), layer.n
    stacks, factors, log_n = twiddle.shape[:3]
    matrices = []
    for k in range(stacks):
        product, increasing = torch.eye(n), True
        for block in range(factors):
            for stage in range(log_n):
                stride = 2 ** (stage if increasing else log_n - 1 - stage)
                factor = torch.zeros(n, n)
                for g in range(n // (2 * stride)):
                    for t in range(stride):
                        for i in range(2):
                            for j in range(2):
                                factor[g * 2 * stride + i * stride + t, g * 2 * stride + j * stride + t] = \
                                    twiddle[k, block, stage, g * stride + t, i, j]
                product = factor @ product
            increasing = not increasing
        matrices.append(product)
    return torch.cat(matrices)


def kronecker_matrix(layer):
    return sum(torch.kron(a, b) for a, b in zip(layer.A.detach(), layer.B.detach()))


def btt_matrix(layer):
    m1, m0, rn0 = layer.core1.shape
    n0, rm1, n1 = layer.core2.shape
    r = rn0 // n0
    first = layer.core1.detach().reshape(m1, m0, r, n0)
    second = layer.core2.detach().reshape(n0, r, m1, n1)
    # W[(p, q), (a, c)] = Σᵨ core1[a, c, ρ·n₀ + p] · core2[p, ρ·m₁ + a, q]
    return torch.einsum("acrp,praq->pqac", first, second).reshape(n0 * n1, m1 * m0)


def blast_matrix(layer):
    """The paper's definition, block by block: W_ij = U_i · diag(s_ij) · V_jᵀ."""
    left, right, coupling = layer.left.detach(), layer.right.detach(), layer.coupling.detach()
    blocks = left.shape[0]
    return torch.cat([torch.cat([left[i] @ torch.diag(coupling[i, j]) @ right[j].t() for j in range(blocks)], dim=1)
                      for i in range(blocks)])


MATRICES = {"monarch": monarch_matrix, "butterfly": butterfly_matrix, "kronecker": kronecker_matrix, "btt": btt_matrix,
            "blast": blast_matrix}


@pytest.mark.parametrize("name", list(MATRICES))
@pytest.mark.parametrize("d_in, d_out, setting", [(16, 16, 4), (12, 20, 3), (20, 12, 2), (10, 7, 3), (24, 36, 2),
                                                  (5, 33, 2)])
def test_output_equals_the_dense_matrix_of_the_factors(name, d_in, d_out, setting):
    torch.manual_seed(0)
    layer = linear(name, d_in, d_out, setting, bias=True)
    with torch.no_grad():
        layer.bias.normal_()
    matrix = MATRICES[name](layer)[:d_out, :d_in]  # padded inputs are zero, padded outputs cropped
    x = torch.randn(3, 4, d_in)
    torch.testing.assert_close(layer(x), x @ matrix.t() + layer.bias.detach(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", list(SETTINGS))
@pytest.mark.parametrize("d_in, d_out", [(256, 256), (256, 1024), (1024, 256)])
def test_linear_form_output_variance_matches_he_dense(name, d_in, d_out):
    torch.manual_seed(0)
    layer = linear(name, d_in, d_out, SETTINGS[name][2])
    with torch.no_grad():
        variance = layer(torch.randn(512, d_in)).var().item()
    assert 0.5 <= variance / (2 * d_in / d_out) <= 2.0


@pytest.mark.parametrize("name", list(SETTINGS))
def test_sizes_are_what_the_layer_builds(name):
    substitute = get_substitute(name)
    for setting in SETTINGS[name]:
        layer = linear(name, 96, 160, setting)
        assert substitute.resolve(96, 160, 1, setting) == getattr(layer, substitute.hyperparameter.name)


@pytest.mark.parametrize("name", list(SETTINGS))
@pytest.mark.parametrize("bad", [0, -1, 2.5, "4"])
def test_a_bad_size_names_the_hyperparameter(name, bad):
    cls = type(linear(name, 8, 8, 1))
    hyperparameter = get_substitute(name).hyperparameter.name
    with pytest.raises(ConfigError, match=f"{hyperparameter} must be an int >= 1, but got {bad!r}"):
        cls(8, 8, **{hyperparameter: bad})


@pytest.mark.parametrize("name", ["monarch", "btt", "blast"])
@pytest.mark.parametrize("d_in, d_out, setting", [(48, 24, 3), (30, 45, 2), (64, 64, 8)])
def test_mult_adds_are_the_formula_and_what_torch_counts(name, d_in, d_out, setting):
    # Families that never rebuild a weight: torch's FlopCounterMode sees only their bmm/einsum (FLOPs = 2·MACs).
    layer = linear(name, d_in, d_out, setting)
    rows = 7
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        layer(torch.zeros(rows, d_in))
    expected = rows * expected_mult_adds_per_row(name, d_in, d_out, setting)
    assert counter.get_total_flops() // 2 == expected
    for counter_name in ("fvcore", "dispatch"):
        assert count(layer, (1, rows, d_in), counter=counter_name).mult_adds == expected, counter_name


@pytest.mark.parametrize("d_in, d_out, factors", [(1, 1, 1), (3, 2, 5), (5, 7, 1), (16, 16, 2), (9, 40, 3),
                                                  (160, 160, 4), (100, 300, 2)])
def test_butterfly_knows_its_rebuilt_blocks_shapes_without_rebuilding(d_in, d_out, factors):
    from budgetsearch.substitutes.butterfly import ButterflyLinear

    layer = ButterflyLinear(d_in, d_out, factors=factors)
    rebuilt = layer.reconstruct()
    assert layer.reconstructed_shapes() == tuple(tuple(block.shape) for block in rebuilt)
    stand_in = layer.stand_in()
    assert [(z.shape, z.dtype) for z in stand_in] == [(block.shape, block.dtype) for block in rebuilt]
    assert all(not z.any() for z in stand_in)
