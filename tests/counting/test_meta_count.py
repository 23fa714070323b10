"""``count`` of a model on the meta device (the dispatch counter reads shapes only) against fvcore on real storage.

Independent expectation: the same network built twice on the meta device, one
given zero-filled CPU storage and traced by fvcore, the other counted where it
is, with no storage at all.
"""

import pytest
import torch

from budgetsearch.counting import count, zero_filled
from budgetsearch.counting._count import DISPATCH, FVCORE
from budgetsearch.counting._dispatch import (ADAPTIVE_AVG_POOL, BATCH_NORM, CAT, ELEMENTWISE, LINEAR,
                                             _shortcut_on_meta)
from budgetsearch.errors import CountingError
from budgetsearch.models import create_model
from budgetsearch.substitutes import get_substitute, shape_only
from budgetsearch.solver._search import lowest

SIZE = (3, 8, 8)


def _on_meta(substitute: str):
    found = get_substitute(substitute)
    with shape_only():
        return create_model("wrn-10-1", num_classes=10, substitute=substitute,
                            setting=None if found.hyperparameter is None else lowest(found.hyperparameter))


@pytest.mark.parametrize("substitute", ["conv", "hashed", "acdc", "tensor-train"])
def test_a_network_on_meta_counts_as_fvcore_counts_it_on_real_storage(substitute):
    real, meta = count(zero_filled(_on_meta(substitute)), SIZE), count(_on_meta(substitute), SIZE, counter="dispatch")
    assert (meta.params, meta.mult_adds, meta.exact_mult_adds) == (real.params, real.mult_adds, real.exact_mult_adds)
    assert (meta.layers, meta.by_operator) == (real.layers, real.by_operator)
    assert meta.reconstruction_mult_adds == real.reconstruction_mult_adds
    assert (real.convention.counter, meta.convention.counter) == (FVCORE, DISPATCH)


def test_fvcore_refuses_a_model_on_meta_naming_the_counter_that_takes_it():
    with pytest.raises(CountingError, match="meta device with fvcore.*counter='dispatch'"):
        count(_on_meta("conv"), SIZE, counter="fvcore")


BINARY = sorted((op for op in ELEMENTWISE if len(op._schema.arguments) > 1), key=str)


@pytest.mark.parametrize("op", BINARY, ids=str)
@pytest.mark.parametrize("left, right", [((4, 3), (4, 3)), ((4, 1), (1, 3)), ((2, 4, 3), (3,)), ((), (5, 2)),
                                         ((3,), ())])
@pytest.mark.parametrize("dtypes", [(torch.float32, torch.float32), (torch.float64, torch.float32),
                                    (torch.float16, torch.float32), (torch.bfloat16, torch.float16)])
def test_the_meta_shortcut_for_elementwise_operators_makes_torch_s_own_result(op, left, right, dtypes):
    """Shape, dtype and strides as torch's meta kernel gives them (a 0-dim operand promotes as a scalar does)."""
    args = (torch.empty(left, dtype=dtypes[0], device="meta"), torch.empty(right, dtype=dtypes[1], device="meta"))
    shortcut, torch_s = _shortcut_on_meta(op, args, {}), op(*args)
    assert_same_tensor(shortcut, torch_s)


