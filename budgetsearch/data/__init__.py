"""Data sets held in memory as uint8 tensors, and batched on-device augmentation.

``load_dataset("cifar10:PATH" | "cifar100:PATH" | "digits")`` returns a
:class:`Dataset`; :func:`augment` and :func:`normalize` turn its uint8 batches
into the network's float inputs; :func:`iterate_batches` walks one epoch.
Specs are parsed without torch (:mod:`._specs`); each name imports its module on
first use.
"""

from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(globals(), {
    "_augment": ("augment", "iterate_batches", "normalize"),
    "_cifar": ("CIFAR_LAYOUTS", "CifarLayout", "download_cifar", "verify_md5"),
    "_datasets": ("Dataset", "dataset_fingerprint", "load_dataset", "split_validation", "validation_count"),
    "_recipe": ("AugmentRecipe",),
    "_specs": ("DEFAULT_VALIDATION_SIZE", "SPEC_FORMS", "check_validation_size", "parse_dataset_spec"),
})
