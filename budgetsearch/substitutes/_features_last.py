"""What the structured linear maps (Monarch, butterfly, Kronecker, BTT) share.

Each is written features-last, ``(..., in_features) -> (..., out_features)``, like
``nn.Linear``; as a conv substitute it runs as the 1×1 after a depthwise k×k
(:func:`~._blocks.channels_last_pointwise`). The forward flattens the leading
dimensions into one batch, applies the factors to the activations with
matmul/bmm/einsum (no dense weight is formed), adds the bias and restores the shape.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from ..errors import ConfigError
from ._blocks import channels_last_pointwise, depthwise_then


def check_features(in_features, out_features) -> None:
    for name, value in (("in_features", in_features), ("out_features", out_features)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive int, but got {value!r}")


def check_size(name: str, value) -> int:
    """A structural size (blocks, factors, terms, rank): a positive int."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be an int >= 1, but got {value!r}")
    return value


class FeaturesLastLinear(nn.Module):
    """Base of the structured maps: subclasses implement :meth:`mix` on a ``(N, in_features)`` batch."""

    def __init__(self, in_features: int, out_features: int, bias: bool):
        super().__init__()
        check_features(in_features, out_features)
        self.in_features, self.out_features = in_features, out_features
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x):
        y = self.mix(x.reshape(-1, self.in_features))
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def conv_form(linear: type):
    """The conv substitute of a features-last family: depthwise k×k (k > 1), then ``linear`` as the 1×1.

    ``size`` is the family's hyperparameter (``blocks=4``), passed on to ``linear``.
    """
    def build(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=False, **size):
        pointwise = channels_last_pointwise(functools.partial(linear, **size))
        return depthwise_then(pointwise, in_channels, out_channels, kernel_size, stride, padding, dilation, bias)
    build.__name__ = build.__qualname__ = f"{linear.__name__}_conv"
    return build
