"""Substitute convolutions ("conv factories") and their registry.

Importing this package registers every built-in substitute.
"""

from ._blocks import (
    DepthwiseSeparable,
    ReconstructedConv,
    ReconstructedModule,
    dense_output_variance,
    reconstructed_once,
    stand_in_reconstructions,
)
from ._compat_counted import CompatCounted, compat_counted_types
from ._meta import shape_only
from ._recording import RecordingFactory
from ._registry import (
    ConvFactory,
    Hyperparameter,
    Substitute,
    as_factory,
    did_you_mean,
    get_substitute,
    has_linear_form,
    linear_substitutes,
    list_substitutes,
    parse_substitute,
    register_substitute,
)

# Registration order is the order of listings and tables.
from . import conv, separable, hashed, generic, lowrank, shuffle, acdc, tensor_train, tucker, cp, monarch, butterfly, kronecker, btt, blast  # noqa: E402,F401,I001

__all__ = [
    "CompatCounted", "ConvFactory", "DepthwiseSeparable", "Hyperparameter", "ReconstructedConv", "ReconstructedModule",
    "RecordingFactory", "Substitute", "as_factory", "compat_counted_types", "dense_output_variance", "did_you_mean",
    "get_substitute", "has_linear_form", "linear_substitutes", "list_substitutes", "parse_substitute",
    "reconstructed_once", "register_substitute", "shape_only", "stand_in_reconstructions",
]
