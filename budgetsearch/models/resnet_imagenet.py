"""WRN-50-2: the ImageNet wide ResNet-50 (bottlenecks with doubled widths, expansion 2).

Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016; the ResNet-50
layout of He et al., "Deep Residual Learning for Image Recognition", CVPR 2016,
in torchvision's post-activation form with the stride in the 3×3.
Stage widths 128/256/512/1024 with outputs ×2 (256 … 2048); the same
shapes as torchvision's ``wide_resnet50_2``.

Substitution points, built by the conv factory: every bottleneck's 1×1 reduce,
3×3 and 1×1 expand, and the 1×1 projection of each downsample. Dense: the 7×7
stem, every BN and the FC. ``forward(x, return_attention=True)`` also returns
the attention map after each of the four stages.

The head averages the last stage globally (``nn.AdaptiveAvgPool2d(1)``, any
input size). ``fixed_pool=True`` uses the ``nn.AvgPool2d(7, stride=1)`` of
torchvision's ResNet of 2019 instead, which the original study built and whose
count.py counted as a pooling module (N·C·H_out·W_out·k²); it needs the 7×7
last stage of a 224×224 input. The compatibility mode builds it that way.
"""

from __future__ import annotations

import math

from torch import nn

from ..errors import ConfigError
from ..substitutes.conv import dense_conv
from ._capabilities import TappedNetwork
from ._families import implemented, register_model


class Bottleneck(nn.Module):
    def __init__(self, in_channels, width, stride, expansion, conv):
        super().__init__()
        out_channels = width * expansion
        self.conv1 = conv(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(conv(in_channels, out_channels, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out_channels))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ImageNetResNet(TappedNetwork):
    """Bottleneck ResNet for 224×224 ImageNet; ``widen=2, expansion=2`` is WRN-50-2."""

    def __init__(self, blocks=(3, 4, 6, 3), widen: int = 2, expansion: int = 2, num_classes: int = 1000,
                 conv=dense_conv, in_channels: int = 3, fixed_pool: bool = False):
        super().__init__()
        for name, value in (("widen", widen), ("expansion", expansion)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"ImageNetResNet {name} must be an int >= 1, but got {name}={value!r}")
        if not isinstance(blocks, (tuple, list)) or not blocks or not all(
                isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in blocks):
            raise ConfigError(f"ImageNetResNet blocks must be a list of ints >= 1 (blocks per stage, "
                              f"e.g. [3, 4, 6, 3]), but got blocks={blocks!r}")
        self.stem = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        channels, stages = 64, []
        for index, count in enumerate(blocks):
            width = 64 * widen * 2 ** index
            stride = 1 if index == 0 else 2
            stages.append(nn.Sequential(*(
                Bottleneck(channels if b == 0 else width * expansion, width, stride if b == 0 else 1, expansion, conv)
                for b in range(count)
            )))
            channels = width * expansion
        self.stages = nn.ModuleList(stages)
        self.pool = nn.AvgPool2d(7, stride=1) if fixed_pool else nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        # Kaiming-normal fan-out on the dense stem (the factory's convs carry their own init); BN 1/0 is the default.
        nn.init.normal_(self.stem.weight, std=math.sqrt(2.0 / (self.stem.out_channels * 7 * 7)))

    def forward_tapped(self, x):
        x = self.maxpool(self.relu(self.bn(self.stem(x))))
        taps = []
        for stage in self.stages:
            x = stage(x)
            taps.append(x)
        return self.fc(self.pool(x).flatten(1)), taps


register_model(implemented(
    "wrn-50-2",
    build=ImageNetResNet,
    input_size=(3, 224, 224),
    num_classes=1000,
    compat_options={"deficient-efficient": {"fixed_pool": True}},
))
