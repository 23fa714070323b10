"""The dispatch counting backend: the rule table applied to every operator torch dispatches, no tracer involved.

A ``TorchDispatchMode`` sees each ATen operator the forward runs. Run below
autograd (``torch._C._AutoDispatchBelowAutograd``), it sees composite operators
(``aten::linear``, ``aten::einsum``, ``aten::scaled_dot_product_attention``,
``aten::layer_norm``) before they decompose, as the jit trace records them, and
not what they decompose into: the mode is off while an operator runs. So the
rule table of ``_rules`` applies unchanged, keyed by the operator's name without
its overload (``aten::add`` for ``aten.add.Tensor``), given the operator's
arguments in schema order (defaults filled in) and its results wrapped as
:class:`DispatchValue`, the part of ``torch._C.Value`` a rule reads.

Differences from the trace, by construction: the dispatch level names a
convolution ``aten::conv2d`` (and kin) where the trace records
``aten::_convolution``, and sees a few operators the trace never records
(``aten::_local_scalar_dense`` of ``.item()``, ``aten::lift_fresh_copy`` of
``torch.tensor``); ``_rules`` gives those names the same rules. Every operator
that runs is counted, as ``count`` documents, whether or not an output needs it.

Module attribution is fvcore's: forward hooks keep the stack of modules being
called, and an operator counts toward the innermost module and every module
that owns it by name.

On the meta device, torch computes an elementwise operator's result with a
Python reference whose first call imports ``torch._dynamo`` (seconds) and each
call costs about 2 ms; a weight rebuild makes hundreds of them (ACDC's product
of 128 factors, 256). Where all operands are contiguous floating-point
tensors, the result is a contiguous tensor of the broadcast (or, for ``cat``,
joined; for ``batch_norm``, the input's; for ``adaptive_avg_pool2d`` and ``linear``, theirs) shape and the promoted dtype, which
:func:`_shortcut_on_meta` makes directly (``tests/counting/test_meta_count.py``
checks it against torch's own). An elementwise operator on other layouts (ACDC's
half rows, the permuted twiddles of butterfly and of ``einsum``) gets its strides
from torch's own rule, ``compute_elementwise_output_strides``, whose first call
imports much less than ``torch._dynamo``.
"""

from __future__ import annotations

import contextlib
import functools
from collections import Counter, defaultdict
from numbers import Number
from typing import Optional

import torch
from torch import nn
from torch._prims_common import compute_elementwise_output_strides
from torch.nn.modules.utils import _pair
from torch.utils._python_dispatch import TorchDispatchMode

from ._rules import naming_rule
from ._tally import Tally, ancestors

# torch dtypes by the scalar type names of the jit's TensorType (what a rule compares, e.g. _rules.INDEX_TYPES)
SCALAR_TYPES = {torch.float32: "Float", torch.float64: "Double", torch.float16: "Half", torch.bfloat16: "BFloat16",
                torch.int64: "Long", torch.int32: "Int", torch.int16: "Short", torch.int8: "Char",
                torch.uint8: "Byte", torch.bool: "Bool", torch.complex64: "ComplexFloat",
                torch.complex128: "ComplexDouble"}
KINDS = {type(None): "NoneType", bool: "BoolType", int: "IntType", float: "FloatType", str: "StringType",
         list: "ListType", tuple: "ListType"}


class _Type:
    """The type of a :class:`DispatchValue`, with the jit type's methods a rule calls."""

    def __init__(self, value):
        self._value = value

    def kind(self) -> str:
        if isinstance(self._value, torch.Tensor):
            return "TensorType"
        return KINDS.get(type(self._value), type(self._value).__name__)

    def sizes(self) -> list:
        return list(self._value.shape)

    def scalarType(self) -> str:  # noqa: N802 (the jit's name)
        return SCALAR_TYPES.get(self._value.dtype, str(self._value.dtype))

    def __str__(self) -> str:
        return self.kind()


class _ListConstruct:
    """The node that built a list argument (``einsum``'s operands): its inputs are the list's elements."""

    def __init__(self, values):
        self._values = values

    def inputs(self) -> list:
        return [DispatchValue(v) for v in self._values]


class DispatchValue:
    """An operator's argument or result as a rule reads it: the subset of ``torch._C.Value`` the rules use."""

    __slots__ = ("_value",)

    def __init__(self, value):
        self._value = value

    def type(self) -> _Type:
        return _Type(self._value)

    def isCompleteTensor(self) -> bool:  # noqa: N802 (the jit's name): a dispatched tensor's shape is always known
        return isinstance(self._value, torch.Tensor)

    def toIValue(self):  # noqa: N802
        return self._value

    def node(self) -> _ListConstruct:
        return _ListConstruct(self._value)