@pytest.mark.parametrize("shape", [(), (3,), (2, 4, 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_the_meta_shortcut_for_negation_makes_torch_s_own_result(shape, dtype):
    operand = torch.empty(shape, dtype=dtype, device="meta")
    assert_same_tensor(_shortcut_on_meta(torch.ops.aten.neg.default, (operand,), {}), -operand)


@pytest.mark.parametrize("shapes, dim", [([(2, 3), (4, 3)], 0), ([(2, 3), (2, 1), (2, 5)], -1), ([(5,)], 0),
                                         ([(2, 3, 4), (2, 3, 4)], 1)])
@pytest.mark.parametrize("dtypes", [(torch.float32, torch.float32), (torch.float16, torch.float64)])
def test_the_meta_shortcut_for_cat_makes_torch_s_own_result(shapes, dim, dtypes):
    tensors = [torch.empty(shape, dtype=dtypes[i % 2], device="meta") for i, shape in enumerate(shapes)]
    assert_same_tensor(_shortcut_on_meta(CAT, (tensors, dim), {}), torch.cat(tensors, dim))
    if dim == 0:  # as torch.cat(tensors) calls it
        assert_same_tensor(_shortcut_on_meta(CAT, (tensors,), {}), torch.cat(tensors))


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("affine", [False, True])
def test_the_meta_shortcut_for_batch_norm_makes_torch_s_own_result(training, affine):
    channels = 4
    x = torch.empty(2, channels, 5, 3, device="meta")
    weight, bias = (torch.empty(channels, device="meta") for _ in range(2)) if affine else (None, None)
    statistics = [torch.empty(channels, device="meta") for _ in range(2)]
    args = (x, weight, bias, *statistics, training, 0.1, 1e-5, True)
    assert_same_tensor(_shortcut_on_meta(BATCH_NORM, args, {}), BATCH_NORM(*args))


@pytest.mark.parametrize("output_size", [[1, 1], [2, 3]])  # as the operator takes it
def test_the_meta_shortcut_for_adaptive_pooling_makes_torch_s_own_result(output_size):
    args = (torch.empty(2, 4, 6, 6, device="meta"), output_size)
    assert_same_tensor(_shortcut_on_meta(ADAPTIVE_AVG_POOL, args, {}), ADAPTIVE_AVG_POOL(*args))


@pytest.mark.parametrize("shape", [(5,), (2, 5), (2, 3, 5)])
@pytest.mark.parametrize("bias", [False, True])
def test_the_meta_shortcut_for_linear_makes_torch_s_own_result(shape, bias):
    args = (torch.empty(shape, device="meta"), torch.empty(7, 5, device="meta"),
            torch.empty(7, device="meta") if bias else None)
    assert_same_tensor(_shortcut_on_meta(LINEAR, args, {}), LINEAR(*args))


def _base(*shape):
    return torch.empty(shape, device="meta")


# Operands in other layouts than contiguous: row-major slices (ACDC's half rows), transposed, permuted with
# size-1 dimensions (butterfly's twiddles, einsum's operands), expanded, channels last.
LAYOUTS = [_base(6, 8)[:, :4], _base(6, 8)[:, 4:], _base(6, 8)[:, ::2], _base(8, 4)[::2], _base(7, 9)[1:5, 2:7],
           _base(3, 5, 6)[:, 1:4, ::3], _base(10)[::3], _base(5, 4).t(), _base(2, 3, 4).permute(2, 0, 1),
           _base(16, 4)[:, None, None].permute(0, 2, 3, 1), _base(16, 4)[:, None, None].permute(2, 0, 3, 1),
           _base(4, 1).expand(4, 6), _base(6, 8)[:, :1], _base(2, 3, 4, 5).to(memory_format=torch.channels_last),
           _base(3, 6, 8)[:1, :, :4]]


@pytest.mark.parametrize("op", BINARY)
@pytest.mark.parametrize("index", range(len(LAYOUTS)))
@pytest.mark.parametrize("partner", ["same", "slice", "transposed", "last", "row", "scalar", "wider"])
def test_the_meta_shortcut_on_other_layouts_makes_torch_s_own_result(op, index, partner):
    strided = LAYOUTS[index]
    shape = tuple(strided.shape)
    other = {"same": lambda: _base(*shape), "slice": lambda: _base(*shape[:-1], 2 * shape[-1])[..., 1::2],
             "transposed": lambda: _base(*reversed(shape)).permute(*reversed(range(len(shape)))),
             "last": lambda: _base(shape[-1]), "row": lambda: _base(*[1] * (len(shape) - 1), shape[-1]),
             "scalar": lambda: torch.empty((), dtype=torch.float64, device="meta"),
             "wider": lambda: _base(2, *shape)}[partner]()
    for args in ((strided, other), (other, strided)):
        shortcut = _shortcut_on_meta(op, args, {})
        assert shortcut is not None
        assert_same_tensor(shortcut, op(*args))


@pytest.mark.parametrize("index", range(len(LAYOUTS)))
def test_the_meta_shortcut_leaves_unary_operators_on_other_layouts_to_torch(index):
    # torch lays them out each its own way: -x and relu(x) of a (1, 16, 4, 1) tensor strided (4, 4, 1, 4) differ
    for op in (torch.ops.aten.neg.default, torch.ops.aten.relu.default):
        assert _shortcut_on_meta(op, (LAYOUTS[index],), {}) is None


def test_the_meta_shortcut_leaves_operands_torch_converts_first_to_torch():
    add, transposed = torch.ops.aten.add.Tensor, _base(4, 6).t()
    assert _shortcut_on_meta(add, (transposed, _base(6, 4)), {"alpha": 2}) is None  # alpha scales first
    assert _shortcut_on_meta(add, (transposed, _base(6, 4).double()), {}) is None  # promoted
    assert _shortcut_on_meta(add, (transposed.half(), _base(6, 4).half()), {}) is None  # computed in float32
    sliced = _base(6, 8)[:, :4]
    assert _shortcut_on_meta(CAT, ([sliced, sliced], 0), {}) is None  # cat: contiguous operands only


def assert_same_tensor(shortcut, torch_s):
    assert (shortcut.shape, shortcut.dtype, shortcut.stride(), shortcut.device) == (
        torch_s.shape, torch_s.dtype, torch_s.stride(), torch_s.device)


def test_the_meta_shortcut_leaves_other_operands_to_torch():
    square = torch.empty(3, 3, device="meta")
    assert _shortcut_on_meta(torch.ops.aten.mul.Tensor, (torch.zeros(3, 3), torch.zeros(3, 3)), {}) is None  # CPU
    assert _shortcut_on_meta(torch.ops.aten.div.Tensor, (square, square), {}) is None  # not a broadcasting one
    assert _shortcut_on_meta(torch.ops.aten.add.Tensor, (square, torch.empty(2, device="meta")), {}) is None
    assert _shortcut_on_meta(CAT, ([square, torch.empty(2, 2, device="meta")], 0), {}) is None  # torch says why
    assert _shortcut_on_meta(CAT, ([torch.empty((), device="meta")], 0), {}) is None
    integers = torch.empty(3, 3, dtype=torch.int64, device="meta")
    assert _shortcut_on_meta(torch.ops.aten.sub.Tensor, (square, integers), {}) is None  # integers: torch decides
