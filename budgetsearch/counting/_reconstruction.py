"""The mult-adds of rebuilding structured weights: a cost per training step, not per image.

A :class:`~budgetsearch.substitutes.ReconstructedModule` (hashed, tensor-train,
Tucker, CP, ACDC, the tied low rank's folded tiling) computes its weight from
its parameters. At inference that is done once (``count`` leaves it out); in
training the weight is rebuilt in every forward, whatever the batch size. This
module counts that rebuild: the counter (fvcore's trace, or the dispatch backend)
runs each module's ``reconstruct()`` once, under the same rules as ``count``
plus the few operators only rebuilds use.
It runs on a meta-device copy of the module, since the count depends on
shapes alone: an ACDC product of 128 factors on 640 channels costs no
arithmetic to count. A module whose rebuild repeats one identical step n times
(it names n in ``rebuild_repeats``) costs count(1) + (n − 1)·(count(2) − count(1)):
two short counts instead of one whose dispatch overhead grows with n.

ACDC, for example, folds n factors on c = max(C_i, C_o) channels. For odd c
that is 2n − 1 dense c×c matmuls and 2n diagonal scalings: (2n − 1)·c³ + 2n·c²
mult-adds; for even c each product with the DCT or its inverse is two half-size
matmuls and c² adds or subtractions: (2n − 1)·c³/2 + (4n − 1)·c². Either way
plus c² adds folding the widened (or summed) channels when C_i ≠ C_o.
"""

from __future__ import annotations

import copy
from typing import Dict, Hashable

import torch
from torch import nn

from ..errors import CountingError
from ..substitutes import ReconstructedModule
from ._backends import COUNTERS
from ._rules import Handle, _numel, default_rules, per_output_element


def _source_elements(inputs, outputs) -> int:
    """``index_add(self, dim, index, source)``: one add per element of ``source``."""
    return _numel(inputs[3])


def reconstruction_rules() -> Dict[str, Handle]:
    """``count``'s rules plus the operators only weight rebuilds use (folding channels, signs)."""
    rules = default_rules()
    rules.update({"aten::index_add": _source_elements, "aten::index_add_": _source_elements,
                  "aten::neg": per_output_element})
    return rules


class _Rebuild(nn.Module):
    """Runs ``layer.reconstruct()`` as a forward: the counters run a forward with an input, so it takes a dummy one."""

    def __init__(self, layer: ReconstructedModule):
        super().__init__()
        self.layer = layer

    def forward(self, _):
        return self.layer.reconstruct()


def _signature(layer: nn.Module) -> Hashable:
    """What a rebuild's cost depends on: the module's type, hyperparameters and every tensor's shape."""
    tensors = tuple((name, tuple(t.shape)) for name, t in (*layer.named_parameters(), *layer.named_buffers()))
    return type(layer), layer.extra_repr(), tensors


def _rebuild_count(shadow: ReconstructedModule, counter: str) -> int:
    """Mult-adds of ``shadow.reconstruct()`` (a meta-device module), every operator counted as it runs."""
    tally = COUNTERS[counter](_Rebuild(shadow), (torch.zeros((), device="meta"),), reconstruction_rules())
    if tally.unsupported:
        raise CountingError(f"operators without a counting rule in {type(shadow).__name__}.reconstruct(): "
                            f"{dict(tally.unsupported)}; add a handle to reconstruction_rules()")
    return round(tally.total())


def layer_reconstruction_mult_adds(layer: ReconstructedModule, counter: str = "fvcore") -> int:
    """Mult-adds of one ``layer.reconstruct()``, counted by ``counter`` on a meta-device copy of ``layer``."""
    shadow = layer if all(t.is_meta for t in (*layer.parameters(), *layer.buffers())) else \
        copy.deepcopy(layer).to("meta")
    repeats = None if layer.rebuild_repeats is None else getattr(layer, layer.rebuild_repeats)
    if repeats is None or repeats <= 2:
        return _rebuild_count(shadow, counter)
    once, twice = (_rebuild_count(shadow.with_rebuild_repeats(k), counter) for k in (1, 2))
    return once + (repeats - 1) * (twice - once)


def reconstruction_mult_adds(model: nn.Module, counter: str = "fvcore") -> int:
    """Mult-adds of rebuilding every reconstructed weight of ``model`` once: its per-step cost in training.

    Independent of the batch. A module is counted once however often the
    network calls it; modules of equal signature (type, hyperparameters, tensor
    shapes) are traced once.
    """
    per_signature: Dict[Hashable, int] = {}
    total = 0
    for layer in (m for m in model.modules() if isinstance(m, ReconstructedModule)):
        key = _signature(layer)
        if key not in per_signature:
            per_signature[key] = layer_reconstruction_mult_adds(layer, counter)
        total += per_signature[key]
    return total
