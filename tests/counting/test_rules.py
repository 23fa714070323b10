"""Each counting rule on a tiny module, against a hand formula or torch's FlopCounterMode."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch_counts import flop_counter_mult_adds

from budgetsearch.counting import _rules, count, default_rules, register_rule
from budgetsearch.errors import ConfigError, CountingError

SIZE = (4, 6, 8)  # (C, H, W) of the one zero image count traces
ELEMENTS = 4 * 6 * 8


class Lambda(nn.Module):
    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, x):
        return self.function(x)


def torch_mult_adds(model, size) -> int:
    return sum(flop_counter_mult_adds(model, size).values())


@pytest.mark.parametrize("module", [
    nn.GELU(), nn.GELU(approximate="tanh"), nn.SiLU(), nn.SiLU(inplace=True), nn.Sigmoid(), nn.Tanh(),
    nn.Hardswish(), nn.Hardswish(inplace=True), nn.Hardsigmoid(), nn.Hardsigmoid(inplace=True),
    Lambda(torch.sigmoid_), Lambda(torch.tanh_),
], ids=repr)
def test_a_pointwise_activation_costs_one_per_element(module):
    assert count(module, SIZE).mult_adds == ELEMENTS


@pytest.mark.parametrize("module", [nn.ReLU6(), nn.ReLU6(inplace=True), nn.Hardtanh(-2, 2), Lambda(F.relu6)],
                         ids=repr)
def test_clamping_activations_are_comparisons_and_free(module):
    result = count(module, SIZE)
    assert result.mult_adds == 0 and result.params == 0


@pytest.mark.parametrize("module", [nn.Softmax(dim=1), nn.LogSoftmax(dim=-1)], ids=repr)
def test_softmax_costs_exponential_sum_and_normalisation_per_element(module):
    assert count(module, SIZE).mult_adds == 3 * ELEMENTS


@pytest.mark.parametrize("module, per_element", [
    (nn.LayerNorm(8), 4), (nn.LayerNorm((6, 8), elementwise_affine=False), 3),
    (nn.GroupNorm(2, 4), 4), (nn.GroupNorm(4, 4, affine=False), 3),
], ids=repr)
def test_layer_and_group_norm_cost_statistics_normalisation_and_affine(module, per_element):
    assert count(module, SIZE).mult_adds == per_element * ELEMENTS


@pytest.mark.parametrize("module", [nn.Dropout(0.5), nn.Dropout(0.5, inplace=True), nn.Dropout2d(0.3),
                                    nn.AlphaDropout(0.2), nn.FeatureAlphaDropout(0.2)], ids=repr)
def test_dropout_is_free_at_inference(module):
    assert count(nn.Sequential(module, nn.Sigmoid()), SIZE).mult_adds == ELEMENTS  # the sigmoid alone


def test_a_dropout_forced_on_in_eval_costs_its_mask_multiply():
    assert count(Lambda(lambda x: F.dropout(x, 0.5, training=True)), SIZE).mult_adds == ELEMENTS


class Attention(nn.Module):
    """Queries (H, L, E) are the input; keys its first S rows; values those rows twice over (E_v = 2E)."""

    def __init__(self, keys: int, mask=None, causal=False, dropout=0.0):
        super().__init__()
        self.keys, self.causal, self.dropout = keys, causal, dropout
        self.register_buffer("mask", mask)

    def forward(self, x):
        k = x[:, :, :self.keys]
        v = torch.cat([k, k], dim=-1)
        return F.scaled_dot_product_attention(x, k, v, attn_mask=self.mask, dropout_p=self.dropout,
                                              is_causal=self.causal)


@pytest.mark.parametrize("mask, causal, dropout, extra_per_score", [
    (None, False, 0.0, 0), (None, True, 0.0, 0), (torch.zeros(6, 5), False, 0.0, 1),
    (torch.ones(6, 5, dtype=torch.bool), False, 0.0, 0), (None, False, 0.1, 1),
])
def test_scaled_dot_product_attention_by_hand(mask, causal, dropout, extra_per_score):
    heads, queries, keys, width = 3, 6, 5, 4  # B·L·S scores, E = 4, E_v = 8
    model = Attention(keys, mask, causal, dropout)
    scores = heads * queries * keys
    qk, av, scale, softmax = scores * width, scores * 2 * width, scores, 3 * scores
    expected = qk + av + scale + softmax + extra_per_score * scores
    assert count(model, (heads, queries, width)).mult_adds == expected


def test_attention_counts_what_its_eager_equivalent_counts():
    class Eager(nn.Module):
        def forward(self, x):
            k = x[:, :, :5]
            v = torch.cat([k, k], dim=-1)
            return torch.matmul(torch.softmax(torch.matmul(x, k.transpose(-1, -2)) * 0.5, dim=-1), v)

    assert count(Eager(), (3, 6, 4)).mult_adds == count(Attention(5), (3, 6, 4)).mult_adds


class Product(nn.Module):
    def __init__(self, other_shape, function=torch.matmul):
        super().__init__()
        self.other = nn.Parameter(torch.zeros(other_shape))
        self.function = function

    def forward(self, x):
        return self.function(x, self.other)


@pytest.mark.parametrize("input_size, other_shape, expected", [
    ((2, 3, 5), (5, 7), 2 * 3 * 5 * 7),  # leading dims on the first operand
    ((1, 3, 5), (4, 5, 7), 4 * 3 * 5 * 7),  # broadcast leading dims on the second (fvcore counted 3·5·7)
    ((2, 3, 5), (6, 2, 5, 7), 6 * 2 * 3 * 5 * 7),
])
def test_matmul_with_leading_dimensions_counts_every_output_matrix(input_size, other_shape, expected):
    model = Product(other_shape)
    assert count(model, input_size).mult_adds == expected
    assert torch_mult_adds(model, input_size) == expected


def test_a_matrix_vector_product_by_hand():  # FlopCounterMode has no rule for mv
    assert count(Product((5,)), (2, 3, 5)).mult_adds == 2 * 3 * 5


def test_bmm_counts_batch_rows_columns_and_depth():
    model = Product((1, 5, 7), lambda x, y: torch.bmm(x[0], y.expand(2, 5, 7)))
    assert count(model, (2, 3, 5)).mult_adds == 2 * 3 * 5 * 7 == torch_mult_adds(model, (2, 3, 5))


@pytest.mark.parametrize("equation, other_shape, expected", [
    ("bij,bjk->bik", (2, 5, 7), 2 * 3 * 5 * 7),
    ("...ij,...jk->...ik", (2, 5, 7), 2 * 3 * 5 * 7),
    ("...ij,jk", (5, 7), 2 * 3 * 5 * 7),  # implicit output
    ("bqd,bkd->bqk", (2, 7, 5), 2 * 3 * 7 * 5),
    ("bij,bij->bi", (2, 3, 5), 2 * 3 * 5),
    ("bij,k->bijk", (4,), 2 * 3 * 5 * 4),  # an outer product: one multiply per output element
    ("bij,jk->bi", (5, 7), 5 * 7 + 2 * 3 * 5),  # k, needed by no one, is summed out of the second first
])
def test_einsum_by_hand(equation, other_shape, expected):
    model = Product(other_shape, lambda x, y: torch.einsum(equation, x[0], y))
    assert count(model, (2, 3, 5)).mult_adds == expected


@pytest.mark.parametrize("equation, other_shape", [("bij,bjk->bik", (2, 5, 7)), ("...ij,jk->...ik", (5, 7)),
                                                   ("bqd,bkd->bqk", (2, 7, 5))])
def test_two_operand_einsum_counts_what_torch_executes(equation, other_shape):
    model = Product(other_shape, lambda x, y: torch.einsum(equation, x[0], y))
    assert count(model, (2, 3, 5)).mult_adds == torch_mult_adds(model, (2, 3, 5))


def test_three_operand_einsum_contracts_left_to_right():
    model = Product((5, 7), lambda x, y: torch.einsum("bij,jk,kl->bil", x[0], y, y.t()))
    assert count(model, (2, 3, 5)).mult_adds == 2 * 3 * 5 * 7 + 2 * 3 * 7 * 5


@pytest.mark.parametrize("function", [torch.mul, torch.div, torch.add, torch.sub], ids=lambda f: f.__name__)
def test_broadcasting_arithmetic_costs_one_per_output_element(function):
    # (1, C, 1, W) with (1, 1, H, 1): the output, C·H·W, is larger than either operand.
    model = Lambda(lambda x: function(x[:, :, :1, :], x[:, :1, :, :1]))
    assert count(model, SIZE).mult_adds == ELEMENTS


@pytest.mark.parametrize("function", [lambda x: x.mean((2, 3)), lambda x: x.sum(1), lambda x: x.mean()])
def test_a_reduction_costs_one_per_element_read(function):
    assert count(Lambda(function), SIZE).mult_adds == ELEMENTS


@pytest.mark.parametrize("mode, taps", [("nearest", 0), ("nearest-exact", 0), ("bilinear", 4), ("bicubic", 16)])
def test_interpolation_costs_its_taps_per_output_element(mode, taps):
    model = Lambda(lambda x: F.interpolate(x, scale_factor=2, mode=mode))
    assert count(model, SIZE).mult_adds == taps * 4 * ELEMENTS


@pytest.mark.parametrize("padding, kernel, dilation, out_positions", [
    ("same", 3, 1, 6 * 8), ("same", 4, 2, 6 * 8), ("valid", 3, 1, 4 * 6)])
def test_a_string_padding_conv_costs_what_a_conv_costs(padding, kernel, dilation, out_positions):
    conv = nn.Conv2d(4, 5, kernel, padding=padding, dilation=dilation)
    result = count(conv, SIZE)
    assert result.mult_adds == result.by_operator["conv"] == 4 * 5 * kernel * kernel * out_positions
    assert result.mult_adds == torch_mult_adds(conv, SIZE)


def test_data_movement_is_free():
    model = Lambda(lambda x: torch.cat([x.reshape(1, 8, 6, 4).permute(0, 3, 1, 2).flatten(1), x.flatten(1)], 1))
    assert count(model, SIZE).mult_adds == 0


def test_an_operator_without_a_rule_still_fails():
    with pytest.raises(CountingError, match="aten::erf"):
        count(Lambda(torch.erf), SIZE)


@pytest.fixture
def no_registered_rules(monkeypatch):
    monkeypatch.setattr(_rules, "_REGISTERED", {})


def per_element(cost):
    return lambda inputs, outputs: cost * _rules._numel(outputs[0])


def test_a_registered_rule_reaches_the_default_table_and_count(no_registered_rules):
    register_rule("aten::erf", per_element(7))
    assert "aten::erf" in default_rules()
    assert count(Lambda(torch.erf), SIZE).mult_adds == 7 * ELEMENTS


def test_registering_an_operator_that_has_a_rule_needs_replace(no_registered_rules):
    with pytest.raises(ConfigError, match=r"'aten::gelu' already has a counting rule; pass replace=True"):
        register_rule("aten::gelu", per_element(8))
    register_rule("aten::gelu", per_element(8), replace=True)
    assert count(nn.GELU(), SIZE).mult_adds == 8 * ELEMENTS
    register_rule("aten::erf", per_element(1))
    with pytest.raises(ConfigError, match="replace=True"):
        register_rule("aten::erf", per_element(2))


def test_rules_given_to_count_still_replace_the_table(no_registered_rules):
    register_rule("aten::erf", per_element(7))
    rules = default_rules() | {"aten::erf": per_element(2)}
    assert count(Lambda(torch.erf), SIZE, rules=rules).mult_adds == 2 * ELEMENTS


@pytest.mark.parametrize("op, handle, message", [
    ("erf", per_element(1), "op must be a traced operator name such as 'aten::erf', but got 'erf'"),
    ("aten::erf", 3, "handle for 'aten::erf' must be callable"),
])
def test_a_bad_registration_is_a_clear_error(no_registered_rules, op, handle, message):
    with pytest.raises(ConfigError, match=message):
        register_rule(op, handle)


@dataclasses.dataclass
class Result:
    logits: torch.Tensor
    features: dict


class ReturnsStructures(nn.Module):
    def __init__(self, wrap):
        super().__init__()
        self.linear, self.wrap = nn.Linear(8, 3), wrap

    def forward(self, x):
        return self.wrap(self.linear(x), x)


@pytest.mark.parametrize("wrap", [lambda y, x: {"logits": y, "input": [x]},
                                  lambda y, x: Result(y, {"input": x, "scale": 2.0})],
                         ids=["dict", "dataclass"])
def test_a_model_may_return_a_dict_or_a_dataclass(wrap):
    result = count(ReturnsStructures(wrap), SIZE)
    assert result.mult_adds == 4 * 6 * 8 * 3
    assert [(layer.name, layer.params, layer.mult_adds) for layer in result.layers] == [("linear", 27, 576)]


def test_a_model_that_returns_no_tensor_is_a_clear_error():
    with pytest.raises(CountingError, match="must return tensors, but returned NoneType"):
        count(Lambda(lambda x: None), SIZE)