# Elementwise operators whose result on meta is the broadcast of their tensor operands (``alpha`` scales values only).
ELEMENTWISE = frozenset({torch.ops.aten.mul.Tensor, torch.ops.aten.add.Tensor, torch.ops.aten.sub.Tensor,
                         torch.ops.aten.neg.default, torch.ops.aten.relu.default})
CAT = torch.ops.aten.cat.default
BATCH_NORM = torch.ops.aten.batch_norm.default
ADAPTIVE_AVG_POOL = torch.ops.aten.adaptive_avg_pool2d.default
LINEAR = torch.ops.aten.linear.default
COMPOSITE = torch._C.DispatchKey.CompositeImplicitAutograd


def _broadcast_shape(shapes) -> Optional[tuple]:
    """The shape operands of ``shapes`` broadcast to, or None where they do not (torch then says why).

    Written out: ``torch.broadcast_shapes`` goes through symbolic-shape checks that cost as much as the kernel.
    """
    result = [1] * max(len(shape) for shape in shapes)
    for shape in shapes:
        for i, size in enumerate(shape, len(result) - len(shape)):
            if size != 1:
                if result[i] not in (1, size):
                    return None
                result[i] = size
    return tuple(result)


def _cat_shape(shapes, dim: int) -> Optional[tuple]:
    """The shape ``cat`` joins ``shapes`` into along ``dim``, or None where they do not join."""
    rank = len(shapes[0])
    if rank == 0 or any(len(shape) != rank for shape in shapes) or not -rank <= dim < rank:
        return None
    dim %= rank
    if any(shape[:dim] + shape[dim + 1:] != shapes[0][:dim] + shapes[0][dim + 1:] for shape in shapes):
        return None
    return (*shapes[0][:dim], sum(shape[dim] for shape in shapes), *shapes[0][dim + 1:])


def _contiguous_strides(shape) -> tuple:
    """What ``torch.empty(shape)`` has; ``is_contiguous`` also admits other strides on dimensions of size 1."""
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


def _elementwise_result(operands: tuple, kwargs: dict) -> Optional[torch.Tensor]:
    """The result of an :data:`ELEMENTWISE` operator on floating-point meta ``operands``, or None where torch
    decides: contiguous operands (as ``torch.empty`` lays them out) give a contiguous result; other layouts get
    torch's own rule for its strides, for binary operators where torch would not first convert an operand of
    any extent (one dtype that computes as itself, no ``alpha``)."""
    size = _broadcast_shape([tuple(a.shape) for a in operands])
    if size is None:
        return None
    # a 0-dim operand promotes by category only, as a scalar does
    dtype = torch.result_type(*operands) if len(operands) == 2 else operands[0].dtype
    if all(a.stride() == _contiguous_strides(a.shape) for a in operands):
        return torch.empty(size, dtype=dtype, device="meta")
    # Unary: torch's negation and relu lay out such results each its own way.
    if len(operands) == 1 or kwargs or any(a.dtype != dtype and a.dim() for a in operands) \
            or dtype not in (torch.float32, torch.float64):
        return None
    strides = compute_elementwise_output_strides(*(a.expand(size) for a in operands))
    return torch.empty_strided(size, strides, dtype=dtype, device="meta")


def _shortcut_on_meta(func, args: tuple, kwargs: dict) -> Optional[torch.Tensor]:
    """``func(*args, **kwargs)`` for an :data:`ELEMENTWISE` operator (see :func:`_elementwise_result`), or
    ``cat``, 2-d ``batch_norm``, ``adaptive_avg_pool2d`` or ``linear`` of contiguous meta tensors; else None."""
    if func in (BATCH_NORM, ADAPTIVE_AVG_POOL) and isinstance(args[0], torch.Tensor) and args[0].is_meta \
            and args[0].is_contiguous() and args[0].dim() == 4:
        if func == BATCH_NORM:
            return torch.empty_like(args[0])  # normalised in place of its input, whatever the statistics
        return args[0].new_empty((*args[0].shape[:2], *_pair(args[1])))
    if func == LINEAR and not kwargs and all(isinstance(a, torch.Tensor) and a.is_meta and a.is_contiguous()
                                             for a in args if a is not None):
        return args[0].new_empty((*args[0].shape[:-1], args[1].shape[0]))
    if func in ELEMENTWISE and not set(kwargs) - {"alpha"}:
        operands = args
    elif func == CAT and not set(kwargs) - {"dim"} and isinstance(args[0], (list, tuple)) and args[0]:
        operands = args[0]
    else:
        return None
    # Floating point only: torch refuses some integer and bool operands (bool - bool) that a shape would not.
    if not all(isinstance(a, torch.Tensor) and a.is_meta and a.is_floating_point() for a in operands):
        return None
    if func in ELEMENTWISE:
        return _elementwise_result(operands, kwargs)
    if not all(a.is_contiguous() for a in operands):
        return None
    size = _cat_shape([tuple(a.shape) for a in operands], args[1] if len(args) > 1 else kwargs.get("dim", 0))
    dtype = functools.reduce(torch.promote_types, (a.dtype for a in operands))
    return None if size is None else torch.empty(size, dtype=dtype, device="meta")


