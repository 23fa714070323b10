"""Every registered substitute behaves like nn.Conv2d and keeps its declared promises.

Expected parameter counts are written out here from each substitute's documented
formula, independently of the implementation.
"""

import math

import pytest
import torch
from fvcore.nn import parameter_count
from torch import nn

from budgetsearch.counting import count
from budgetsearch.substitutes import get_substitute, list_substitutes, reconstructed_once
from budgetsearch.substitutes._blocks import ReconstructedModule
from budgetsearch.substitutes._tensor_shapes import dimensionize
from budgetsearch.substitutes.shuffle import valid_groups
from structured_formulas import expected_mult_adds_per_row, expected_params as structured_params

NAMES = list_substitutes()
STRUCTURED = ("monarch", "butterfly", "kronecker", "btt", "blast")

# (C_i, C_o, kernel, stride, padding, dilation): stride 1 and 2, padding, dilation, in < out, in > out, k = 1 and k > 1.
GEOMETRIES = [
    (8, 16, 3, 1, 1, 1),
    (16, 8, 3, 2, 1, 1),
    (8, 8, 1, 1, 0, 1),
    (8, 16, 1, 2, 0, 1),
    (16, 8, 1, 1, 1, 1),
    (12, 8, 3, 1, 2, 2),
    (8, 24, 5, 2, 2, 1),
    (8, 16, (3, 1), (2, 1), (1, 0), 1),
]


def typical_setting(name):
    hp = get_substitute(name).hyperparameter
    if hp is None:
        return None
    return 0.25 if hp.type is float else int(hp.low) + 1


def sweep(name):
    hp = get_substitute(name).hyperparameter
    if hp.type is float:
        return [0.02 * i for i in range(1, 51)]
    return [v for v in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32) if hp.low <= v <= hp.high]


def build(name, geometry, setting=None):
    c_in, c_out, k, s, p, d = geometry
    setting = typical_setting(name) if setting is None else setting
    return get_substitute(name).factory(setting)(c_in, c_out, k, stride=s, padding=p, dilation=d, bias=False)


