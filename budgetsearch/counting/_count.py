"""Count a model's parameters and per-image inference mult-adds with fvcore.

Parameters are the unique trainable parameters (a shared one once; buffers
such as BN statistics and hash tables excluded), cross-checked against
fvcore's ``parameter_count``. Mult-adds are fvcore's trace of one forward pass
of a batch of one image in eval mode, under the rule table of ``_rules``,
with every parameter-only weight reconstruction (hash gather, tensor
contraction, ACDC product, folded tilings) done once beforehand by
:func:`~budgetsearch.substitutes.reconstructed_once`: those weights enter the
trace as constants, so the count is the per-image cost as deployed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib.metadata import version
from typing import Dict, Optional

import torch
from fvcore.nn import FlopCountAnalysis, parameter_count
from torch import nn

from ..errors import ConfigError, CountingError
from ..substitutes import reconstructed_once
from ._rules import Handle, default_rules


@dataclass(frozen=True)
class Convention:
    """How a count was made; recorded with every number budgetsearch reports."""

    input_size: tuple
    counter: str = f"fvcore {version('fvcore')} jit trace + budgetsearch rules"
    unit: str = "mult-adds (one fused multiply-add = 1; elementwise add/mul = 1 per element)"
    batch: int = 1
    mode: str = "inference (eval), weights reconstructed once"
    parameters: str = "unique trainable parameters; buffers excluded"

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

    def per_layer(self):
        """The per-layer breakdown as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame([dataclasses.asdict(layer) for layer in self.layers], columns=["name", "type", "params", "mult_adds"])

    def to_dict(self, per_layer: bool = False) -> dict:
        result = {"params": self.params, "mult_adds": self.mult_adds, "by_operator": dict(self.by_operator),
                  "convention": self.convention.to_dict()}
        if per_layer:
            result["layers"] = [dataclasses.asdict(layer) for layer in self.layers]
        return result


def check_input_size(input_size) -> tuple:
    size = tuple(input_size)
    if len(size) != 3 or any(not isinstance(s, int) or s < 1 for s in size):
        raise ConfigError(f"input_size must be three positive ints (C, H, W), but got {input_size!r}")
    return size


def count_parameters(model: nn.Module) -> int:
    """Unique trainable parameters, checked against fvcore's count of all parameters."""
    unique = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in unique.values())
    fvcore_total = parameter_count(model)[""]
    if total != fvcore_total:
        raise CountingError(f"parameter counts disagree: unique parameters {total}, fvcore {fvcore_total}")
    return sum(p.numel() for p in unique.values() if p.requires_grad)


def _own_parameters(model: nn.Module) -> Dict[str, int]:
    seen, own = set(), {}
    for name, module in model.named_modules():
        fresh = [p for p in module.parameters(recurse=False) if id(p) not in seen and p.requires_grad]
        seen.update(id(p) for p in module.parameters(recurse=False))
        own[name] = sum(p.numel() for p in fresh)
    return own


def count(model: nn.Module, input_size=(3, 32, 32), *, rules: Optional[Dict[str, Handle]] = None) -> Count:
    """Parameters and per-image inference mult-adds of ``model`` at ``input_size`` (C, H, W).

    ``rules`` replaces the operator table (default :func:`default_rules`); an
    operator the model executes that has no rule raises :class:`CountingError`.
    """
    size = check_input_size(input_size)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    if device.type == "meta":
        raise CountingError("cannot trace a model on the meta device; count its parameters with count_parameters()")
    params = count_parameters(model)
    was_training = model.training
    model.eval()
    try:
        with reconstructed_once(model), torch.no_grad():
            analysis = FlopCountAnalysis(model, torch.zeros(1, *size, device=device))
            # fvcore would silently skip its own list of ignored operators; here every operator needs a rule.
            analysis._ignored_ops = set()
            analysis.set_op_handle(**(default_rules() if rules is None else rules))
            analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            totals = analysis.by_module()
            unsupported = analysis.unsupported_ops()
            by_operator = dict(analysis.by_operator())
    finally:
        model.train(was_training)
    if unsupported:
        raise CountingError(
            f"operators without a counting rule: {dict(unsupported)}; register a handle for each "
            f"(budgetsearch.counting.default_rules() is the table)"
        )
    own_params = _own_parameters(model)
    layers = []
    for name, module in model.named_modules():
        children = sum(totals.get(f"{name}.{c}" if name else c, 0) for c, _ in module.named_children())
        own_ops = totals.get(name, 0) - children
        if own_params[name] or own_ops:
            layers.append(LayerCount(name, type(module).__name__, own_params[name], int(own_ops)))
    return Count(params, int(totals[""]), tuple(layers), by_operator, Convention(size))
