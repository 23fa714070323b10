"""Rank-factorised 1×1 ("RF"): depthwise k×k, then 1×1 to rank r, then 1×1 to C_o.

A linear bottleneck as in Sandler et al., "MobileNetV2: Inverted Residuals and
Linear Bottlenecks", CVPR 2018.
"""

import functools
import math

from torch import nn

from ._blocks import depthwise_then, depthwise_then_params, pointwise_linear
from ._registry import implemented, register_substitute


def bottleneck_rank(rank_scale: float, in_channels: int, out_channels: int) -> int:
    """r = int(h·max(C_i, C_o)), at least 1 so every h in (0, 1] builds."""
    return max(1, int(rank_scale * max(in_channels, out_channels)))


class LowRankPointwise(nn.Module):
    """y = V·(U·x): U is r×C_i, V is C_o×r, both applied as 1×1 convs (the factored cost is what runs)."""

    def __init__(self, in_channels, out_channels, rank, stride=1, padding=0, dilation=1, bias=False):
        super().__init__()
        self.contract = nn.Conv2d(in_channels, rank, 1, stride, padding, dilation, bias=False)
        self.expand = nn.Conv2d(rank, out_channels, 1, bias=bias)
        # Inner activation at unit variance; the expand map carries the He gain 2·C_i/C_o.
        nn.init.normal_(self.contract.weight, std=math.sqrt(1.0 / in_channels))
        nn.init.normal_(self.expand.weight, std=math.sqrt(2.0 * in_channels / (rank * out_channels)))
        if bias:
            nn.init.zeros_(self.expand.bias)

    def forward(self, x):
        return self.expand(self.contract(x))

    def linear_maps(self) -> tuple:
        return ((self.contract.weight.flatten(1), None), (self.expand.weight.flatten(1), self.expand.bias))


def low_rank_pointwise(in_channels, out_channels, rank_scale):
    return functools.partial(LowRankPointwise, rank=bottleneck_rank(rank_scale, in_channels, out_channels))


def generic_low_rank(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=False, *, rank_scale):
    pointwise = low_rank_pointwise(in_channels, out_channels, rank_scale)
    return depthwise_then(pointwise, in_channels, out_channels, kernel_size, stride, padding, dilation, bias)


def generic_low_rank_linear(in_features, out_features, bias=True, *, rank_scale):
    return pointwise_linear(low_rank_pointwise(in_features, out_features, rank_scale), in_features, out_features, bias)


register_substitute(implemented(
    "generic",
    build=generic_low_rank,
    compressed_types=(LowRankPointwise,),
    sizes=lambda c_in, c_out, kernel, rank_scale: bottleneck_rank(rank_scale, c_in, c_out),
    linear=generic_low_rank_linear,
    params=lambda c_in, c_out, kernel, bias, rank: depthwise_then_params(c_in, c_out, kernel, bias,
                                                                         rank * (c_in + c_out)),
))
