"""The training-time augmentation a data set asks for, as plain data (applying it is :mod:`._augment`'s, with torch)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class AugmentRecipe:
    """How to augment one training batch.

    ``crop_padding``: zeros added on each side before cropping back to H×W (0 = no crop).
    ``horizontal_flip``: mirror each image with probability 1/2.
    ``cutout_size``: side of the square zeroed after normalisation (0 = no cutout).
    """

    crop_padding: int = 0
    horizontal_flip: bool = False
    cutout_size: int = 0

    def __post_init__(self):
        for field_name in ("crop_padding", "cutout_size"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"AugmentRecipe.{field_name} must be an int >= 0, but got {value!r}")
        if not isinstance(self.horizontal_flip, bool):
            raise ConfigError(f"AugmentRecipe.horizontal_flip must be a bool, but got {self.horizontal_flip!r}")
