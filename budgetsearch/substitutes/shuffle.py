"""Linear ShuffleNet unit: grouped 1×1, channel shuffle, depthwise k×k, grouped 1×1.

Zhang et al., "ShuffleNet: An Extremely Efficient Convolutional Neural Network
for Mobile Devices", CVPR 2018; used without shortcut, BN or nonlinearity as a
conv substitute, as the original study did. Bottleneck b = max(1, C_o // 4).

A group count that does not divide the channels falls back to the next valid
one below it: g is decremented until g | C_i, g | C_o and g | b.
Params: C_i·b/g + b·k² + b·C_o/g (the count falls as g grows).

It has no linear form (a decision): at a linear the depthwise k×k, the unit's
spatial part, would shrink to a per-channel scale, and the C_o/4 bottleneck is a
choice made for convolutions; no paper defines a ShuffleNet linear layer.
"""

import math

from torch import nn

from ._blocks import check_geometry, keep_conv_attributes
from ._registry import implemented, register_substitute


def valid_groups(groups: int, in_channels: int, out_channels: int) -> int:
    bottleneck = max(1, out_channels // 4)
    while in_channels % groups or out_channels % groups or bottleneck % groups:
        groups -= 1
    return groups


class LinearShuffle(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=False, *, groups):
        super().__init__()
        geometry = (in_channels, out_channels, kernel_size, stride, padding, dilation)
        kernel, stride, padding, dilation = check_geometry(*geometry)
        # As a conv it is ungrouped (groups = 1, see keep_conv_attributes); its 1×1s have shuffle_groups.
        keep_conv_attributes(self, *geometry)
        self.shuffle_groups = valid_groups(groups, in_channels, out_channels)
        bottleneck = max(1, out_channels // 4)
        self.reduce = nn.Conv2d(in_channels, bottleneck, 1, groups=self.shuffle_groups, bias=False)
        self.depthwise = nn.Conv2d(bottleneck, bottleneck, kernel, stride, padding, dilation, groups=bottleneck, bias=False)
        self.expand = nn.Conv2d(bottleneck, out_channels, 1, groups=self.shuffle_groups, bias=bias)
        # Unit gain up to the last map, which carries He's output variance 2·C_i/C_o.
        nn.init.normal_(self.reduce.weight, std=math.sqrt(self.shuffle_groups / in_channels))
        nn.init.normal_(self.depthwise.weight, std=1.0 / math.sqrt(kernel[0] * kernel[1]))
        nn.init.normal_(self.expand.weight,
                        std=math.sqrt(2.0 * in_channels * self.shuffle_groups / (out_channels * bottleneck)))
        if bias:
            nn.init.zeros_(self.expand.bias)

    def shuffle(self, x):
        # Interleave the groups' channels; -1 keeps shape arithmetic out of a traced graph.
        n, _, h, w = x.shape
        return x.view(n, self.shuffle_groups, -1, h, w).transpose(1, 2).flatten(1, 2)

    def forward(self, x):
        return self.expand(self.depthwise(self.shuffle(self.reduce(x))))


def linear_shuffle(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=False, *, groups):
    return LinearShuffle(in_channels, out_channels, kernel_size, stride, padding, dilation, bias, groups=groups)


register_substitute(implemented(
    "shuffle",
    build=linear_shuffle,
    compressed_types=(LinearShuffle,),
    sizes=lambda c_in, c_out, kernel, groups: valid_groups(groups, c_in, c_out),
))
