"""Dense convolution: the reference every substitute is compared with."""

import math

from torch import nn

from ..errors import ConfigError
from ._blocks import check_geometry, he_fan_out_
from ._registry import implemented, register_substitute


def dense_conv(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=False) -> nn.Conv2d:
    """``nn.Conv2d`` with the WideResNet He fan-out init."""
    kernel, stride, _, dilation = check_geometry(in_channels, out_channels, kernel_size, stride, padding, dilation)
    # The padding as given: nn.Conv2d itself then holds and applies 'same' and 'valid'.
    return he_fan_out_(nn.Conv2d(in_channels, out_channels, kernel, stride, padding, dilation, bias=bias))


def dense_linear(in_features, out_features, bias=True) -> nn.Linear:
    """``nn.Linear`` under the same rule, as a 1×1 conv: N(0, 2/out_features); bias zero."""
    for name, value in (("in_features", in_features), ("out_features", out_features)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive int, but got {value!r}")
    layer = nn.Linear(in_features, out_features, bias=bias)
    nn.init.normal_(layer.weight, std=math.sqrt(2.0 / out_features))
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


register_substitute(implemented("conv", build=dense_conv, linear=dense_linear))
