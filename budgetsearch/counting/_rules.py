"""Mult-add rules: operator name -> handle, one table, every operator explicit.

The unit is the mult-add: one fused multiply-add = 1. Every other operation is
put on that scale by five principles, and each rule below follows from one:

1. linear algebra counts its multiply-adds (bias excluded, as fvcore does);
2. an elementwise operation (arithmetic, or one pointwise function, however
   it is computed) = 1 per output element, after broadcasting;
3. a reduction (a sum, a mean, a norm's statistic) = 1 per element read;
4. comparisons, selections, lookups, data movement and creating constants = 0;
5. index arithmetic = 0: an elementwise operation whose result is an integer or
   boolean tensor computes shapes, positions or masks, not activations.

Work done once per row or group (a reciprocal, a square root, a log of a
sum) is O(rows), not O(elements), and is not counted.

=====================================  ===================================================================
operator (``aten::``)                  mult-adds
=====================================  ===================================================================
_convolution, _convolution_mode        C_i·C_o·k_h·k_w·A_out/groups (fvcore's rule; ``_convolution_mode``
(string padding)                       is a conv with ``padding='same'``/``'valid'``, counted the same)
linear, addmm, mm                      rows·in·out (fvcore's rules)
matmul, bmm (any leading dims,         numel(output)·K, K the contracted size: broadcast leading
broadcasting, 1-D operands)            dimensions count once per output matrix (fvcore's ``matmul``
                                       counted the first operand's size only, wrong when the second
                                       operand carries the batch)
einsum (``...`` and implicit output    budgetsearch's order, left to right, whatever path opt_einsum gives
allowed)                               torch (so a count never depends on an optional package): per pair,
                                       the product of the sizes of every label left in the pair (one
                                       multiply-add per point of the product's iteration space), plus 1
                                       per element read to sum out a label (of size > 1) no later term
                                       needs
scaled_dot_product_attention           QKᵀ and AV: B·L·S·(E + E_v); the scale: 1 per score (B·L·S); a float
                                       mask: 1 per score (boolean and causal masks select: free); softmax:
                                       3 per score, as below; dropout with p > 0: 1 per score
add, sub, mul, div, rsub,              1 per output element after broadcasting (a bias add, a residual, a
floor_divide, remainder (also          layer scale, a squeeze-excite gate); 0 when the result is an
in place)                              integer or boolean tensor (index arithmetic: a window count, a
                                       position modulo a window)
gelu, silu, sigmoid, tanh, hardswish,  1 per output element: one pointwise function, whatever its formula
hardsigmoid, exp, pow, ceil            (an erf, an exp, a clamp and a multiply fused in one kernel); 0 on
(also in place)                        an integer or boolean result, as above
relu, relu6, hardtanh, clamp,          0: comparisons (``all``, ``any``, ``is_nonzero``: a boolean's
clamp_min, max, min, max_pool2d,       test, as in ``if mask.any():``)
eq, ne, ge, gt, le, lt, all, any,
is_nonzero
masked_fill, where, __and__            0: selections by a mask (``masked_fill`` writes a constant where the
                                       mask is set; ``__and__`` combines boolean masks)
embedding                              0: a lookup of table rows (the table is counted as parameters)
arange, zeros, ones, new_zeros,        0: constants, made without reading any activation
new_ones
softmax, log_softmax                   3 per element: the exponential, its accumulation into the row's sum,
                                       the division (softmax) or subtraction of the log-sum (log_softmax)
batch_norm (eval)                      normalise and affine with stored statistics: 2 per element with an
                                       affine, 1 without (fvcore's rule)
layer_norm, group_norm                 statistics 2 per element (sum and sum of squares), normalise 1
                                       ((x − μ)·σ⁻¹ as one multiply-add), affine 1 (γ·x̂ + β) when a weight
                                       or bias is given: 4 per element, 3 without affine
instance_norm                          fvcore's rule: 5 per element with affine, 4 without
mean, sum, avg_pool2d,                 1 per input element read
adaptive_avg_pool1d/2d
linalg_vector_norm                     1 per input element read: the power (a square for the 2-norm) and
                                       its accumulation as one multiply-add; the root is once per row
dropout, feature_dropout,              0 at inference, where they are the identity; 1 per element (the mask
alpha_dropout (also in place)          multiply) if a model forces one on during the eval-mode trace
upsample_nearest*                      0: each output copies one input element
upsample_linear1d, _bilinear2d,        per output element, the taps of the weighted sum: 2, 4, 16, 8
_bicubic2d, _trilinear3d
_upsample_bilinear2d_aa,               the same taps per output element, each axis's widened by its
_upsample_bicubic2d_aa (antialias)     downsampling factor as the antialiasing filter is: per axis,
                                       ⌈taps·max(1, in/out)⌉ of 2 (bilinear) or 4 (bicubic)
im2col (``F.unfold``)                  0: data movement, each output element copies one input element (or
                                       is padding), as the nearest upsampling is
col2im (``F.fold``)                    1 per input element read: torch accumulates every column element
                                       into its position of the image, overlapping or not, as a sum does
view, reshape, reshape_as, flatten,    0: data movement (also unflatten, pad, index, slice, expand, expand_as,
permute, transpose, cat, stack, ...    roll, chunk, split, split_with_sizes, unbind, ...)
=====================================  ===================================================================

Both counters apply this one table (``count(counter=...)``): the jit trace's
nodes and the operators torch dispatches carry the same ATen names and argument
orders, save the few names only the dispatch level sees (``CONVOLUTIONS``,
``DISPATCHED_DATA_MOVEMENT``), given the rule of what the trace records.

A rule never guesses a shape: a value whose shape the trace does not know
(a list, a scalar, an incompletely traced tensor) stops the count with a
:class:`~budgetsearch.errors.CountingError` naming the operator. An operator
that is in no rule fails the count too (see ``count``). :func:`register_rule`
adds a rule to the default table, and so to every count that uses
:func:`default_rules`; ``count(rules=...)`` replaces the table for one count.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from typing import Any, Callable, Dict, List, Optional

from ..errors import ConfigError, CountingError
from ._einsum import einsum_mult_adds

Handle = Callable[[List[Any], List[Any]], int]

INDEX_TYPES = frozenset({"Bool", "Byte", "Char", "Short", "Int", "Long"})  # integer and boolean scalar types


class _UnknownShape(CountingError):
    """A rule read the shape of a value the trace does not know the shape of; ``count`` names the operator."""


def traced_shape(value) -> List[int]:
    """The shape of the traced ``value``; one the trace does not know stops the count (a guess is a wrong number)."""
    if not value.isCompleteTensor():
        raise _UnknownShape(f"a {value.type()} value has no known shape")
    return value.type().sizes()


def _numel(value) -> int:
    return math.prod(traced_shape(value))


def _given(value) -> bool:
    """Whether an optional tensor argument (a weight, a mask) was passed rather than None."""
    return value.type().kind() != "NoneType"


def _is_index(value) -> bool:
    return value.type().kind() == "TensorType" and value.type().scalarType() in INDEX_TYPES


def per_output_element(inputs, outputs) -> int:
    return _numel(outputs[0])


def per_input_element(inputs, outputs) -> int:
    return _numel(inputs[0])


def free(inputs, outputs) -> int:
    return 0


def elementwise(inputs, outputs) -> int:
    """1 per output element, 0 on an integer or boolean result (index arithmetic)."""
    return 0 if _is_index(outputs[0]) else per_output_element(inputs, outputs)


def _convolution(transposed: Optional[bool]) -> Handle:
    """C_i·C_o·k·A/groups as fvcore counts it: batch·numel(weight)·the output's positions (the input's, transposed).

    ``transposed`` None reads it from ``aten::_convolution``/``aten::convolution``'s
    argument 6; the dispatch level sees ``aten::conv2d`` and its kin, whose name says it.
    """
    def convolution(inputs, outputs) -> Counter:
        x, weight, out = (traced_shape(v) for v in (inputs[0], inputs[1], outputs[0]))
        reverse = inputs[6].toIValue() if transposed is None else transposed
        return Counter({"conv": x[0] * math.prod(weight) * math.prod((x if reverse else out)[2:])})

    return convolution


def addmm(inputs, outputs) -> int:
    """``aten::addmm(bias, x, weight)``: rows·in·out, the bias excluded (fvcore's rule)."""
    (rows, inner), (_, columns) = traced_shape(inputs[1]), traced_shape(inputs[2])
    return rows * inner * columns


def linear(inputs, outputs) -> int:
    """``aten::linear(x, weight, bias)``: rows·in·out, the bias excluded (fvcore's rule)."""
    return _numel(inputs[0]) * traced_shape(inputs[1])[0]


def batch_norm(inputs, outputs) -> int:
    """``aten::batch_norm(input, weight, bias, mean, var, training, ...)``: fvcore's rule, eval 2 (affine) or 1."""
    affine = _given(inputs[1])
    if inputs[5].toIValue():
        return (5 if affine else 4) * _numel(inputs[0])
    return (2 if affine else 1) * _numel(inputs[0])


def instance_norm(inputs, outputs) -> int:
    """``aten::instance_norm(input, weight, ...)``: fvcore's rule, 5 per element with an affine, 4 without."""
    return (5 if _given(inputs[1]) else 4) * _numel(inputs[0])


def matmul(inputs, outputs) -> int:
    """numel(output)·K for ``aten::matmul``/``aten::bmm``, whatever broadcasts the leading dimensions."""
    return _numel(outputs[0]) * traced_shape(inputs[0])[-1]


def einsum(inputs, outputs) -> int:
    """``aten::einsum(equation, tensors, path)``: ``path``, opt_einsum's order when torch uses it, is not read."""
    operands = inputs[1].node().inputs()  # the prim::ListConstruct of the operand tensors
    return einsum_mult_adds(inputs[0].toIValue(), [traced_shape(v) for v in operands])


SOFTMAX_PER_ELEMENT = 3  # exponential, accumulation into the sum, normalisation


def softmax(inputs, outputs) -> int:
    return SOFTMAX_PER_ELEMENT * _numel(outputs[0])


def scaled_dot_product_attention(inputs, outputs) -> int:
    """``aten::scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal, scale, ...)``."""
    query, key, value, out = (traced_shape(v) for v in (inputs[0], inputs[1], inputs[2], outputs[0]))
    scores = math.prod(out[:-1]) * key[-2]  # B·L·S, B the output's leading dims (grouped-query keys broadcast)
    mult_adds = scores * (query[-1] + value[-1]) + scores + SOFTMAX_PER_ELEMENT * scores
    mask = inputs[3]
    if _given(mask) and mask.type().scalarType() != "Bool":
        mult_adds += scores
    if inputs[4].toIValue():
        mult_adds += scores
    return mult_adds


def normalisation(inputs, outputs) -> int:
    """``aten::layer_norm``/``aten::group_norm(input, shape or groups, weight, bias, eps, ...)``."""
    affine = any(_given(v) for v in inputs[2:4])
    return (4 if affine else 3) * _numel(inputs[0])


def dropout(inputs, outputs) -> int:
    """``aten::dropout(input, p, train)``: the identity unless ``train`` is on."""
    return _numel(inputs[0]) if inputs[2].toIValue() else 0


def _interpolation(taps: int) -> Handle:
    def interpolation(inputs, outputs) -> int:
        return taps * _numel(outputs[0])

    return interpolation


def _antialiased_interpolation(taps_per_axis: int) -> Handle:
    """``aten::_upsample_*_aa(input, output_size, align_corners, scale_factors)``: the filter widens by in/out."""
    def antialiased(inputs, outputs) -> int:
        sizes_in, sizes_out = traced_shape(inputs[0])[2:], traced_shape(outputs[0])[2:]
        taps = math.prod(math.ceil(taps_per_axis * max(1.0, n_in / n_out)) for n_in, n_out in zip(sizes_in, sizes_out))
        return taps * _numel(outputs[0])

    return antialiased


def _with_in_place(*ops: str) -> tuple:
    return ops + tuple(f"{op}_" for op in ops)


ELEMENTWISE_ARITHMETIC = ("aten::add", "aten::add_", "aten::sub", "aten::sub_", "aten::mul", "aten::mul_",
                          "aten::div", "aten::div_", "aten::rsub", *_with_in_place("aten::floor_divide",
                                                                                    "aten::remainder"))
POINTWISE_FUNCTIONS = _with_in_place("aten::gelu", "aten::silu", "aten::sigmoid", "aten::tanh",
                                     "aten::hardswish", "aten::hardsigmoid", "aten::exp", "aten::pow", "aten::ceil")
AVERAGING = ("aten::avg_pool2d", "aten::mean", "aten::sum", "aten::adaptive_avg_pool1d", "aten::adaptive_avg_pool2d")
NORMS = ("aten::linalg_vector_norm",)
COMPARISON = ("aten::relu", "aten::relu_", "aten::max_pool2d", "aten::max", "aten::min", "aten::clamp",
              "aten::clamp_", "aten::clamp_min", "aten::clamp_min_", "aten::hardtanh", "aten::hardtanh_",
              "aten::relu6", "aten::relu6_", "aten::eq", "aten::ne", "aten::ge", "aten::gt", "aten::le", "aten::lt",
              "aten::all", "aten::any", "aten::is_nonzero")
SELECTION = ("aten::masked_fill", "aten::masked_fill_", "aten::where", "aten::__and__", "aten::embedding")
CONSTANTS = ("aten::arange", "aten::zeros", "aten::ones", "aten::new_zeros", "aten::new_ones")
DROPOUT = _with_in_place("aten::dropout", "aten::feature_dropout", "aten::alpha_dropout",
                         "aten::feature_alpha_dropout")
DATA_MOVEMENT = (
    "aten::view", "aten::reshape", "aten::reshape_as", "aten::flatten", "aten::unflatten", "aten::transpose",
    "aten::permute", "aten::contiguous", "aten::t", "aten::cat", "aten::stack", "aten::constant_pad_nd", "aten::pad",
    "aten::index_select", "aten::index", "aten::repeat", "aten::expand", "aten::expand_as", "aten::roll",
    "aten::slice", "aten::select", "aten::size", "aten::Int", "aten::ScalarImplicit", "aten::to", "aten::detach",
    "aten::unsqueeze", "aten::squeeze", "aten::chunk", "aten::split", "aten::split_with_sizes", "aten::unbind",
    "aten::narrow", "aten::numel", "aten::clone", "aten::identity", "aten::alias", "aten::lift_fresh",
    "aten::im2col", "aten::upsample_nearest1d", "aten::upsample_nearest2d", "aten::upsample_nearest3d",
    "aten::_upsample_nearest_exact1d", "aten::_upsample_nearest_exact2d", "aten::_upsample_nearest_exact3d",
)
INTERPOLATION_TAPS = {"aten::upsample_linear1d": 2, "aten::upsample_bilinear2d": 4,
                      "aten::upsample_bicubic2d": 16, "aten::upsample_trilinear3d": 8}
ANTIALIASED_TAPS_PER_AXIS = {"aten::_upsample_bilinear2d_aa": 2, "aten::_upsample_bicubic2d_aa": 4}
# Names only the dispatch level sees (``count(counter="dispatch")``), under the rule of what the trace records:
# convolutions by their functional name (the trace records aten::_convolution), whether transposed;
CONVOLUTIONS = {"aten::convolution": None, "aten::conv1d": False, "aten::conv2d": False, "aten::conv3d": False,
                "aten::conv_transpose1d": True, "aten::conv_transpose2d": True, "aten::conv_transpose3d": True}
# and reads of values that the trace records as constants: ``.item()``, ``torch.tensor(...)``'s detach.
DISPATCHED_DATA_MOVEMENT = ("aten::item", "aten::_local_scalar_dense", "aten::detach_")


def _builtin_rules() -> Dict[str, Handle]:
    rules: Dict[str, Handle] = {"aten::_convolution": _convolution(None), "aten::addmm": addmm, "aten::mm": matmul,
                                "aten::linear": linear, "aten::batch_norm": batch_norm,
                                "aten::instance_norm": instance_norm, "aten::grid_sampler": _interpolation(4)}
    rules.update({op: elementwise for op in ELEMENTWISE_ARITHMETIC + POINTWISE_FUNCTIONS})
    rules.update({op: per_input_element for op in AVERAGING + NORMS + ("aten::col2im",)})
    rules.update({op: free for op in COMPARISON + SELECTION + CONSTANTS + DATA_MOVEMENT + DISPATCHED_DATA_MOVEMENT})
    rules.update({op: _convolution(transposed) for op, transposed in CONVOLUTIONS.items()})
    rules.update({op: dropout for op in DROPOUT})
    rules.update({op: _interpolation(taps) for op, taps in INTERPOLATION_TAPS.items()})
    rules.update({op: _antialiased_interpolation(taps) for op, taps in ANTIALIASED_TAPS_PER_AXIS.items()})
    rules.update({"aten::_convolution_mode": _convolution(False),
                  "aten::matmul": matmul, "aten::bmm": matmul, "aten::einsum": einsum,
                  "aten::softmax": softmax, "aten::log_softmax": softmax,
                  "aten::scaled_dot_product_attention": scaled_dot_product_attention,
                  "aten::layer_norm": normalisation, "aten::group_norm": normalisation})
    return rules


def naming_rule(op: str, handle: Handle) -> Handle:
    """``handle``, stopping on a value of unknown shape with a :class:`CountingError` naming ``op``."""
    @functools.wraps(handle)
    def rule(inputs, outputs):
        try:
            for value in (*inputs, *outputs):
                if value.type().kind() == "TensorType":
                    traced_shape(value)  # fvcore's own rules read shapes without checking them
            return handle(inputs, outputs)
        except _UnknownShape as error:
            raise CountingError(f"cannot count {op}: {error}, and a count never guesses a shape") from None

    return rule


def naming_the_operator(rules: Dict[str, Optional[Handle]]) -> Dict[str, Optional[Handle]]:
    """``rules`` whose handles stop on a value of unknown shape with a :class:`CountingError` naming the operator."""
    return {op: handle if handle is None else naming_rule(op, handle) for op, handle in rules.items()}


# Rules added with register_rule, for every count that uses the default table.
_REGISTERED: Dict[str, Handle] = {}


def register_rule(op: str, handle: Handle, *, replace: bool = False) -> None:
    """Add the counting rule ``handle`` for the traced operator ``op`` (e.g. ``"aten::erf"``) to the default table.

    ``handle(inputs, outputs)`` receives the operator's traced ``torch._C.Value``
    inputs and outputs, or under ``counter="dispatch"`` the same in schema order as
    ``DispatchValue`` (``type().kind()``, ``type().sizes()``, ``type().scalarType()``,
    ``toIValue()`` and a list's ``node().inputs()``; :func:`traced_shape` reads a shape,
    and stops the count naming the operator where the trace does not know it) and
    returns its mult-adds: a number, or a ``Counter`` naming the entries of
    ``Count.by_operator``. The rule reaches every count made with
    :func:`default_rules` (``count``, and the solver, curves and studies built on
    it) in this process. An operator that already has a rule is replaced only
    with ``replace=True``.
    """
    if not isinstance(op, str) or "::" not in op:
        raise ConfigError(f"op must be a traced operator name such as 'aten::erf', but got {op!r}")
    if not callable(handle):
        raise ConfigError(f"handle for {op!r} must be callable (inputs, outputs) -> mult-adds, but got {handle!r}")
    if not replace and (op in _REGISTERED or op in _builtin_rules()):
        raise ConfigError(f"operator {op!r} already has a counting rule; pass replace=True to replace it")
    _REGISTERED[op] = handle


def default_rules() -> Dict[str, Handle]:
    """A fresh copy of the full rule table (fvcore's, budgetsearch's, then those of :func:`register_rule`)."""
    return _builtin_rules() | _REGISTERED
