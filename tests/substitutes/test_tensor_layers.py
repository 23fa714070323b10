"""Tensor-decomposed 1×1 substitutes (tensor-train, Tucker, CP) against independent numbers.

Expected parameter counts are the original study's published integers or are worked out by
hand in the comments; reconstructions are checked against explicit loops.
"""

import pytest
import torch
import torch.nn.functional as F

import budgetsearch.substitutes.cp as cp
import budgetsearch.substitutes.tensor_train as tensor_train
import budgetsearch.substitutes.tucker as tucker
from budgetsearch.errors import ConfigError
from budgetsearch.substitutes import get_substitute, parse_substitute, reconstructed_once
from budgetsearch.substitutes._tensor_shapes import dimensionize

BUILDERS = {"tensor-train": tensor_train.tensor_train_conv, "tucker": tucker.tucker_conv, "cp": cp.cp_conv}
POINTWISE = {"tensor-train": tensor_train.TensorTrainPointwise, "tucker": tucker.TuckerPointwise, "cp": cp.CPPointwise}


def n_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("out_in, shape", [
    ((160, 16), (16, 16, 10)), ((160, 160), (32, 32, 25)), ((320, 160), (40, 40, 32)),
    ((320, 320), (50, 64, 32)), ((640, 320), (64, 64, 50)), ((640, 640), (80, 80, 64)),
    ((64, 64), (16, 16, 16)),
    ((7, 1), (7, 1, 1)),  # prime N: 2..7 first divides at 7, then 1 < round(e) = 2 is taken whole
    ((1, 1), (1, 1, 1)),
])
def test_dimensionize_matches_reference_shapes(out_in, shape):
    assert dimensionize(*out_in) == shape


def test_dimensionize_rejects_bad_channels():
    with pytest.raises(ConfigError, match="out_channels"):
        dimensionize(0, 16)


# (C_i, C_o, stride) of the four layers the original study published per-layer counts of, all k=3, padding 1,
# bias=False.
WRN_LAYERS = [(16, 160, 1), (160, 160, 1), (160, 320, 2), (640, 640, 1)]


def test_tensor_train_044_matches_reference_per_layer_params():
    built = [tensor_train.tensor_train_conv(c_in, c_out, 3, s, 1, rank_scale=0.44) for c_in, c_out, s in WRN_LAYERS]
    assert [n_params(m) for m in built] == [744, 7_091, 12_688, 88_752]


def test_ranks_round_half_to_even():
    # 64×64 → dims (16, 16, 16); h·16 = 6.5 rounds to 6 and 7.5 to 8 under Python's round.
    tt_low = tensor_train.tensor_train_conv(64, 64, 1, rank_scale=6.5 / 16)
    tt_high = tensor_train.tensor_train_conv(64, 64, 1, rank_scale=7.5 / 16)
    assert n_params(tt_low) == 16 * 6 + 6 * 16 * 6 + 6 * 16 == 768
    assert n_params(tt_high) == 16 * 8 + 8 * 16 * 8 + 8 * 16 == 1_280
    tk_low = tucker.tucker_conv(64, 64, 1, rank_scale=6.5 / 16)
    assert n_params(tk_low) == 3 * 16 * 6 + 6 ** 3 == 504


def test_tucker_reference_example_is_textbook():
    # The original's Tucker at (160,160), h=0.25 → dims (32,32,25), t=(8,8,6): 662 + 384 = 1,046; depthwise 160·9.
    block = tucker.tucker_conv(160, 160, 3, 1, 1, rank_scale=0.25)
    assert n_params(block.pointwise) == 1_046
    assert n_params(block) == 1_046 + 1_440


def test_cp_rank_tracks_fraction_of_dense():
    # (160,160): Σd = 89; h=0.25 → R = round(6400/89 = 71.9) = 72 → 6,408; h=1 → R = 288 → 25,632.
    assert n_params(cp.cp_conv(160, 160, 1, rank_scale=0.25)) == 6_408
    assert n_params(cp.cp_conv(160, 160, 1, rank_scale=1.0)) == 25_632
    assert n_params(cp.cp_conv(160, 160, 1, rank_scale=1e-4)) == 89  # R is at least 1


