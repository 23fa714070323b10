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
"""

from __future__ import annotations

from collections import Counter, defaultdict
from numbers import Number

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from ._rules import naming_the_operator
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
        self.scopes = scopes  # names of the modules being called, innermost last
        self.counts = defaultdict(Counter)
        self.unsupported = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        op = func._schema.name
        handle = self.rules.get(op)
        if handle is None:
            self.unsupported[op] += 1
            return result
        counted = handle(_arguments(func, args, kwargs), _results(result))
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
    mode = _Counting(naming_the_operator(rules), scopes)
    try:
        with torch._C._AutoDispatchBelowAutograd(), mode:
            model(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    counts = {name: Counter() for name, _ in model.named_modules()} | dict(mode.counts)
    return Tally(counts, mode.unsupported)
