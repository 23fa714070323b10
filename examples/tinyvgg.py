"""A small VGG-style CNN (Simonyan & Zisserman, 2015), written as any user's model is: plain ``nn.Module``, no
registration. Studies name it ``examples.tinyvgg:TinyVGG``; its 3×3 convs are what ``select = "spatial"`` picks.
"""

from __future__ import annotations

from torch import nn


class TinyVGG(nn.Module):
    """Two stages of two 3×3 conv-BN-ReLU blocks, each stage ending in a 2×2 max-pool, then a linear head."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: int = 16):
        super().__init__()
        layers, channels = [], in_channels
        for stage_width in (width, 2 * width):
            for _ in range(2):
                layers += [nn.Conv2d(channels, stage_width, 3, padding=1, bias=False), nn.BatchNorm2d(stage_width),
                           nn.ReLU(inplace=True)]
                channels = stage_width
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))