def _run(func, args: tuple, kwargs: dict):
    """``func(*args, **kwargs)``, its result made by :func:`_shortcut_on_meta` where it can. A composite operator
    (``einsum``) on meta tensors runs its own decomposition, as torch would below autograd, with the shortcuts
    applying to the operators it is made of."""
    result = _shortcut_on_meta(func, args, kwargs)
    if result is not None:
        return result
    if any(isinstance(a, torch.Tensor) and a.is_meta for a in _tensors(args)) \
            and torch._C._dispatch_has_kernel_for_dispatch_key(func.name(), COMPOSITE) \
            and not torch._C._dispatch_has_kernel_for_dispatch_key(func.name(), "Meta"):
        with _MetaShortcuts():
            return func._op_dk(COMPOSITE, *args, **kwargs)
    return func(*args, **kwargs)


def _tensors(args: tuple):
    """The arguments, and the items of list arguments (``einsum``'s operands)."""
    for a in args:
        yield from a if isinstance(a, (list, tuple)) else (a,)


class _MetaShortcuts(TorchDispatchMode):
    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        return False  # as _Counting's: nothing here compiles

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return _run(func, args, kwargs or {})


@contextlib.contextmanager
def meta_shortcuts():
    """A forward inside runs on the meta device with :func:`_shortcut_on_meta`'s results (as counted), counting
    nothing; below autograd, as the counter runs, so that composite operators (``batch_norm``) reach it whole."""
    with torch._C._AutoDispatchBelowAutograd(), _MetaShortcuts():
        yield


def _arguments(func, args: tuple, kwargs: dict) -> list:
    """Every argument of the call in schema order, defaults filled in, as the jit node's inputs are."""
    values = list(args)
    for argument in func._schema.arguments[len(args):]:
        if argument.name in kwargs:
            values.append(kwargs[argument.name])
        else:
            values.append(argument.default_value if argument.has_default_value() else None)
    return [DispatchValue(v) for v in values]


def _results(result) -> list:
    """The call's results as the jit node's outputs: a tuple is several, a list one value."""
    return [DispatchValue(v) for v in (result if isinstance(result, tuple) else (result,))]


class _Counting(TorchDispatchMode):
    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # torch wraps a mode's handler to disable dynamo, importing torch._dynamo (seconds) on the first count;
        # nothing here compiles, so the handler runs as written.
        return False

    def __init__(self, rules: dict, scopes: list):
        super().__init__()
        self.rules = rules
        self.named = {}  # the rules of the operators met, made to name them (naming_rule) once per count
        self.scopes = scopes  # names of the modules being called, innermost last
        self.counts = defaultdict(Counter)
        self.unsupported = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = _run(func, args, kwargs)
        op = func._schema.name
        handle = self.rules.get(op)
        if handle is None:
            self.unsupported[op] += 1
            return result
        if op not in self.named:
            self.named[op] = naming_rule(op, handle)
        counted = self.named[op](_arguments(func, args, kwargs), _results(result))
        if isinstance(counted, Number):
            counted = Counter({op.partition("::")[2] or op: counted})
        for name in ancestors(self.scopes[-1]):
            self.counts[name] += counted  # Counter addition: an operator that costs 0 is not listed, as in fvcore
        return result


def dispatched_tally(model: nn.Module, inputs: tuple, rules: dict) -> Tally:
    """The rule table's counts of one ``model(*inputs)`` as torch dispatches it, keyed by ``model``'s module names."""
    scopes = [""]

    def enter(name):
        return lambda module, args: scopes.append(name)

    def leave(module, args, output):
        scopes.pop()

    hooks = []
    for name, module in model.named_modules():
        hooks += [module.register_forward_pre_hook(enter(name)), module.register_forward_hook(leave)]
    mode = _Counting(rules, scopes)
    try:
        with torch._C._AutoDispatchBelowAutograd(), mode:
            model(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    counts = {name: Counter() for name, _ in model.named_modules()} | dict(mode.counts)
    return Tally(counts, mode.unsupported)
