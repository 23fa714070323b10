"""MobileNetV2 for 224×224 ImageNet.

Sandler, Howard, Zhu, Zhmoginov & Chen, "MobileNetV2: Inverted Residuals and
Linear Bottlenecks", CVPR 2018: the (t, c, n, s) table below at width
multiplier ``width`` (1.0 by default). As in the paper, the multiplier scales
every layer's channels (rounded to a multiple of 8) except the final 1×1 to
1280, which it only widens.

Substitution points, built by the conv factory: every pointwise 1×1 (expand
and project), the final 1×1 to 1280 channels, and the classifier, which is a
1×1 conv with bias on the pooled features so that it is substitutable. Dense:
the stem conv, every depthwise conv and every BN.

``forward(x, return_attention=True)`` also returns four attention maps, one
at the end of each stage that halves the resolution below the stem's: after
the last block at 56², 28², 14² and 7² (24, 32, 96 and 320 channels).
(The original tapped after each strided block instead; the ends of stages
match the WideResNets, whose maps close each resolution.)
"""

from __future__ import annotations

import math

from torch import nn

from ..errors import ConfigError
from ..substitutes.conv import dense_conv
from ._capabilities import TappedNetwork
from ._families import implemented, register_model

# t (expansion), c (output channels), n (blocks), s (stride of the first block)
INVERTED_RESIDUALS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                      (6, 320, 1, 1))


def _dense(in_channels, out_channels, stride, groups):
    """Dense 3×3 (stem or depthwise) with He fan-out init."""
    conv = nn.Conv2d(in_channels, out_channels, 3, stride, 1, groups=groups, bias=False)
    nn.init.normal_(conv.weight, std=math.sqrt(2.0 / (9 * out_channels)))
    return conv


class InvertedResidual(nn.Module):
    def __init__(self, in_channels, out_channels, stride, expansion, conv):
        super().__init__()
        hidden = round(in_channels * expansion)
        self.stride = stride
        self.residual = stride == 1 and in_channels == out_channels
        layers = []
        if expansion != 1:
            layers += [conv(in_channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        layers += [_dense(hidden, hidden, stride, groups=hidden), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True),
                   conv(hidden, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


def _scaled(channels: int, width: float) -> int:
    """``channels × width`` to the nearest multiple of 8, never below 8 nor 10 % below the product (the paper's code)."""
    rounded = max(8, int(channels * width + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * channels * width else rounded


class MobileNetV2(TappedNetwork):
    def __init__(self, num_classes: int = 1000, conv=dense_conv, in_channels: int = 3, dropout: float = 0.2,
                 width: float = 1.0):
        super().__init__()
        if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width <= 4:
            raise ConfigError(f"MobileNetV2 width must be a multiplier in (0, 4], but got width={width!r}")
        stem = _scaled(32, width)
        self.stem = nn.Sequential(_dense(in_channels, stem, 2, groups=1), nn.BatchNorm2d(stem), nn.ReLU6(inplace=True))
        blocks, channels, stride_so_far, self.taps = [], stem, 2, []
        for t, c, n, s in ((t, _scaled(c, width), n, s) for t, c, n, s in INVERTED_RESIDUALS):
            if s == 2 and blocks and stride_so_far >= 4:
                self.taps.append(len(blocks) - 1)  # the block closing the previous resolution
            stride_so_far *= s
            for i in range(n):
                blocks.append(InvertedResidual(channels, c, s if i == 0 else 1, t, conv))
                channels = c
        self.taps.append(len(blocks) - 1)
        self.blocks = nn.Sequential(*blocks)
        last = _scaled(1280, max(width, 1.0))
        self.head = nn.Sequential(conv(channels, last, 1, bias=False), nn.BatchNorm2d(last), nn.ReLU6(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = conv(last, num_classes, 1, bias=True)

    def forward_tapped(self, x):
        x = self.stem(x)
        taps = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.taps:
                taps.append(x)
        x = self.dropout(self.pool(self.head(x)))
        return self.classifier(x).flatten(1), taps


register_model(implemented(
    "mobilenetv2",
    build=MobileNetV2,
    input_size=(3, 224, 224),
    num_classes=1000,
))
