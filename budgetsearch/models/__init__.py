"""Models by name, and substitution of conv layers in any model."""

from ._registry import (ModelFamily, create_model, default_input_size, find_model, input_options, list_models,
                        register_model)
from .substitute import Replacement, SubstitutionReport, spatial_convs, substitute
from . import wide_resnet, resnet_imagenet, darts, mobilenetv2  # noqa: E402,F401,I001  (register, in listing order)
from .darts import DARTS, AuxiliaryOutput
from .mobilenetv2 import MobileNetV2
from .resnet_imagenet import ImageNetResNet
from .wide_resnet import WideResNet, attention_map

__all__ = [
    "AuxiliaryOutput", "DARTS", "ImageNetResNet", "MobileNetV2", "ModelFamily", "Replacement", "SubstitutionReport", "WideResNet", "attention_map", "create_model",
    "default_input_size", "find_model", "input_options", "list_models", "register_model", "spatial_convs", "substitute",
]
