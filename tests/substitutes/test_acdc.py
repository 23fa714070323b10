"""ACDC substitute: factor algebra, channel folding, parameter counts, init variance."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from budgetsearch.errors import ConfigError
from budgetsearch.substitutes import get_substitute, parse_substitute, reconstructed_once
from budgetsearch.substitutes.acdc import ACDCPointwise

ACDC = get_substitute("acdc")


def unnormalised_dct(size):
    """C[i, k] = 2·cos(π·k·(2i+1)/(2N)) (scipy dct type 2, norm=None), float64."""
    i = torch.arange(size, dtype=torch.float64).unsqueeze(1)
    k = torch.arange(size, dtype=torch.float64).unsqueeze(0)
    return 2.0 * torch.cos(math.pi * k * (2 * i + 1) / (2 * size))


def riffle_matrix(size):
    """The riffle column permutation: new column j·(N/2)+g <- old column 2g+j (even N)."""
    r = torch.zeros(size, size, dtype=torch.float64)
    for j in range(2):
        for g in range(size // 2):
            r[2 * g + j, j * (size // 2) + g] = 1.0
    return r


def expected_stack(a, d):
    """(M_1·R)…(M_n·R), M = diag(a)·C·R·diag(d)·C⁻¹ with the unnormalised DCT and its exact inverse."""
    size = a.shape[1]
    dct, riffle = unnormalised_dct(size), riffle_matrix(size)
    inverse = torch.linalg.inv(dct)
    product = torch.eye(size, dtype=torch.float64)
    for a_l, d_l in zip(a, d):
        product = product @ torch.diag(a_l) @ dct @ riffle @ torch.diag(d_l) @ inverse @ riffle
    return product


@pytest.fixture
def float64():
    """Build in float64 so the module's own DCT is exact to ~1e-15, not cast up from float32."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def randomised(layer):
    """Replace a and d by values far from 1 so the algebra is really exercised."""
    with torch.no_grad():
        layer.a.uniform_(0.5, 1.5)
        layer.d.uniform_(-1.5, 1.5)
    return layer


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_registration():
    assert get_substitute("ACDC") is ACDC
    assert ACDC.original_name == "ACDC"
    hp = ACDC.hyperparameter
    assert (hp.name, hp.type, hp.low, hp.high, hp.grows) == ("layers", int, 1, 128, True)
    assert ACDC.compressed_types == (ACDCPointwise,)
    with pytest.raises(ConfigError):
        ACDC.check_setting(0)


@pytest.mark.parametrize("factors", [1, 2, 5])
def test_stack_matches_unnormalised_dct_with_exact_inverse(factors, float64):
    torch.manual_seed(factors)
    layer = randomised(ACDCPointwise(12, 12, factors))
    expected = expected_stack(layer.a.detach(), layer.d.detach())
    torch.testing.assert_close(layer.stacked_matrix().detach(), expected, rtol=0, atol=1e-10)


def test_odd_channels_riffle_evens_then_odds(float64):
    torch.manual_seed(0)
    layer = randomised(ACDCPointwise(7, 7, 2))
    dct = unnormalised_dct(7)
    riffle = torch.eye(7, dtype=torch.float64)[:, [0, 2, 4, 6, 1, 3, 5]]
    product = torch.eye(7, dtype=torch.float64)
    for a_l, d_l in zip(layer.a.detach(), layer.d.detach()):
        product = product @ torch.diag(a_l) @ dct @ riffle @ torch.diag(d_l) @ torch.linalg.inv(dct) @ riffle
    torch.testing.assert_close(layer.stacked_matrix().detach(), product, rtol=0, atol=1e-10)


def test_unit_diagonals_give_an_orthogonal_stack():
    layer = ACDCPointwise(160, 160, 11)
    with torch.no_grad():
        layer.a.fill_(1.0)
        layer.d.fill_(1.0)
    w = layer.stacked_matrix().detach()
    torch.testing.assert_close(w @ w.t(), torch.eye(160), rtol=0, atol=1e-5)


# Worked out by hand from the original's expansion (tile after padding) and the documented grouping (contraction).
EXPANSIONS = {
    (4, 8): [0, 1, 2, 3] * 2,            # a = 0, e = 2
    (3, 10): [0, 1, 2, 0, 1] * 2,        # a = 2, e = 2
    (5, 12): [0, 1, 2, 3, 4, 0] * 2,     # a = 1, e = 2
    (3, 7): [0, 1, 2, 0, 1, 2, 0],       # a = 4 > C_i: the copies wrap around
}
CONTRACTIONS = {
    (8, 4): [0, 0, 1, 1, 2, 2, 3, 3],    # adjacent pairs
    (6, 4): [0, 0, 1, 2, 2, 3],          # groups of 2, 1, 2, 1
    (7, 3): [0, 0, 0, 1, 1, 2, 2],
}


