"""Batched training-time augmentation and epoch batching, on the images' own device.

The recipe is the one of the CIFAR WideResNet protocol: RandomCrop
with zero padding, horizontal flip, ToTensor + Normalize, then Cutout. Every step
works on a whole batch at once (no per-image Python loop, no DataLoader), so a
batch held on the GPU never leaves it.

Random numbers are drawn on the generator's device and moved to the images'
device: a CUDA generator keeps everything on the GPU, while a CPU generator
gives the same crops, flips and cutouts for CPU and CUDA inputs.
"""

from __future__ import annotations

from typing import Iterator, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError
from ._recipe import AugmentRecipe


def _check_images(images: Tensor, num_channels: Optional[int] = None) -> None:
    if not isinstance(images, Tensor) or images.dim() != 4 or images.dtype != torch.uint8:
        got = f"{images.dtype} tensor of shape {tuple(images.shape)}" if isinstance(images, Tensor) else repr(type(images))
        raise ConfigError(f"images must be a uint8 tensor [B, C, H, W], but got {got}")
    if num_channels is not None and images.shape[1] != num_channels:
        raise ConfigError(f"mean/std have {num_channels} channels, but the images have {images.shape[1]}")


def _per_channel(values: Sequence[float], like: Tensor) -> Tensor:
    return torch.as_tensor(values, dtype=torch.float32, device=like.device).view(1, -1, 1, 1)


def normalize(images_uint8: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """Map uint8 images to float32 ``(x / 255 - mean) / std`` per channel (ToTensor + Normalize).

    ``mean`` and ``std`` are sequences or 1-D float32 tensors. Pass tensors already on
    the images' device in a loop: building them from a sequence copies from the host,
    and on CUDA that copy waits for the GPU to finish its queue, every batch.
    """
    _check_images(images_uint8, len(mean))
    if len(std) != len(mean):
        raise ConfigError(f"mean and std need one value per channel, but got {len(mean)} and {len(std)} values")
    scaled = images_uint8.float().div_(255.0)
    return scaled.sub_(_per_channel(mean, scaled)).div_(_per_channel(std, scaled))


def _randint(high: int, size: int, generator: Optional[torch.Generator], device: torch.device) -> Tensor:
    draw_device = generator.device if generator is not None else device
    return torch.randint(0, high, (size,), generator=generator, device=draw_device).to(device)


def _crop_and_flip(images: Tensor, padding: int, flip: bool, generator: Optional[torch.Generator]) -> Tensor:
    """RandomCrop(H, padding) then RandomHorizontalFlip, as one gather from the padded batch."""
    batch, _, height, width = images.shape
    device = images.device
    rows = torch.arange(height, device=device).expand(batch, height)
    cols = torch.arange(width, device=device).expand(batch, width)
    source = images
    if padding > 0:
        # Pad with zeros (black) before normalising, as torchvision pads the PIL image.
        source = F.pad(images, (padding, padding, padding, padding))
        top = _randint(2 * padding + 1, batch, generator, device)
        left = _randint(2 * padding + 1, batch, generator, device)
        rows = rows + top[:, None]
        cols = cols + left[:, None]
    if flip:
        mirrored = _randint(2, batch, generator, device).bool()
        cols = torch.where(mirrored[:, None], cols.flip(1), cols)
    # Image b takes rows[b] x cols[b] of its padded copy: one gather over the flattened
    # pixels, shared by the channels (about 6x faster on CPU than 4-D advanced indexing).
    channels, source_width = images.shape[1], source.shape[3]
    flat_index = (rows[:, :, None] * source_width + cols[:, None, :]).view(batch, 1, height * width)
    picked = source.reshape(batch, channels, -1).gather(2, flat_index.expand(batch, channels, height * width))
    return picked.view(batch, channels, height, width)


def _cutout(normalized: Tensor, size: int, generator: Optional[torch.Generator]) -> Tensor:
    """Zero a size×size square centred on a uniform pixel, clipped to the image (DeVries & Taylor, 2017)."""
    batch, _, height, width = normalized.shape
    device = normalized.device
    centre_y = _randint(height, batch, generator, device)
    centre_x = _randint(width, batch, generator, device)
    # [c - size//2, c - size//2 + size) is the reference's [y-8, y+8) for size 16.
    top, left = centre_y - size // 2, centre_x - size // 2
    ys = torch.arange(height, device=device)[None, :]
    xs = torch.arange(width, device=device)[None, :]
    in_rows = (ys >= top[:, None]) & (ys < top[:, None] + size)
    in_cols = (xs >= left[:, None]) & (xs < left[:, None] + size)
    square = in_rows[:, :, None] & in_cols[:, None, :]
    return normalized.masked_fill_(square[:, None], 0.0)


def augment(
    images_uint8: Tensor,
    recipe: AugmentRecipe,
    mean: Sequence[float],
    std: Sequence[float],
    generator: Optional[torch.Generator],
) -> Tensor:
    """Augment a uint8 batch [B, C, H, W] into a normalised float32 batch of the same shape.

    Order as in the reference: random crop (zero padding) and flip on the raw
    pixels, normalisation, then Cutout (so a cut-out pixel equals the mean).
    ``generator`` (None = torch's default) makes the result reproducible.
    """
    _check_images(images_uint8, len(mean))
    if not isinstance(recipe, AugmentRecipe):
        raise ConfigError(f"recipe must be an AugmentRecipe, but got {type(recipe).__name__}")
    images = images_uint8
    if recipe.crop_padding > 0 or recipe.horizontal_flip:
        images = _crop_and_flip(images, recipe.crop_padding, recipe.horizontal_flip, generator)
    normalized = normalize(images, mean, std)
    if recipe.cutout_size > 0:
        normalized = _cutout(normalized, recipe.cutout_size, generator)
    return normalized


def iterate_batches(
    images: Tensor,
    labels: Tensor,
    batch_size: int,
    *,
    shuffle: bool = False,
    generator: Optional[torch.Generator] = None,
    drop_last: bool = False,
) -> Iterator[Tuple[Tensor, Tensor]]:
    """Yield ``(images[idx], labels[idx])`` batches covering one epoch.

    With ``shuffle`` the order is a fresh permutation drawn from ``generator``;
    without it the batches are plain slices in storage order. ``drop_last``
    skips a final batch smaller than ``batch_size``.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be an int >= 1, but got {batch_size!r}")
    if len(images) != len(labels):
        raise ConfigError(f"images and labels must have the same length, but got {len(images)} and {len(labels)}")
    count = len(images)
    stop = count - count % batch_size if drop_last else count
    order = None
    if shuffle:
        draw_device = generator.device if generator is not None else images.device
        order = torch.randperm(count, generator=generator, device=draw_device).to(images.device)
    for start in range(0, stop, batch_size):
        end = min(start + batch_size, stop)
        if order is None:
            yield images[start:end], labels[start:end]
        else:
            index = order[start:end]
            yield images[index], labels[index.to(labels.device)]
