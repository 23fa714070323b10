"""Depthwise-separable convolution: depthwise k×k then dense 1×1.

Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", CVPR 2017.
"""

import math

from torch import nn

from ._blocks import depthwise_then
from ._registry import Substitute, register_substitute


def dense_pointwise(in_channels, out_channels, stride, padding, dilation, bias) -> nn.Conv2d:
    """1×1 conv with He fan-out init: entry variance 2/C_o."""
    conv = nn.Conv2d(in_channels, out_channels, 1, stride, padding, dilation, bias=bias)
    nn.init.normal_(conv.weight, std=math.sqrt(2.0 / out_channels))
    if bias:
        nn.init.zeros_(conv.bias)
    return conv


def separable_conv(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=False):
    return depthwise_then(dense_pointwise, in_channels, out_channels, kernel_size, stride, padding, dilation, bias)


register_substitute(Substitute(
    name="separable",
    build=separable_conv,
    hyperparameter=None,
    original_name="Sep",
    summary="depthwise k×k (only if k>1) + dense 1×1",
    paper="Chollet, Xception, CVPR 2017",
))
