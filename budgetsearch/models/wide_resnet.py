"""Wide residual networks for CIFAR.

Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016. Pre-activation basic
blocks as the original study's: the two 3×3 convs of every block are built by the
chosen conv factory; the stem, the 1×1 shortcuts, the final BN and the FC stay
dense. ``forward(x, return_attention=True)`` also returns the attention map
after each group (Zagoruyko & Komodakis, "Paying More Attention to Attention",
ICLR 2017), computed inside forward so it works under replication.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..substitutes.conv import dense_conv
from ._capabilities import TappedNetwork
from ._families import implemented, register_model


class BasicBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride, conv):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = conv(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = conv(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.shortcut = None
        if in_channels != out_channels or stride != 1:
            self.shortcut = dense_conv(in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x):
        activated = F.relu(self.bn1(x))
        # A projection shortcut reads the pre-activated input; an identity one the raw input.
        residual = x if self.shortcut is None else self.shortcut(activated)
        out = self.conv1(activated)
        out = self.conv2(F.relu(self.bn2(out)))
        return out + residual


class WideResNet(TappedNetwork):
    def __init__(self, depth: int, width: int, num_classes: int = 10, conv=dense_conv, in_channels: int = 3):
        super().__init__()
        if depth < 10 or (depth - 4) % 6:
            raise ConfigError(f"WRN depth must be 6n+4 with n >= 1 (10, 16, 22, 28, 40, ...), but got depth={depth}")
        if width < 1:
            raise ConfigError(f"WRN width must be >= 1, but got width={width}")
        blocks = (depth - 4) // 6
        widths = [16, 16 * width, 32 * width, 64 * width]
        self.stem = dense_conv(in_channels, widths[0], 3, padding=1, bias=False)
        self.groups = nn.ModuleList()
        for index, (c_in, c_out) in enumerate(zip(widths[:-1], widths[1:])):
            stride = 1 if index == 0 else 2
            self.groups.append(nn.Sequential(*(
                BasicBlock(c_in if b == 0 else c_out, c_out, stride if b == 0 else 1, conv) for b in range(blocks)
            )))
        self.bn = nn.BatchNorm2d(widths[-1])
        self.fc = nn.Linear(widths[-1], num_classes)
        nn.init.zeros_(self.fc.bias)

    def forward_tapped(self, x):
        x = self.stem(x)
        taps = []
        for group in self.groups:
            x = group(x)
            taps.append(x)
        x = F.relu(self.bn(x))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1)), taps


register_model(implemented(
    "wrn-28-10",
    build=WideResNet,
    input_size=(3, 32, 32),
    num_classes=10,
))
