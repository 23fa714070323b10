"""Mult-add rules: operator name -> handle, one table, every operator explicit.

fvcore's own table covers the linear algebra (convolution and matmul families,
one fused multiply-add = 1, bias excluded) and eval-mode batch norm (two per
element with an affine: normalise, then scale and shift). This module adds the rest, so that no operator
the counted models execute is silently zero:

* elementwise arithmetic on activations (the residual add, a scale): one per
  output element;
* average pooling: one per input element read;
* comparisons (ReLU, max pooling) and pure data movement (view, transpose,
  the channel shuffle, concatenation, padding, indexing): zero, by rule.

An operator that is in no rule fails the count (see ``count``).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List

from fvcore.nn.flop_count import _DEFAULT_SUPPORTED_OPS
from fvcore.nn.jit_handles import get_shape

Handle = Callable[[List[Any], List[Any]], int]


def _numel(value) -> int:
    total = 1
    for size in get_shape(value) or ():
        total *= size
    return total


def per_output_element(inputs, outputs) -> int:
    return _numel(outputs[0])


def per_input_element(inputs, outputs) -> int:
    return _numel(inputs[0])


def free(inputs, outputs) -> int:
    return 0


ELEMENTWISE_ARITHMETIC = ("aten::add", "aten::add_", "aten::sub", "aten::sub_", "aten::mul", "aten::mul_",
                          "aten::div", "aten::div_", "aten::rsub")
AVERAGING = ("aten::avg_pool2d", "aten::mean", "aten::sum")
COMPARISON = ("aten::relu", "aten::relu_", "aten::max_pool2d", "aten::max", "aten::clamp", "aten::clamp_",
              "aten::hardtanh", "aten::hardtanh_")
DATA_MOVEMENT = (
    "aten::view", "aten::reshape", "aten::flatten", "aten::transpose", "aten::permute", "aten::contiguous",
    "aten::t", "aten::cat", "aten::stack", "aten::constant_pad_nd", "aten::pad", "aten::index_select",
    "aten::index", "aten::repeat", "aten::expand", "aten::slice", "aten::select", "aten::size", "aten::Int",
    "aten::ScalarImplicit", "aten::to", "aten::detach", "aten::dropout", "aten::feature_dropout",
    "aten::unsqueeze", "aten::squeeze", "aten::chunk", "aten::split", "aten::narrow", "aten::numel",
    "aten::clone", "aten::identity", "aten::alias", "aten::lift_fresh",
)


def default_rules() -> Dict[str, Handle]:
    """A fresh copy of the full rule table (fvcore's plus budgetsearch's)."""
    rules: Dict[str, Handle] = dict(_DEFAULT_SUPPORTED_OPS)
    rules.update({op: per_output_element for op in ELEMENTWISE_ARITHMETIC})
    rules.update({op: per_input_element for op in AVERAGING})
    rules.update({op: free for op in COMPARISON + DATA_MOVEMENT})
    return rules
