"""A layer's effective dense weight, read off by running it on impulses.

Every substitute is linear in its input, so feeding it one impulse per input
(channel, kernel offset) and reading one output position gives the dense weight
it computes, whatever its parameter layout. That is how projections are checked
(a layout mistake shows up as a mismatch) and how ``fit`` works without data.
The geometry is the dense layer's: a substitute keeps its conv's stride, padding and dilation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError

# Impulses per forward: bounds the probe's memory on wide layers (640 channels, 3×3: 5,760 impulses).
_CHUNK = 1024


@dataclass(frozen=True)
class Geometry:
    """What the dense layer at a substitution point computes: a linear map or a conv's window."""

    in_channels: int
    out_channels: int
    kernel: tuple = ()  # () for a linear
    stride: tuple = (1, 1)
    left_padding: tuple = (0, 0)
    dilation: tuple = (1, 1)

    @property
    def weight_shape(self) -> tuple:
        return (self.out_channels, self.in_channels, *self.kernel)


def geometry_of(dense: nn.Module) -> Geometry:
    if isinstance(dense, nn.Linear):
        return Geometry(dense.in_features, dense.out_features)
    if isinstance(dense, nn.Conv2d) and dense.groups == 1:
        if dense.padding == "same":
            padding = tuple(d * (k - 1) // 2 for d, k in zip(dense.dilation, dense.kernel_size))
        else:
            padding = (0, 0) if dense.padding == "valid" else tuple(dense.padding)
        return Geometry(dense.in_channels, dense.out_channels, tuple(dense.kernel_size), tuple(dense.stride),
                        padding, tuple(dense.dilation))
    raise ConfigError(f"a projection starts from a dense nn.Conv2d (groups=1) or nn.Linear, "
                      f"but got {type(dense).__name__}")


def _conv_impulses(geometry: Geometry) -> tuple:
    """(impulse images, output position): the output position sees the whole kernel window, no padding."""
    size, offset, position = [], [], []
    for k, s, p, d in zip(geometry.kernel, geometry.stride, geometry.left_padding, geometry.dilation):
        out = math.ceil(p / s)  # the first output whose window starts inside the image
        start = out * s - p
        size.append(start + d * (k - 1) + 1)
        offset.append(start)
        position.append(out)
    kh, kw = geometry.kernel
    count = geometry.in_channels * kh * kw
    impulses = torch.zeros(count, geometry.in_channels, *size)
    channel, row, column = torch.meshgrid(torch.arange(geometry.in_channels), torch.arange(kh), torch.arange(kw),
                                          indexing="ij")
    rows = offset[0] + geometry.dilation[0] * row.flatten()
    columns = offset[1] + geometry.dilation[1] * column.flatten()
    impulses[torch.arange(count), channel.flatten(), rows, columns] = 1.0
    return impulses, tuple(position)


def effective_weight(layer: nn.Module, geometry: Geometry) -> torch.Tensor:
    """The dense weight ``layer`` computes, shaped like the dense layer's; differentiable in its parameters."""
    parameter = next(layer.parameters())
    if geometry.kernel:
        impulses, (row, column) = _conv_impulses(geometry)
        read = lambda y: y[:, :, row, column]  # noqa: E731
    else:
        impulses, read = torch.eye(geometry.in_channels), lambda y: y  # noqa: E731
    impulses = impulses.to(parameter)
    offset = read(layer(torch.zeros_like(impulses[:1])))  # the bias
    responses = torch.cat([read(layer(chunk)) - offset for chunk in impulses.split(_CHUNK)])
    return responses.t().reshape(geometry.weight_shape)
