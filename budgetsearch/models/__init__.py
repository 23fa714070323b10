"""Models by name, and substitution of conv layers in any model."""

from ._registry import (ModelFamily, create_model, default_input_size, find_model, input_options, list_models,
                        register_model)
from .substitute import SELECTIONS, KeptDense, Replacement, SubstitutionReport, kept_dense, selection, substitute
from . import wide_resnet, resnet_imagenet, darts, mobilenetv2, vit  # noqa: E402,F401,I001  (register, in listing order)
from .darts import DARTS, AuxiliaryOutput
from .mobilenetv2 import MobileNetV2
from .resnet_imagenet import ImageNetResNet
from .vit import VisionTransformer
from .wide_resnet import WideResNet, attention_map

__all__ = [
    "AuxiliaryOutput", "DARTS", "ImageNetResNet", "KeptDense", "MobileNetV2", "ModelFamily", "Replacement", "SELECTIONS", "VisionTransformer",
    "SubstitutionReport", "WideResNet", "attention_map", "create_model", "default_input_size", "find_model", "input_options",
    "kept_dense", "list_models", "register_model", "selection", "substitute",
]
