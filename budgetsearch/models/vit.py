"""A Vision Transformer for CIFAR's 32×32 images: ``vit-D-W``.

Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image
Recognition at Scale", ICLR 2021, sized for CIFAR: 4×4 patches (64 tokens),
depth D, width W, W/64 heads of 64, MLP ratio 4, pre-norm blocks, a learned
position embedding and mean pooling of the tokens (no class token), as in
Beyer et al., "Better plain ViT baselines for ImageNet-1k", 2022. Built by
name, it takes its image size from the input (one position embedding per
patch): any square image whose side is a multiple of 4 (digits: 8×8, 4 tokens).

The substitution points are the qkv, attention-output and MLP linears, built
through ``conv.linear(...)``; the patch embedding and the head stay dense.
Attention is written as explicit matmuls and a softmax, so every operator it
runs is counted by its own rule.

``forward(x, return_attention=True)`` also returns three attention maps over
the tokens (Zagoruyko & Komodakis's map, the tokens' width in place of the
channels): after blocks ⌈D/3⌉, ⌈2D/3⌉ and D, the ends of three equal stages
as a WideResNet's three groups, so a ViT of any depth pairs with another on the
same token grid (a ViT of fewer than three blocks taps a block more than once).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..substitutes.conv import dense_conv
from ._capabilities import TappedNetwork
from ._families import implemented, register_model
from ._size_check import sizes_near

HEAD_WIDTH = 64
MLP_RATIO = 4
PATCH = 4


class SelfAttention(nn.Module):
    def __init__(self, width: int, conv):
        super().__init__()
        self.heads = width // HEAD_WIDTH
        self.qkv = conv.linear(width, 3 * width, bias=True)
        self.proj = conv.linear(width, width, bias=True)

    def forward(self, x):
        # (B, L, 3·W) -> three (B, heads, L, 64); sizes from constants, never from traced shapes.
        qkv = self.qkv(x).reshape(x.shape[0], -1, 3, self.heads, HEAD_WIDTH).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attention = (q * HEAD_WIDTH ** -0.5) @ k.transpose(-2, -1)
        out = attention.softmax(dim=-1) @ v
        return self.proj(out.transpose(1, 2).flatten(2))


class MLP(nn.Module):
    def __init__(self, width: int, conv):
        super().__init__()
        self.fc1 = conv.linear(width, MLP_RATIO * width, bias=True)
        self.fc2 = conv.linear(MLP_RATIO * width, width, bias=True)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm: x + attention(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, width: int, conv):
        super().__init__()
        self.norm1, self.attention = nn.LayerNorm(width), SelfAttention(width, conv)
        self.norm2, self.mlp = nn.LayerNorm(width), MLP(width, conv)

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(TappedNetwork):
    def __init__(self, depth: int, width: int, num_classes: int = 10, conv=dense_conv, in_channels: int = 3,
                 image_size: int = 32):
        super().__init__()
        if depth < 1:
            raise ConfigError(f"ViT depth must be >= 1, but got depth={depth}")
        if width < HEAD_WIDTH or width % HEAD_WIDTH:
            raise ConfigError(f"ViT width must be a positive multiple of {HEAD_WIDTH} (heads of {HEAD_WIDTH}), "
                              f"but got width={width}")
        if image_size < PATCH or image_size % PATCH:
            raise ConfigError(f"ViT image_size must be a positive multiple of the patch size {PATCH}, "
                              f"but got image_size={image_size}")
        tokens = (image_size // PATCH) ** 2
        self.patch_embedding = nn.Conv2d(in_channels, width, PATCH, stride=PATCH)
        self.position = nn.Parameter(torch.empty(1, tokens, width))
        nn.init.trunc_normal_(self.position, std=0.02)
        self.blocks = nn.Sequential(*(Block(width, conv) for _ in range(depth)))
        self.tapped_blocks = tuple(math.ceil(stage * depth / 3) - 1 for stage in (1, 2, 3))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_classes)
        nn.init.zeros_(self.head.bias)

    def forward_tapped(self, x):
        x = self.patch_embedding(x).flatten(2).transpose(1, 2) + self.position
        taps = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            # (batch, tokens, width) as (batch, channels, positions): the width is the tokens' channels.
            taps += [x.transpose(1, 2)] * self.tapped_blocks.count(index)
        return self.head(self.norm(x).mean(dim=1)), taps


def _input_rule(input_size: tuple):
    _, height, width = input_size
    if height == width and height % PATCH == 0:
        return None
    examples = sizes_near(input_size, PATCH, square=True)
    return f"square images whose side is a multiple of its patch size {PATCH} (e.g. {examples})"


register_model(implemented(
    "vit-6-256",
    build=VisionTransformer,
    input_size=(3, 32, 32),
    num_classes=10,
    input_rule=_input_rule,
    image_size_option="image_size",  # one position embedding per patch: the input's side sizes it
))
