"""Optimizer parameter groups with compression-ratio-scaled weight decay (CRS-wd).

The substitute's own compressed weights get ``weight_decay · ρ`` with
ρ = (parameters of the network) / (parameters of the same network built with
its family's reference substitute); every other parameter (BN, stem,
shortcuts, classifier, depthwise convs) gets ``weight_decay``. The motivation
in the original: keep the total variance of the Gaussian weight prior when the
number of weights shrinks.

Groups are chosen by module type, from the substitute's registered
``compressed_types``, never by parameter names: the original's name matching
silently missed four substitutes for weeks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

from torch import nn

from ..substitutes import ConvFactory, get_substitute
from ._architecture import Architecture


@dataclass(frozen=True)
class DecayGroup:
    """One optimizer group as recorded in a trial's result."""

    name: str  # "compressed" or "base"
    weight_decay: float
    params: int  # number of scalar parameters
    tensors: int
    module_types: Tuple[str, ...]  # types of the modules owning these parameters

    def to_dict(self) -> dict:
        return {"name": self.name, "weight_decay": self.weight_decay, "params": self.params,
                "tensors": self.tensors, "module_types": list(self.module_types)}


def reference_ratio(architecture: Architecture) -> Tuple[float, int, int]:
    """``(ρ, params, reference params)`` of ``architecture``'s network, as the solver's counter counts them.

    One count for every consumer: the ratio is the network's parameters over those of the same
    network built with its family's reference substitute, both as the budget was solved (modules
    that run only in training, such as DARTS's auxiliary head, are not counted).
    """
    from ..solver import network_counter

    counter = network_counter(architecture.model, architecture.num_classes, architecture.input_size,
                              options=architecture.options, select=architecture.select, exclude=architecture.exclude)
    factory = architecture.factory
    params = counter.params(factory.substitute, factory.setting)
    reference = counter.params(get_substitute(counter.reference), None)
    return params / reference, params, reference


def _owners(model: nn.Module, compressed_types: tuple):
    """Map each parameter (by id) to the type of its owning module and whether it is compressed.

    A parameter is compressed when any module on its path from the root is one of
    ``compressed_types`` ("types whose parameters, recursively, are the compressed weights").
    """
    owners = {}

    def visit(module: nn.Module, inside: bool):
        inside = inside or (bool(compressed_types) and isinstance(module, compressed_types))
        for parameter in module.parameters(recurse=False):
            owners.setdefault(id(parameter), (type(module).__name__, inside))
        for child in module.children():
            visit(child, inside)

    visit(model, False)
    return owners


def weight_decay_groups(model: nn.Module, factory: ConvFactory, ratio: float, weight_decay: float,
                        crs: bool) -> Tuple[List[dict], List[DecayGroup]]:
    """Optimizer groups for ``model`` and their records (always both; an empty one is left out of the optimizer)."""
    owners = _owners(model, tuple(factory.substitute.compressed_types))
    parts = {"compressed": [], "base": []}
    types = {"compressed": set(), "base": set()}
    for parameter in {id(p): p for p in model.parameters() if p.requires_grad}.values():
        owner_type, compressed = owners[id(parameter)]
        key = "compressed" if compressed else "base"
        parts[key].append(parameter)
        types[key].add(owner_type)
    # With CRS off the split is still recorded, both groups at the base decay.
    decays = {"compressed": weight_decay * ratio if crs else weight_decay, "base": weight_decay}
    groups, records = [], []
    for key in ("compressed", "base"):
        records.append(DecayGroup(key, decays[key], sum(p.numel() for p in parts[key]), len(parts[key]),
                                  tuple(sorted(types[key]))))
        if parts[key]:
            groups.append({"params": parts[key], "weight_decay": decays[key], "name": key})
    return groups, records
