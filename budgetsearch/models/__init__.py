"""Models by name, and substitution of conv layers in any model."""

from ._capabilities import AuxiliaryOutput, ModelCapabilities, TappedNetwork, attention_map, class_scores
from ._reference import (ModelSpec, add_search_path, build_any, check_forward, check_options, is_reference,
                         load_reference, model_label, reference_of, split_reference)
from ._registry import (ModelFamily, check_model, check_model_options, create_model, default_input_size, find_model,
                        input_options, is_registered, list_models, model_defaults, register_model)
from ._weights import load_weights, read_state_dict
from .substitute import SELECTIONS, KeptDense, Replacement, SubstitutionReport, kept_dense, selection, substitute
from . import wide_resnet, resnet_imagenet, darts, mobilenetv2, vit  # noqa: E402,F401,I001  (register, in listing order)
from .darts import DARTS
from .mobilenetv2 import MobileNetV2
from .resnet_imagenet import ImageNetResNet
from .vit import VisionTransformer
from .wide_resnet import WideResNet

__all__ = [
    "AuxiliaryOutput", "DARTS", "ImageNetResNet", "KeptDense", "MobileNetV2", "ModelCapabilities", "ModelFamily",
    "ModelSpec", "Replacement", "SELECTIONS", "SubstitutionReport", "TappedNetwork", "VisionTransformer", "WideResNet",
    "add_search_path", "attention_map", "build_any", "check_forward", "check_model", "check_model_options",
    "check_options", "class_scores", "create_model", "default_input_size",
    "find_model", "input_options", "is_reference", "is_registered", "kept_dense", "list_models", "load_reference", "load_weights",
    "model_defaults", "model_label", "read_state_dict", "reference_of", "register_model", "selection", "split_reference", "substitute",
]
