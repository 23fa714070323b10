"""Depthwise-separable convolution: depthwise k×k then dense 1×1.

Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", CVPR 2017.
"""

import functools

from ._blocks import depthwise_then
from ._registry import implemented, register_substitute
from .conv import dense_conv, dense_linear

# A dense 1×1 under He fan-out init: entry variance 2/C_o.
dense_pointwise = functools.partial(dense_conv, kernel_size=1)


def separable_conv(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=False):
    return depthwise_then(dense_pointwise, in_channels, out_channels, kernel_size, stride, padding, dilation, bias)


register_substitute(implemented("separable", build=separable_conv, linear=dense_linear))
