"""The default counting backend: fvcore walks a ``torch.jit`` trace of the forward and applies the rule table.

torch 2.13 deprecates TorchScript; fvcore (no release since 2022) scripts its
losses when ``fvcore.nn`` is imported, which warns once per function. That
warning, and only it, is silenced here: counting never runs a scripted
function. Tracing itself is checked for before a count (:func:`jit_tracing_available`),
so that ``count`` can fall back to the dispatch backend when it is gone.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections import Counter

import torch
from torch import nn

from ..errors import CountingError
from ._rules import naming_the_operator
from ._tally import Tally

# DeprecationWarnings known to come from importing fvcore.nn, harmless to counting: torch.jit.script of its losses.
KNOWN_DEPRECATIONS = (r"`torch\.jit\.script` is deprecated",)


def fvcore_nn():
    """``fvcore.nn``, imported with :data:`KNOWN_DEPRECATIONS` silenced (every other warning stays)."""
    with warnings.catch_warnings():
        for message in KNOWN_DEPRECATIONS:
            warnings.filterwarnings("ignore", message=message, category=DeprecationWarning)
        import fvcore.nn
    return fvcore.nn


def jit_tracing_available() -> bool:
    """Whether fvcore can trace: torch still has the trace entry point fvcore calls, and fvcore imports."""
    if not callable(getattr(torch.jit, "_get_trace_graph", None)):
        return False
    try:
        fvcore_nn()
    except (ImportError, AttributeError):  # fvcore.nn calls torch.jit.script at import
        return False
    return True


class _TensorOutputs(nn.Module):
    """``model`` with its output, and every submodule's, flattened to a tuple of tensors.

    The jit trace takes tensors, tuples, lists and dicts only, and a model may
    return its own result type (a dataclass; transformers' ``ModelOutput``). The
    trace also drops whatever no output depends on, yet work whose result a model
    discards still runs (SigLIP's attention-pooling head, under a classifier that
    averages the tokens instead): returning every module's output keeps it counted.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, *inputs):
        produced = []
        hooks = [module.register_forward_hook(lambda module, inputs, output: produced.append(output))
                 for module in self.model.modules()]
        try:
            output = self.model(*inputs)
        finally:
            for hook in hooks:
                hook.remove()
        tensors = tuple(_tensors(output))
        if not tensors:
            raise CountingError(f"the model's forward must return tensors, but returned {type(output).__name__}")
        return tensors + tuple(_tensors(produced))


def _tensors(output):
    if isinstance(output, torch.Tensor):
        yield output
    elif isinstance(output, dict):
        for value in output.values():
            yield from _tensors(value)
    elif isinstance(output, (tuple, list)):
        for value in output:
            yield from _tensors(value)
    elif dataclasses.is_dataclass(output) and not isinstance(output, type):
        for field in dataclasses.fields(output):
            yield from _tensors(getattr(output, field.name))


def traced_tally(model: nn.Module, inputs: tuple, rules: dict) -> Tally:
    """fvcore's counts of one traced ``model(*inputs)`` under ``rules``, keyed by ``model``'s module names."""
    analysis = fvcore_nn().FlopCountAnalysis(_TensorOutputs(model), inputs)
    # fvcore would silently skip its own list of ignored operators; here every operator needs a rule.
    analysis._ignored_ops = set()
    analysis.set_op_handle(**naming_the_operator(rules))
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    counts = {"" if name == "model" else name.removeprefix("model."): Counter(value)
              for name, value in analysis.by_module_and_operator().items() if name}
    return Tally(counts, Counter(analysis.unsupported_ops()))
