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
from ._meta import shape_only
from ._registry import (
    ConvFactory,
    Hyperparameter,
    Substitute,
    as_factory,
    get_substitute,
    linear_substitutes,
    list_substitutes,
    parse_substitute,
    register_substitute,
)

# Registration order is the order of listings and tables.
from . import conv, separable, hashed, generic, lowrank, shuffle, acdc, tensor_train, tucker, cp, monarch, butterfly, kronecker, btt  # noqa: E402,F401,I001

__all__ = [
    "ConvFactory", "DepthwiseSeparable", "Hyperparameter", "ReconstructedConv", "ReconstructedModule", "Substitute", "as_factory",
    "dense_output_variance", "get_substitute", "linear_substitutes", "list_substitutes", "parse_substitute",
    "reconstructed_once", "register_substitute", "shape_only", "stand_in_reconstructions",
]
