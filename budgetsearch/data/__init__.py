"""Data sets held in memory as uint8 tensors, and batched on-device augmentation.

``load_dataset("cifar10:PATH" | "cifar100:PATH" | "digits")`` returns a
:class:`Dataset`; :func:`augment` and :func:`normalize` turn its uint8 batches
into the network's float inputs; :func:`iterate_batches` walks one epoch.
"""

from ._augment import AugmentRecipe, augment, iterate_batches, normalize
from ._cifar import CIFAR_LAYOUTS, CifarLayout, download_cifar, verify_md5
from ._datasets import (DEFAULT_VALIDATION_SIZE, SPEC_FORMS, Dataset, check_validation_size, dataset_fingerprint,
                        load_dataset, parse_dataset_spec,
                        split_validation, validation_count)

__all__ = [
    "AugmentRecipe", "CIFAR_LAYOUTS", "CifarLayout", "DEFAULT_VALIDATION_SIZE", "Dataset", "SPEC_FORMS", "augment",
    "check_validation_size", "dataset_fingerprint", "download_cifar", "iterate_batches", "load_dataset", "normalize", "parse_dataset_spec", "split_validation",
    "validation_count", "verify_md5",
]
