"""Substitute convolutions ("conv factories") and their registry.

Every built-in substitute is declared in ``_declarations`` and its module (with
torch) is imported on its first lookup, so listing the registry needs no torch.
The layers' building blocks below are imported on first use for the same reason.
"""

import importlib

from ._declarations import Declaration
from ._hyperparameter import Hyperparameter
from ._registry import (
    ConvFactory,
    Substitute,
    as_factory,
    describe_substitute,
    did_you_mean,
    get_substitute,
    has_linear_form,
    implemented,
    linear_substitutes,
    list_substitutes,
    parse_substitute,
    register_substitute,
)

# Names that import torch: {name: the module defining it}.
_WITH_TORCH = {
    "DepthwiseSeparable": "_blocks", "ReconstructedConv": "_blocks", "ReconstructedModule": "_blocks",
    "dense_output_variance": "_blocks", "reconstructed_once": "_blocks", "stand_in_reconstructions": "_blocks",
    "CompatCounted": "_compat_counted", "compat_counted_types": "_compat_counted", "shape_only": "_meta",
    "RecordingFactory": "_recording",
}


def __getattr__(name: str):
    if name not in _WITH_TORCH:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WITH_TORCH[name]}"), name)
    globals()[name] = value
    return value


__all__ = [
    "CompatCounted", "ConvFactory", "Declaration", "DepthwiseSeparable", "Hyperparameter", "ReconstructedConv",
    "ReconstructedModule", "RecordingFactory", "Substitute", "as_factory", "compat_counted_types",
    "dense_output_variance", "describe_substitute", "did_you_mean", "get_substitute", "has_linear_form",
    "implemented", "linear_substitutes", "list_substitutes", "parse_substitute", "reconstructed_once",
    "register_substitute", "shape_only", "stand_in_reconstructions",
]