@pytest.mark.parametrize("channels", list(EXPANSIONS) + list(CONTRACTIONS))
def test_channel_folding_matches_moving_activations(channels, float64):
    c_in, c_out = channels
    torch.manual_seed(c_in * 100 + c_out)
    layer = randomised(ACDCPointwise(c_in, c_out, 3))
    x = torch.randn(2, c_in, 5, 5, dtype=torch.float64)
    w = layer.stacked_matrix().detach()
    if channels in EXPANSIONS:
        wide = x[:, EXPANSIONS[channels]]
        expected = F.conv2d(wide, w[:, :, None, None])
    else:
        product = F.conv2d(x, w[:, :, None, None])
        groups = torch.tensor(CONTRACTIONS[channels])
        expected = torch.stack([product[:, groups == o].sum(1) for o in range(c_out)], 1)
    torch.testing.assert_close(layer(x).detach(), expected, rtol=0, atol=1e-10)


# The original's published ACDC_12 row: the original drops its last factor, so that is n = 11 here.
@pytest.mark.parametrize("c_in, c_out, stride, params", [
    (16, 160, 1, 3_664), (160, 160, 1, 4_960), (160, 320, 2, 8_480), (640, 640, 1, 19_840),
])
def test_reference_parameter_counts(c_in, c_out, stride, params):
    factory = parse_substitute("ACDC_11")
    assert count(factory(c_in, c_out, 3, stride, 1, bias=False)) == params
    with torch.device("meta"):
        assert count(factory(c_in, c_out, 3, stride, 1, bias=False)) == params


@pytest.mark.parametrize("c_in, c_out, kernel, layers, bias", [
    (6, 4, 1, 3, False), (3, 10, 3, 2, True), (5, 5, 5, 7, True), (12, 9, 1, 1, True),
])
def test_parameter_formula(c_in, c_out, kernel, layers, bias):
    block = ACDC.factory(layers)(c_in, c_out, kernel, bias=bias)
    expected = (c_in * kernel**2 if kernel > 1 else 0) + 2 * max(c_in, c_out) * layers + (c_out if bias else 0)
    assert count(block) == expected
    assert block.pointwise.factors == layers


@pytest.mark.parametrize("c_in, c_out, kernel, stride, padding, dilation", [
    (16, 160, 3, 1, 1, 1), (160, 320, 3, 2, 1, 1), (8, 4, 1, 2, 0, 1), (6, 9, 3, 1, 2, 2), (7, 3, 1, 1, 1, 1),
])
def test_output_shape_matches_conv2d(c_in, c_out, kernel, stride, padding, dilation):
    x = torch.randn(2, c_in, 9, 9)
    block = ACDC.factory(3)(c_in, c_out, kernel, stride, padding, dilation)
    dense = nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation)
    assert block(x).shape == dense(x).shape


@pytest.mark.parametrize("c_in, c_out", [(16, 160), (160, 160), (640, 320)])
def test_init_variance_matches_he_fan_out_dense_conv(c_in, c_out):
    torch.manual_seed(0)
    block = ACDC.factory(12)(c_in, c_out, 3, 1, 1)
    with torch.no_grad():
        variance = block(torch.randn(4, c_in, 16, 16)).var().item()
        pointwise = block.pointwise(torch.randn(64, c_in, 4, 4)).var().item()
    target = 2.0 * c_in / c_out
    assert target / 2 < variance < target * 2
    # The calibration itself is exact for iid input; only sampling noise remains.
    assert pointwise == pytest.approx(target, rel=0.1)


def test_init_of_a_and_d():
    torch.manual_seed(0)
    layer = ACDCPointwise(320, 320, 12)
    d = layer.d.detach()
    assert d.mean().item() == pytest.approx(1.0, abs=1e-3) and d.std().item() == pytest.approx(0.01, rel=0.1)
    later = layer.a.detach()[1:]  # the first row also carries the variance gain
    assert later.mean().item() == pytest.approx(1.0, abs=1e-3) and later.std().item() == pytest.approx(0.01, rel=0.1)


def test_every_parameter_gets_a_gradient():
    block = ACDC.factory(4)(10, 6, 3, 1, 1, bias=True)
    block(torch.randn(2, 10, 6, 6)).square().sum().backward()
    for name, parameter in block.named_parameters():
        assert parameter.dtype == torch.float32, name
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


def test_constants_are_not_checkpointed_and_reload_reproduces_weight():
    source = ACDCPointwise(6, 10, 3)
    assert set(source.state_dict()) == {"a", "d"}
    target = ACDCPointwise(6, 10, 3)
    target.load_state_dict(source.state_dict())
    torch.testing.assert_close(target.reconstruct_weight(), source.reconstruct_weight())


def test_reconstructed_once_gives_the_same_output():
    block = ACDC.factory(5)(16, 32, 3, 1, 1)
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        expected = block(x)
        with reconstructed_once(block):
            torch.testing.assert_close(block(x), expected)


@pytest.mark.parametrize("factors", [0, -1, 2.0, True])
def test_bad_factor_count_is_an_error(factors):
    with pytest.raises(ConfigError, match="factors"):
        ACDCPointwise(4, 4, factors)


def test_a_long_stack_under_bf16_autocast_is_rounded_once():
    # Rounding each of the 2n - 1 products to bf16 compounds: 6.6 % output error here.
    layer = ACDCPointwise(256, 256, factors=64)
    x = torch.randn(8, 256, 4, 4)
    with torch.no_grad():
        exact = layer(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = layer(x).float()
    assert ((mixed - exact).norm() / exact.norm()).item() < 0.01
