"""Models by name, and substitution of conv layers in any model.

Each name imports its module on first use: the families' names are declared
(:mod:`._declarations`), so checking a model's name (reading a study file)
imports no network and no torch.
"""

from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(globals(), {
    "_capabilities": ("AuxiliaryOutput", "ModelCapabilities", "TappedNetwork", "attention_map", "class_scores"),
    "_families": ("ModelFamily", "find_model", "is_registered", "list_models", "register_model"),
    "_names": ("is_reference", "split_reference"),
    "_reference": ("ModelSpec", "add_search_path", "build_any", "check_forward", "check_options", "load_reference",
                   "model_label", "reference_of"),
    "_registry": ("check_model", "check_model_options", "create_model", "default_input_size", "input_options",
                  "model_defaults"),
    "_substitute": ("SELECTIONS", "KeptDense", "Replacement", "SubstitutionReport", "kept_dense", "selection",
                    "substitute"),
    "_weights": ("load_weights", "read_state_dict"),
    "darts": ("DARTS",),
    "mobilenetv2": ("MobileNetV2",),
    "resnet_imagenet": ("ImageNetResNet",),
    "vit": ("VisionTransformer",),
    "wide_resnet": ("WideResNet",),
})
