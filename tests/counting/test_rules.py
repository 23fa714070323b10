"""Each counting rule on a tiny module, against a hand formula or torch's FlopCounterMode."""

import dataclasses
import math

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


@pytest.mark.parametrize("function", [torch.exp, torch.exp_, lambda x: x.pow(2), lambda x: torch.pow(2.0, x),
                                      torch.ceil])
def test_a_pointwise_function_costs_one_per_element(function):
    assert count(Lambda(function), SIZE).mult_adds == ELEMENTS


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


@pytest.mark.parametrize("function", [torch.mul, torch.div, torch.add, torch.sub, torch.floor_divide, torch.remainder],
                         ids=lambda f: f.__name__)
def test_broadcasting_arithmetic_costs_one_per_output_element(function):
    # (1, C, 1, W) with (1, 1, H, 1): the output, C·H·W, is larger than either operand.
    model = Lambda(lambda x: function(x[:, :, :1, :], x[:, :1, :, :1]))
    assert count(model, SIZE).mult_adds == ELEMENTS


@pytest.mark.parametrize("function", [
    lambda x: torch.arange(x.shape[-1]) // 3 % 2,  # each column's window parity, as Swin computes its masks
    lambda x: x.shape[-1] // 2 + torch.arange(x.shape[-2]) * 2,
    lambda x: (x > 0) & (x != 1),
])
def test_index_arithmetic_is_free(function):
    assert count(Lambda(function), SIZE).mult_adds == 0


@pytest.mark.parametrize("function", [
    lambda x: x.masked_fill((x >= 0) & (x <= 1), -1.0), lambda x: torch.where(x.eq(0), x, x.new_ones(())),
    lambda x: x.clamp_min(0.5), lambda x: x.min(), lambda x: x.min(dim=1).values, lambda x: (x < 2, x > 2),
])
def test_comparisons_and_selections_are_free(function):
    assert count(Lambda(function), SIZE).mult_adds == 0


class PositionTable(nn.Module):
    def __init__(self):
        super().__init__()
        self.table = nn.Embedding(10, 8)

    def forward(self, x):
        return x + self.table(torch.arange(x.shape[-2]))


def test_an_embedding_lookup_is_free_and_its_table_is_parameters():
    result = count(PositionTable(), SIZE)
    assert result.mult_adds == ELEMENTS  # the add alone
    assert result.params == 10 * 8


@pytest.mark.parametrize("function", [
    lambda x: x.mean((2, 3)), lambda x: x.sum(1), lambda x: x.mean(), lambda x: F.adaptive_avg_pool1d(x.flatten(2), 1),
    lambda x: torch.linalg.vector_norm(x, dim=-1), lambda x: torch.linalg.vector_norm(x, ord=1),
])
def test_a_reduction_costs_one_per_element_read(function):
    assert count(Lambda(function), SIZE).mult_adds == ELEMENTS


def test_normalising_by_the_norm_costs_the_norm_and_the_division():
    # vector_norm, then clamp_min and expand_as (free), then the division
    assert count(Lambda(lambda x: F.normalize(x, dim=1)), SIZE).mult_adds == 2 * ELEMENTS


@pytest.mark.parametrize("mode, taps", [("nearest", 0), ("nearest-exact", 0), ("bilinear", 4), ("bicubic", 16)])
def test_interpolation_costs_its_taps_per_output_element(mode, taps):
    model = Lambda(lambda x: F.interpolate(x, scale_factor=2, mode=mode))
    assert count(model, SIZE).mult_adds == taps * 4 * ELEMENTS


@pytest.mark.parametrize("mode, size, taps_per_axis", [
    ("bicubic", (12, 16), (4, 4)),  # enlarging: the bicubic's 4×4
    ("bicubic", (3, 4), (8, 8)),  # halving: the filter spans twice as many inputs each way
    ("bilinear", (3, 4), (4, 4)),
    ("bicubic", (4, 4), (6, 8)),  # 6 -> 4 rows, 8 -> 4 columns
])
def test_antialiased_interpolation_widens_its_taps_by_the_reduction(mode, size, taps_per_axis):
    model = Lambda(lambda x: F.interpolate(x, size=size, mode=mode, antialias=True))
    assert count(model, SIZE).mult_adds == math.prod(taps_per_axis) * 4 * size[0] * size[1]


@pytest.mark.parametrize("kernel, padding, stride, columns", [(3, 1, 1, 6 * 8), (2, 0, 2, 3 * 4)])
def test_folding_columns_into_an_image_costs_one_per_column_element(kernel, padding, stride, columns):
    # unfold (im2col) copies; fold (col2im) adds every column element into its place, overlapping or not
    model = Lambda(lambda x: F.fold(F.unfold(x, kernel, padding=padding, stride=stride), (6, 8), kernel,
                                    padding=padding, stride=stride))
    assert count(model, SIZE).mult_adds == 4 * kernel * kernel * columns


@pytest.mark.parametrize("padding, kernel, dilation, out_positions", [
    ("same", 3, 1, 6 * 8), ("same", 4, 2, 6 * 8), ("valid", 3, 1, 4 * 6)])
def test_a_string_padding_conv_costs_what_a_conv_costs(padding, kernel, dilation, out_positions):
    conv = nn.Conv2d(4, 5, kernel, padding=padding, dilation=dilation)
    result = count(conv, SIZE)
    assert result.mult_adds == result.by_operator["conv"] == 4 * 5 * kernel * kernel * out_positions
    assert result.mult_adds == torch_mult_adds(conv, SIZE)


@pytest.mark.parametrize("function", [
    lambda x: torch.cat([x.reshape(1, 8, 6, 4).permute(0, 3, 1, 2).flatten(1), x.flatten(1)], 1),
    lambda x: torch.roll(x, (1, 2), (2, 3)), lambda x: x.split([1, 3], 1), lambda x: x.unbind(1),
    lambda x: x[:, :1].expand_as(x), lambda x: x.flatten().reshape_as(x), lambda x: x.unflatten(1, (2, 2)),
    lambda x: F.unfold(x, 2, stride=2),
])
def test_data_movement_is_free(function):
    assert count(Lambda(function), SIZE).mult_adds == 0


def test_a_value_of_unknown_shape_stops_the_count_naming_the_operator():
    # unbind returns a list, whose shape the trace does not know: a rule that reads it once read 1 element.
    rules = default_rules() | {"aten::unbind": _rules.per_output_element}
    with pytest.raises(CountingError, match=r"cannot count aten::unbind: a List\[Tensor\] value has no known shape"):
        count(Lambda(lambda x: x.unbind(1)), SIZE, rules=rules)


class DiscardsAHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        self.head(x)  # runs, and its result is dropped (SigLIP's pooling head under its classifier)
        return torch.sigmoid(x)


def test_work_whose_result_is_discarded_is_counted():
    model = DiscardsAHead()
    result = count(model, SIZE)
    assert result.by_operator["linear"] == torch_mult_adds(model, SIZE) == 4 * 6 * 8 * 3
    assert result.mult_adds == 4 * 6 * 8 * 3 + ELEMENTS


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