def loop_weight(layer, name):
    """The (C_o, C_i) weight by explicit loops over every entry and rank index."""
    d1, d2, d3 = layer.shape
    weight = torch.zeros(layer.out_channels, layer.in_channels, dtype=torch.float64)
    for o in range(layer.out_channels):
        for c in range(layer.in_channels):
            i, rest = divmod(o * layer.in_channels + c, d2 * d3)  # row-major flattening
            j, k = divmod(rest, d3)
            total = 0.0
            if name == "tensor-train":
                g1, g2, g3 = (t.detach().double() for t in layer.cores)
                for a in range(g2.shape[0]):
                    for b in range(g2.shape[2]):
                        total += g1[0, i, a] * g2[a, j, b] * g3[b, k, 0]
            elif name == "tucker":
                core, (u1, u2, u3) = layer.core.detach().double(), [u.detach().double() for u in layer.factors]
                for a, b, e in torch.cartesian_prod(*(torch.arange(n) for n in core.shape)).tolist():
                    total += core[a, b, e] * u1[i, a] * u2[j, b] * u3[k, e]
            else:
                f1, f2, f3 = (f.detach().double() for f in layer.factors)
                for r in range(f1.shape[1]):
                    total += f1[i, r] * f2[j, r] * f3[k, r]
            weight[o, c] = total
    return weight


@pytest.mark.parametrize("name", BUILDERS)
def test_reconstruction_matches_explicit_loops(name):
    torch.manual_seed(0)
    layer = POINTWISE[name](4, 6, 0.7)  # N = 24 → dims (3, 4, 2)
    assert layer.shape == (3, 4, 2)
    expected = loop_weight(layer, name).float().view(6, 4, 1, 1)
    torch.testing.assert_close(layer.reconstruct_weight(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", BUILDERS)
@pytest.mark.parametrize("kernel, stride, padding", [(3, 2, 1), (1, 2, 1), (1, 1, 0)])
def test_forward_equals_conv_with_reconstructed_weight(name, kernel, stride, padding):
    torch.manual_seed(1)
    block = BUILDERS[name](4, 6, kernel, stride, padding, bias=True, rank_scale=0.7)
    with torch.no_grad():
        block.pointwise.bias.normal_()
    x = torch.randn(2, 4, 7, 7)
    weight = loop_weight(block.pointwise, name).float().view(6, 4, 1, 1)
    if kernel > 1:
        inner = F.conv2d(x, block.depthwise.weight, None, stride, padding, groups=4)
        expected = F.conv2d(inner, weight, block.pointwise.bias)
    else:
        assert block.depthwise is None
        expected = F.conv2d(x, weight, block.pointwise.bias, stride, padding)
    torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-5)
    assert block(x).shape == torch.nn.Conv2d(4, 6, kernel, stride, padding)(x).shape
    with reconstructed_once(block):
        torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", BUILDERS)
def test_gradients_reach_every_parameter(name):
    block = BUILDERS[name](8, 16, 3, 1, 1, rank_scale=0.5)
    block(torch.randn(1, 8, 5, 5)).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in block.parameters())
    assert all(p.dtype == torch.float32 for p in block.parameters())


@pytest.mark.parametrize("name", BUILDERS)
def test_builds_on_meta_device_with_same_count(name):
    with torch.device("meta"):
        meta = BUILDERS[name](160, 320, 3, 2, 1, rank_scale=0.44)
        assert meta.pointwise.reconstruct_weight().shape == (320, 160, 1, 1)
    assert all(p.is_meta for p in meta.parameters())
    assert n_params(meta) == n_params(BUILDERS[name](160, 320, 3, 2, 1, rank_scale=0.44))


@pytest.mark.parametrize("name", BUILDERS)
@pytest.mark.parametrize("c_out, c_in, rank_scale", [(160, 160, 0.5), (320, 160, 0.25), (64, 64, 0.5), (160, 16, 1.0)])
def test_init_gives_he_fan_out_entry_variance(name, c_out, c_in, rank_scale):
    # Each reconstructed entry should have E[w²] = 2/C_o; average a few draws (low ranks fluctuate).
    torch.manual_seed(2)
    second_moment = sum(POINTWISE[name](c_in, c_out, rank_scale).reconstruct_weight().square().mean().item()
                        for _ in range(8)) / 8
    assert 1 / 1.5 < second_moment / (2.0 / c_out) < 1.5


@pytest.mark.parametrize("text, name", [
    ("TensorTrain_0.44", "tensor-train"), ("Tucker_0.41", "tucker"), ("cp:0.3", "cp"),
])
def test_registered_under_new_and_original_names(text, name):
    factory = parse_substitute(text)
    assert factory.substitute.name == name
    assert get_substitute(name).compressed_types == (POINTWISE[name],)
    assert isinstance(factory(16, 32, 3, padding=1, bias=False).pointwise, POINTWISE[name])
    with pytest.raises(ConfigError, match="rank_scale"):
        get_substitute(name).factory(0.0)
