"""Count a model's parameters and per-image inference mult-adds under budgetsearch's rule table.

Parameters are the unique trainable parameters (a shared one once; buffers
such as BN statistics and hash tables excluded), cross-checked against
fvcore's ``parameter_count``. Mult-adds are the counter's view of one forward pass
of a batch of one image in eval mode (every operation that runs, including
work whose result the model discards), under the rule table of ``_rules``,
with every parameter-only weight reconstruction (hash gather, tensor
contraction, ACDC product, folded tilings) done once beforehand, as
:func:`~budgetsearch.substitutes.reconstructed_once` does: those weights enter
the trace as constants, so the count is the per-image cost as deployed. Only
their shapes reach the count, so it uses zeros of those shapes
(:func:`~budgetsearch.substitutes.stand_in_reconstructions`) and never rebuilds.

The model may return a tensor or any nesting of tuples, lists, dicts and
dataclasses of tensors (transformers' ``ModelOutput`` included).

Modules a model lists in ``training_only_modules`` (DARTS's auxiliary head) do
not run at inference and their parameters are not counted.

The rebuilds themselves are a cost per training step, independent of the
batch: ``Count.reconstruction_mult_adds`` counts each once (``_reconstruction``).

Two backends apply the rule table (``counter=``): ``"fvcore"`` (the default)
walks a ``torch.jit`` trace (``_trace``), ``"dispatch"`` sees every operator
torch dispatches (``_dispatch``), without the tracer torch 2.13 deprecates.
They agree on every model of the combination matrix and transformers' image
classifiers (``tests/counting/test_dispatch_counter.py``). Where torch.jit
tracing is gone, ``count`` falls back to the dispatch backend and its
convention says so. The dispatch backend also counts a model on the meta device
(its tensors carry shapes and no values), as the solver counts its layers: no
storage, no arithmetic; a model whose forward reads values (``.item()``, a mask)
cannot run there.

``compat="deficient-efficient"`` counts with the original research code's
convention instead (``budgetsearch.counting._compat`` holds its rule table:
operator rules plus module rules that replace the traced count of a module).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
from dataclasses import dataclass
from importlib.metadata import version
from typing import Dict, Optional

import torch
from torch import nn

from ..compat import check_mode
from ..errors import ConfigError, CountingError
from ..models import ModelCapabilities
from ..substitutes import stand_in_reconstructions
from . import _compat
from ._backends import COUNTERS
from ._reconstruction import reconstruction_mult_adds
from ._rules import Handle, default_rules
from ._trace import fvcore_nn, jit_tracing_available

FVCORE = f"fvcore {version('fvcore')} jit trace + budgetsearch rules"
DISPATCH = f"torch {torch.__version__} dispatch (TorchDispatchMode) + budgetsearch rules"
FALLBACK = " (fallback: torch.jit tracing is unavailable)"
# The counter a count uses when it names none: fvcore, or the one ``counter_in_use`` sets.
_IN_USE = contextvars.ContextVar("budgetsearch_counter", default="fvcore")


def check_counter(counter: Optional[str]) -> str:
    """``counter``, or the one in use when None; one of :data:`COUNTERS`."""
    if counter is None:
        return _IN_USE.get()
    if counter not in COUNTERS:
        raise ConfigError(f"counter must be one of {', '.join(COUNTERS)}, but got {counter!r}")
    return counter


@contextlib.contextmanager
def counter_in_use(counter: Optional[str]):
    """Every count inside that names no counter uses ``counter`` (None: leave it as it is).

    For code that counts without a ``counter`` argument, the solver included (whose
    remembered counts are kept per counter).
    """
    token = _IN_USE.set(check_counter(counter))
    try:
        yield
    finally:
        _IN_USE.reset(token)


@dataclass(frozen=True)
class Convention:
    """How a count was made; recorded with every number budgetsearch reports."""

    input_size: tuple
    # The backend that counted (FVCORE, DISPATCH, or DISPATCH + FALLBACK); a solver's result adds how it
    # counted the substitution sites (budgetsearch.solver._network.SITES_ON_META).
    counter: str = FVCORE
    unit: str = "mult-adds (one fused multiply-add = 1; elementwise add/mul = 1 per element)"
    batch: int = 1
    mode: str = "inference (eval), weights reconstructed once"
    parameters: str = "unique trainable parameters; buffers and training-only modules excluded"
    compat: Optional[str] = None  # None: budgetsearch's rules; else the compatibility mode counted with

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"input_size": list(self.input_size)}


@dataclass(frozen=True)
class LayerCount:
    name: str
    type: str
    params: int
    mult_adds: int


@dataclass(frozen=True)
class Count:
    params: int
    mult_adds: int
    layers: tuple  # of LayerCount: each module's own parameters and own ops; they sum to the totals
    by_operator: Dict[str, int]
    convention: Convention
    # The total before rounding: a rule may cost fractions (the original's ACDC transform),
    # and a sum of counts must round once, at the end, to equal the count of the whole.
    exact_mult_adds: float = 0.0
    # Rebuilding every reconstructed weight once: in training, per step, whatever the batch
    # (budgetsearch's rules in every mode: the original counted no rebuild). None: not counted (rebuilds=False).
    reconstruction_mult_adds: Optional[int] = 0

    def per_layer(self):
        """The per-layer breakdown as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame([dataclasses.asdict(layer) for layer in self.layers], columns=["name", "type", "params", "mult_adds"])

    def to_dict(self, per_layer: bool = False) -> dict:
        result = {"params": self.params, "mult_adds": self.mult_adds,
                  "reconstruction_mult_adds": self.reconstruction_mult_adds, "by_operator": dict(self.by_operator),
                  "convention": self.convention.to_dict()}
        if per_layer:
            result["layers"] = [dataclasses.asdict(layer) for layer in self.layers]
        return result


