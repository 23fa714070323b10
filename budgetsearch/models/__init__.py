"""Models by name, and substitution of conv layers in any model."""

from ._registry import ModelFamily, create_model, default_input_size, find_model, list_models, register_model
from .substitute import Replacement, SubstitutionReport, spatial_convs, substitute
from . import wide_resnet  # noqa: E402,F401  (registers)
from .wide_resnet import WideResNet, attention_map

__all__ = [
    "ModelFamily", "Replacement", "SubstitutionReport", "WideResNet", "attention_map", "create_model",
    "default_input_size", "find_model", "list_models", "register_model", "spatial_convs", "substitute",
]
