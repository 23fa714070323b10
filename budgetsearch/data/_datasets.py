"""Data sets loaded by spec (see :mod:`._specs`): the Dataset record and the validation split."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple, Union

import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigError
from ._cifar import CIFAR_LAYOUTS, cifar_fingerprint, read_cifar
from ._digits import read_digits
from ._recipe import AugmentRecipe
from ._specs import DEFAULT_VALIDATION_SIZE, check_validation_size, parse_dataset_spec

# Digits crop by one pixel of padding (4 of 32 would be half an 8×8 digit); no
# flip (digits are not mirror-symmetric); no cutout (a 16×16 square erases it).
DIGITS_AUGMENTATION = AugmentRecipe(crop_padding=1, horizontal_flip=False, cutout_size=0)


@dataclass(frozen=True, eq=False)  # eq=False: tensors have no single truth value
class Dataset:
    """An image classification data set held in memory as uint8 tensors [N, C, H, W].

    ``mean``/``std`` are per channel on the 0..1 scale, for :func:`normalize`
    and :func:`augment`; ``augmentation`` is the training recipe; ``source``
    says where the images came from and ``seed`` which validation split this is.
    """

    name: str
    source: str
    train_images: Tensor
    train_labels: Tensor
    val_images: Tensor
    val_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    num_classes: int
    class_names: Tuple[str, ...]
    input_size: Tuple[int, int, int]
    mean: Tuple[float, ...]
    std: Tuple[float, ...]
    augmentation: AugmentRecipe
    seed: int


def validation_count(validation_size: Union[int, float], pool_size: int) -> int:
    """Number of images to hold out: an int is a count, a float a fraction of ``pool_size`` (rounded)."""
    check_validation_size(validation_size)
    count = int(round(validation_size * pool_size)) if isinstance(validation_size, float) else validation_size
    if count >= pool_size:  # at least one training image must remain
        raise ConfigError(f"validation_size must leave at least one of the {pool_size} training images, "
                          f"but got {validation_size!r} ({count} images)")
    return count


def split_validation(images: Tensor, labels: Tensor, count: int, seed: int):
    """Hold out ``count`` random images, fixed by ``seed``; both parts keep the stored order.

    Returns ``(train_images, train_labels, val_images, val_labels)``.
    """
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(images), generator=generator)
    val_index, train_index = order[:count].sort().values, order[count:].sort().values
    return images[train_index], labels[train_index], images[val_index], labels[val_index]


def dataset_fingerprint(spec: str) -> str:
    """What the data set ``spec`` names, by content, not by path: ``"digits"``, or ``"cifar10:sha256:..."``."""
    name, path = parse_dataset_spec(spec)
    return name if name == "digits" else cifar_fingerprint(path, CIFAR_LAYOUTS[name])


def load_dataset(spec: str, *, validation_size: Union[int, float] = DEFAULT_VALIDATION_SIZE,
                 seed: int = 0) -> Dataset:
    """Load the data set named by ``spec`` and hold out a validation split.

    ``spec``: ``'cifar10:PATH'`` or ``'cifar100:PATH'`` (PATH = the extracted
    "python version" folder, or the folder holding it) or ``'digits'``.
    ``validation_size``: images held out of the training set, an int count or a
    float fraction (0 = none); which ones is fixed by ``seed``. The test set
    never depends on the seed.
    """
    name, path = parse_dataset_spec(spec)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be an int >= 0, but got {seed!r}")
    if name == "digits":
        train_images, train_labels, test_images, test_labels = read_digits()
        source, num_classes, class_names = "sklearn.datasets.load_digits", 10, tuple(str(d) for d in range(10))
        # Statistics of the whole training pool (train + validation), so they do not move with the seed.
        pixels = train_images.astype(np.float64) / 255.0
        mean, std = (float(pixels.mean()),), (float(pixels.std()),)
        augmentation = DIGITS_AUGMENTATION
    else:
        layout = CIFAR_LAYOUTS[name]
        train_images, train_labels, test_images, test_labels, class_names, folder = read_cifar(path, layout)
        source, num_classes = str(folder), layout.num_classes
        mean, std, augmentation = layout.mean, layout.std, layout.augmentation

    pool_images, pool_labels = torch.from_numpy(train_images), torch.from_numpy(train_labels)
    count = validation_count(validation_size, len(pool_images))
    train_x, train_y, val_x, val_y = split_validation(pool_images, pool_labels, count, seed)
    return Dataset(
        name=name, source=source,
        train_images=train_x, train_labels=train_y, val_images=val_x, val_labels=val_y,
        test_images=torch.from_numpy(np.ascontiguousarray(test_images)),
        test_labels=torch.from_numpy(np.ascontiguousarray(test_labels)),
        num_classes=num_classes, class_names=class_names, input_size=tuple(train_x.shape[1:]),
        mean=tuple(mean), std=tuple(std), augmentation=augmentation, seed=seed,
    )