def check_input_size(input_size) -> tuple:
    size = tuple(input_size)
    if len(size) != 3 or any(not isinstance(s, int) or s < 1 for s in size):
        raise ConfigError(f"input_size must be three positive ints (C, H, W), but got {input_size!r}")
    return size


def _training_only_names(model: nn.Module) -> tuple:
    """The modules a model declares as running only in training (:class:`ModelCapabilities`)."""
    return model.training_only_modules if isinstance(model, ModelCapabilities) else ()


def _training_only(model: nn.Module) -> set:
    """Ids of the parameters of the modules the model declares as running only in training."""
    return {id(p) for name in _training_only_names(model) for p in model.get_submodule(name).parameters()}


def _owned_by_first_name(model: nn.Module, module_name: str) -> int:
    """Parameters whose first qualified name is inside ``module_name``: a shared one belongs to its first owner."""
    return sum(p.numel() for name, p in model.named_parameters() if name.startswith(f"{module_name}."))


def count_parameters(model: nn.Module) -> int:
    """Unique trainable parameters of the inference network, checked against fvcore's count where fvcore imports."""
    unique = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in unique.values())
    if jit_tracing_available() and total != (fvcore_total := fvcore_nn().parameter_count(model)[""]):
        raise CountingError(f"parameter counts disagree: unique parameters {total}, fvcore {fvcore_total}")
    excluded = _training_only(model)
    if sum(p.numel() for i, p in unique.items() if i in excluded) != sum(
            _owned_by_first_name(model, name) for name in _training_only_names(model)):
        raise CountingError("training-only modules share parameters with the inference network")
    return sum(p.numel() for i, p in unique.items() if p.requires_grad and i not in excluded)


def _own_parameters(model: nn.Module) -> Dict[str, int]:
    seen, own = _training_only(model), {}
    for name, module in model.named_modules():
        fresh = [p for p in module.parameters(recurse=False) if id(p) not in seen and p.requires_grad]
        seen.update(id(p) for p in module.parameters(recurse=False))
        own[name] = sum(p.numel() for p in fresh)
    return own


def _module_shapes(model: nn.Module, example: torch.Tensor, types: tuple) -> dict:
    """{name: (input shape, output shape)} of every module, from one forward pass, if any is of ``types``."""
    if not any(isinstance(m, types) for m in model.modules()):
        return {}
    shapes, handles = {}, []
    for name, module in model.named_modules():
        def record(module, inputs, output, name=name):
            if inputs and isinstance(inputs[0], torch.Tensor) and isinstance(output, torch.Tensor):
                shapes[name] = (tuple(inputs[0].shape), tuple(output.shape))
        handles.append(module.register_forward_hook(record))
    try:
        model(example)
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def _apply_module_rules(model: nn.Module, totals: dict, shapes: dict, module_rules: dict, by_operator: dict,
                        traced_by_operator: dict) -> dict:
    """Replace the traced count of every module a rule covers (its whole subtree) by the rule's value.

    ``by_operator`` is updated in place: the covered modules' traced operators come
    out, and each rule's total goes in under ``"<ModuleType> (module rule)"``.
    """
    totals = {name: float(value) for name, value in totals.items()}
    by_rule: Dict[str, float] = {}
    covered = []
    for name, module in model.named_modules():
        rule = module_rules.get(type(module))
        if rule is None or any(name.startswith(c + ".") for c in covered) or name not in shapes:
            continue
        covered.append(name)
        value = rule(module, name, model, shapes)
        key = f"{type(module).__name__} (module rule)"
        by_rule[key] = by_rule.get(key, 0.0) + value
        for operator, traced in traced_by_operator.get(name, {}).items():
            by_operator[operator] -= traced
        delta = value - totals.get(name, 0.0)
        for other in list(totals):
            if other.startswith(name + "."):
                totals[other] = 0.0
        parts = name.split(".")
        for ancestor in ["", *(".".join(parts[:i]) for i in range(1, len(parts) + 1))]:
            totals[ancestor] = totals.get(ancestor, 0.0) + delta
    by_operator.update({key: round(value) for key, value in by_rule.items()})
    for operator in [op for op, value in by_operator.items() if value == 0]:
        del by_operator[operator]
    return totals