def expected_params(name, c_in, c_out, k, h):
    kk = k * k
    depthwise = c_in * kk if k > 1 else 0
    wide = max(c_in, c_out)
    if name == "conv":
        return c_in * c_out * kk
    if name == "separable":
        return depthwise + c_in * c_out
    if name == "hashed":
        return max(1, int(h * c_out * c_in * kk))
    if name == "sep-hashed":
        return depthwise + max(1, int(h * c_out * c_in))
    if name == "generic":
        return depthwise + max(1, int(h * wide)) * (c_in + c_out)
    if name == "lowrank":
        return depthwise + max(1, int(h * wide)) * wide
    if name == "shuffle":
        g, b = valid_groups(h, c_in, c_out), max(1, c_out // 4)
        return c_in * b // g + b * kk + b * c_out // g
    if name == "acdc":
        return depthwise + 2 * wide * h
    if name in STRUCTURED:
        return depthwise + structured_params(name, c_in, c_out, h)
    d1, d2, d3 = dimensionize(c_out, c_in)
    if name == "tensor-train":
        r1 = min(max(1, round(h * min(d1, d2))), d1, d2 * d3)
        r2 = min(max(1, round(h * min(d2, d3))), d1 * d2, d3)
        return depthwise + d1 * r1 + r1 * d2 * r2 + r2 * d3
    if name == "tucker":
        t = [max(1, round(h * d)) for d in (d1, d2, d3)]
        return depthwise + d1 * t[0] + d2 * t[1] + d3 * t[2] + math.prod(t)
    if name == "cp":
        return depthwise + max(1, round(h * c_out * c_in / (d1 + d2 + d3))) * (d1 + d2 + d3)
    raise AssertionError(f"no documented formula for {name!r} in this test: add one")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
def test_output_shape_matches_conv2d(name, geometry):
    c_in, c_out, k, s, p, d = geometry
    x = torch.randn(2, c_in, 11, 13)
    expected = nn.Conv2d(c_in, c_out, k, s, p, d)(x).shape
    assert build(name, geometry)(x).shape == expected


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_receives_a_gradient(name):
    module = build(name, (8, 16, 3, 2, 1, 1))
    module(torch.randn(4, 8, 9, 9)).square().sum().backward()
    for pname, p in module.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", [n for n in NAMES if get_substitute(n).hyperparameter is not None])
def test_count_moves_in_the_declared_direction(name):
    hp = get_substitute(name).hyperparameter
    counts = []
    for setting in sweep(name):
        with torch.device("meta"):
            module = build(name, (64, 128, 3, 1, 1, 1), setting)
        counts.append(sum(p.numel() for p in module.parameters()))
    steps = [b - a for a, b in zip(counts, counts[1:])]
    assert all(s >= 0 for s in steps) if hp.grows else all(s <= 0 for s in steps), counts
    assert counts[0] != counts[-1]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("geometry", [(16, 160, 3, 1, 1, 1), (160, 320, 3, 2, 1, 1), (48, 24, 1, 1, 0, 1)], ids=str)
def test_parameter_count_matches_formula_and_fvcore(name, geometry):
    module = build(name, geometry)
    c_in, c_out, k = geometry[:3]
    expected = expected_params(name, c_in, c_out, k, typical_setting(name))
    assert sum(p.numel() for p in module.parameters()) == expected
    assert parameter_count(module)[""] == expected


@pytest.mark.parametrize("name", NAMES)
def test_mult_adds_counted_with_a_rule_for_every_operator(name):
    module = nn.Sequential(build(name, (8, 16, 3, 2, 1, 1)), nn.ReLU())
    result = count(module, (8, 12, 12))
    assert result.mult_adds > 0
    assert result.params == expected_params(name, 8, 16, 3, typical_setting(name))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("geometry", [(16, 160, 3, 1, 1, 1), (160, 160, 3, 1, 1, 1), (64, 32, 3, 2, 1, 1)], ids=str)
def test_init_output_variance_is_within_2x_of_he_dense(name, geometry):
    c_in, c_out, k, s, p, d = geometry
    x = torch.randn(16, c_in, 16, 16)
    module = build(name, geometry)
    # A dense conv under the WideResNet's He fan-out init: Var(y) = 2·C_i/C_o on unit input,
    # less a little at the zero-padded border, measured the same way.
    dense = nn.Conv2d(c_in, c_out, k, s, p, d, bias=False)
    nn.init.normal_(dense.weight, std=math.sqrt(2.0 / (k * k * c_out)))
    with torch.no_grad():
        ratio = module(x).var().item() / dense(x).var().item()
    assert 0.5 <= ratio <= 2.0, ratio


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_gives_identical_outputs(name):
    geometry = (16, 32, 3, 1, 1, 1)
    torch.manual_seed(1)
    original = build(name, geometry)
    torch.manual_seed(2)
    rebuilt = build(name, geometry)
    rebuilt.load_state_dict(original.state_dict())
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        assert torch.equal(original(x), rebuilt(x))
        with reconstructed_once(rebuilt):
            assert torch.allclose(original(x), rebuilt(x), atol=1e-6)
    assert all(isinstance(v, torch.Tensor) and v.is_floating_point() for v in original.state_dict().values())


def test_unknown_substitute_lists_the_registered_names():
    with pytest.raises(KeyError) as error:
        get_substitute("nope")
    for name in NAMES:
        assert name in str(error.value)


@pytest.mark.parametrize("name", [n for n in NAMES if get_substitute(n).hyperparameter is not None])
@pytest.mark.parametrize("geometry", [(16, 160, 3, 1, 1, 1), (320, 160, 1, 2, 0, 1)], ids=str)
def test_settings_that_resolve_alike_build_layers_of_equal_size(name, geometry):
    # The solver skips builds for settings whose declared sizes it has already counted.
    substitute = get_substitute(name)
    c_in, c_out, k = geometry[:3]
    by_sizes = {}
    for setting in sweep(name) + [0.013 * i for i in range(1, 77)] * (substitute.hyperparameter.type is float):
        sizes = substitute.resolve(c_in, c_out, k, setting)
        with torch.device("meta"):
            params = sum(p.numel() for p in build(name, geometry, setting).parameters())
        by_sizes.setdefault(sizes, set()).add(params)
    assert all(len(counts) == 1 for counts in by_sizes.values()), by_sizes
    assert len(by_sizes) > 1


@pytest.mark.parametrize("name", [n for n in NAMES if n != "conv"])
def test_autocast_leaves_the_reconstruction_in_float32(name):
    # bf16 autocast casts once, where the rebuilt weight is used; the chain that builds it stays float32.
    layer = build(name, (16, 32, 3, 1, 1, 1))
    structured = [m for m in layer.modules() if isinstance(m, ReconstructedModule)]
    for module in structured:
        expected = module.reconstruct()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            rebuilt = module.reconstructed()
        for want, got in zip(*(v if isinstance(v, tuple) else (v,) for v in (expected, rebuilt))):
            assert got.dtype == want.dtype and torch.equal(got, want)


# --- The linear forms: nn.Linear(i, o) gets the 1×1 conv(i, o) at the same setting, without a depthwise part.

LINEAR_NAMES = [n for n in NAMES if get_substitute(n).linear is not None]
LINEAR_SHAPES = [(16, 160), (160, 48), (48, 48)]


def build_linear(name, in_features, out_features, bias=True, setting=None):
    setting = typical_setting(name) if setting is None else setting
    return get_substitute(name).factory(setting).linear(in_features, out_features, bias=bias)


def test_every_substitute_with_a_1x1_structure_has_a_linear_form():
    assert set(LINEAR_NAMES) >= {"conv", "separable", "generic", "lowrank", "hashed", "sep-hashed", "tensor-train",
                                 "tucker", "cp", "acdc"}
    assert "shuffle" not in LINEAR_NAMES


@pytest.mark.parametrize("name", LINEAR_NAMES)
@pytest.mark.parametrize("leading", [(), (5,), (2, 3, 7)], ids=str)
def test_linear_form_maps_the_last_dimension_of_any_leading_shape(name, leading):
    layer = build_linear(name, 12, 20)
    x = torch.randn(*leading, 12)
    y = layer(x)
    assert y.shape == (*leading, 20)
    # Row-wise: each row is mapped alone, whatever the leading shape.
    torch.testing.assert_close(layer(x.reshape(-1, 12)).reshape(y.shape), y)
    assert (layer.in_features, layer.out_features) == (12, 20)


@pytest.mark.parametrize("name", LINEAR_NAMES)
@pytest.mark.parametrize("shape", LINEAR_SHAPES, ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_form_parameters_are_the_1x1_formula_plus_the_bias(name, shape, bias):
    c_in, c_out = shape
    layer = build_linear(name, c_in, c_out, bias=bias)
    expected = expected_params(name, c_in, c_out, 1, typical_setting(name)) + (c_out if bias else 0)
    assert sum(p.numel() for p in layer.parameters()) == expected
    assert parameter_count(layer)[""] == expected


@pytest.mark.parametrize("name", LINEAR_NAMES)
def test_linear_form_keeps_a_zero_bias_and_trains_every_parameter(name):
    layer = build_linear(name, 12, 20)
    biases = [p for n, p in layer.named_parameters() if n.endswith("bias")]
    assert len(biases) == 1 and biases[0].shape == (20,) and not biases[0].any()
    layer(torch.randn(3, 4, 12)).square().sum().backward()
    for pname, p in layer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname


@pytest.mark.parametrize("name", LINEAR_NAMES)
@pytest.mark.parametrize("shape", LINEAR_SHAPES, ids=str)
def test_linear_form_init_output_variance_is_within_2x_of_dense_linear(name, shape):
    # dense_linear's rule, N(0, 2/out_features): Var(y) = 2·in/out on unit input.
    c_in, c_out = shape
    torch.manual_seed(0)
    with torch.no_grad():
        ratio = build_linear(name, c_in, c_out)(torch.randn(4096, c_in)).var().item() / (2 * c_in / c_out)
    assert 0.5 <= ratio <= 2.0, ratio


class TokensThen(nn.Module):
    """(1, C, H, W) -> (1, H·W, C) tokens, then ``layer``: a linear applied with a leading shape."""

    def __init__(self, layer):
        super().__init__()
        self.layer = layer

    def forward(self, x):
        return self.layer(x.flatten(2).transpose(1, 2))


def linear_mult_adds(name, c_in, c_out, h):
    """Per row, at inference: a rebuilt weight is one (out, in) product, the bottlenecks their two factors."""
    if name in ("generic", "lowrank"):
        return max(1, int(h * max(c_in, c_out))) * (c_in + c_out)
    if name in STRUCTURED:
        return expected_mult_adds_per_row(name, c_in, c_out, h)
    return c_in * c_out


@pytest.mark.parametrize("name", LINEAR_NAMES)
def test_linear_form_mult_adds_per_token_match_the_formula(name):
    layer = build_linear(name, 48, 24, bias=False)
    result = count(TokensThen(layer), (48, 3, 5))
    assert result.mult_adds == 15 * linear_mult_adds(name, 48, 24, typical_setting(name))
    assert result.params == expected_params(name, 48, 24, 1, typical_setting(name))


@pytest.mark.parametrize("name", LINEAR_NAMES)
def test_linear_form_state_dict_round_trip_and_reconstructed_once(name):
    torch.manual_seed(1)
    original = build_linear(name, 16, 32)
    torch.manual_seed(2)
    rebuilt = build_linear(name, 16, 32)
    rebuilt.load_state_dict(original.state_dict())
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        assert torch.equal(original(x), rebuilt(x))
        with reconstructed_once(rebuilt):
            torch.testing.assert_close(original(x), rebuilt(x), atol=1e-6, rtol=1e-5)