def _rounded_layers(values: list) -> list:
    """Round per-layer floats to ints that sum to the rounded total (largest remainders first)."""
    floors = [math.floor(v) for v in values]
    missing = round(sum(values)) - sum(floors)
    order = sorted(range(len(values)), key=lambda i: values[i] - floors[i], reverse=True)
    for i in order[:missing]:
        floors[i] += 1
    return floors


def count(model: nn.Module, input_size=(3, 32, 32), *, rules: Optional[Dict[str, Handle]] = None,
          compat: Optional[str] = None, counter: Optional[str] = None, rebuilds: bool = True) -> Count:
    """Parameters and per-image inference mult-adds of ``model`` at ``input_size`` (C, H, W).

    ``rules`` replaces the operator table (default :func:`default_rules`, or the
    compatibility mode's); an operator the model executes that has no rule, or
    whose rule meets a value of unknown shape, raises :class:`CountingError`. ``compat`` is None (budgetsearch's convention) or a mode
    of :data:`budgetsearch.compat.MODES`. ``counter`` is the backend, ``"fvcore"``
    or ``"dispatch"`` (None: fvcore, or the one :func:`counter_in_use` sets);
    fvcore without torch.jit tracing falls back to dispatch, as the convention records.
    ``rebuilds=False`` leaves the weight rebuilds uncounted (``reconstruction_mult_adds`` None), for a
    caller that needs the per-image count only: on a structured layer, the rebuild can cost more to count.
    """
    mode = check_mode(compat)
    backend = check_counter(counter)
    fallback = backend == "fvcore" and not jit_tracing_available()
    if fallback:
        backend = "dispatch"
    size = check_input_size(input_size)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    if device.type == "meta" and backend != "dispatch":
        raise CountingError("cannot trace a model on the meta device with fvcore; count it with counter='dispatch', "
                            "or its parameters with count_parameters()")
    params = count_parameters(model)
    was_training = model.training
    model.eval()
    if rules is None:
        rules = default_rules() if mode is None else _compat.operator_rules()
    module_rules = {} if mode is None else _compat.module_rules()
    try:
        with stand_in_reconstructions(model), torch.no_grad():
            example = torch.zeros(1, *size, device=device)
            tally = COUNTERS[backend](model, (example,), rules)
            totals, unsupported, by_operator = tally.by_module(), tally.unsupported, tally.by_operator()
            shapes = _module_shapes(model, example, tuple(module_rules)) if module_rules else {}
            traced_by_operator = tally.by_module_and_operator if shapes else {}
    finally:
        model.train(was_training)
    if unsupported:
        raise CountingError(
            f"operators without a counting rule: {dict(unsupported)}; add one for each with "
            f"budgetsearch.counting.register_rule (budgetsearch.counting.default_rules() is the table)"
        )
    if shapes:
        totals = _apply_module_rules(model, totals, shapes, module_rules, by_operator, traced_by_operator)
    own_params = _own_parameters(model)
    names, own_ops = [], []
    for name, module in model.named_modules():
        children = sum(totals.get(f"{name}.{c}" if name else c, 0) for c, _ in module.named_children())
        names.append((name, type(module).__name__))
        own_ops.append(totals.get(name, 0) - children)
    layers = tuple(LayerCount(name, kind, own_params[name], ops)
                   for (name, kind), ops in zip(names, _rounded_layers(own_ops)) if own_params[name] or ops)
    return Count(params, round(totals[""]), layers, by_operator, _convention(size, mode, backend, fallback),
                 float(totals[""]), reconstruction_mult_adds(model, counter=backend) if rebuilds else None)


def _convention(size: tuple, mode: Optional[str], backend: str, fallback: bool) -> Convention:
    counter = (FVCORE if backend == "fvcore" else DISPATCH) + (FALLBACK if fallback else "")
    if mode is None:
        return Convention(size, counter=counter)
    return Convention(size, counter=f"{counter} ({_compat.DESCRIPTION['counter_suffix']})",
                      unit=_compat.DESCRIPTION["unit"], compat=mode)
