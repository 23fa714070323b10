"""DARTS-V2: the CIFAR-10 network found by differentiable architecture search.

Liu, Simonyan & Yang, "DARTS: Differentiable Architecture Search", ICLR 2019
(the evaluation network: 36 initial channels, 20 cells, reductions at cells 6
and 13, auxiliary head after cell 13, drop-path).

Substitution points, built by the conv factory: both convs of every SepConv,
the conv of every DilConv (dilation 2), the 1×1 of every ReLUConvBN and both
strided 1×1s of every FactorizedReduce. With the ``separable`` factory this is
exactly the published network (a SepConv's "conv" is then depthwise + 1×1), so
DARTS's reference substitute is ``separable``: compression is relative to it,
and ``dense`` here means a full k×k conv at every substitution point. Dense:
the stem, every BN, max pooling, the auxiliary head and the classifier.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Optional

import torch
from torch import nn

from ..errors import ConfigError
from ._capabilities import AuxiliaryOutput, TappedNetwork
from ._families import implemented, register_model
from ._size_check import sizes_near

Genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")

DARTS_V2 = Genotype(
    normal=[("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
            ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)],
    reduce_concat=[2, 3, 4, 5],
)


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in, c_out, kernel, stride, padding, conv):
        super().__init__(nn.ReLU(), conv(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
                         nn.BatchNorm2d(c_out))


class SepConv(nn.Sequential):
    def __init__(self, c_in, c_out, kernel, stride, padding, conv):
        super().__init__(nn.ReLU(), conv(c_in, c_in, kernel, stride=stride, padding=padding, bias=False),
                         nn.BatchNorm2d(c_in), nn.ReLU(),
                         conv(c_in, c_out, kernel, stride=1, padding=padding, bias=False), nn.BatchNorm2d(c_out))


class DilConv(nn.Sequential):
    def __init__(self, c_in, c_out, kernel, stride, padding, dilation, conv):
        super().__init__(nn.ReLU(), conv(c_in, c_out, kernel, stride=stride, padding=padding, dilation=dilation,
                                         bias=False), nn.BatchNorm2d(c_out))


class FactorizedReduce(nn.Module):
    """Halve the resolution with two strided 1×1s on offset grids, concatenated."""

    def __init__(self, c_in, c_out, conv):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_1 = conv(c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.conv_2 = conv(c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x):
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


def operation(name: str, channels: int, stride: int, conv) -> nn.Module:
    if name == "sep_conv_3x3":
        return SepConv(channels, channels, 3, stride, 1, conv)
    if name == "dil_conv_3x3":
        return DilConv(channels, channels, 3, stride, 2, 2, conv)
    if name == "max_pool_3x3":
        return nn.MaxPool2d(3, stride=stride, padding=1)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(channels, channels, conv)
    raise ValueError(f"operation {name!r} is not in the DARTS-V2 genotype")


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero whole examples' paths with probability ``drop_prob``, rescaling the kept ones."""
    keep = 1.0 - drop_prob
    mask = torch.empty(x.size(0), 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x / keep * mask


class Cell(nn.Module):
    def __init__(self, genotype, c_prev_prev, c_prev, channels, reduction, reduction_prev, conv):
        super().__init__()
        self.reduction = reduction
        if reduction_prev:
            self.preprocess0 = FactorizedReduce(c_prev_prev, channels, conv)
        else:
            self.preprocess0 = ReLUConvBN(c_prev_prev, channels, 1, 1, 0, conv)
        self.preprocess1 = ReLUConvBN(c_prev, channels, 1, 1, 0, conv)
        names, indices = zip(*(genotype.reduce if reduction else genotype.normal))
        self.concat = genotype.reduce_concat if reduction else genotype.normal_concat
        self.multiplier = len(self.concat)
        self.indices = indices
        self.ops = nn.ModuleList(operation(name, channels, 2 if reduction and index < 2 else 1, conv)
                                 for name, index in zip(names, indices))

    def forward(self, s0, s1, drop_prob: float):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for step in range(len(self.ops) // 2):
            total = 0
            for j in (2 * step, 2 * step + 1):
                h = self.ops[j](states[self.indices[j]])
                if self.training and drop_prob > 0 and not isinstance(self.ops[j], nn.Identity):
                    h = drop_path(h, drop_prob)
                total = total + h
            states.append(total)
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuxiliaryHead(nn.Module):
    """The auxiliary classifier on the 8×8 output of cell 2·layers//3 (dense)."""

    # Its 5×5 pooling (stride 3) then 2×2 conv leave the 1×1 its classifier reads from 8×8 to 10×10
    # (32×32 inputs give 8×8).
    min_size, max_size = 8, 10

    def __init__(self, channels, num_classes):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(), nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(channels, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
            nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x):
        height, width = x.shape[-2:]
        if min(height, width) < self.min_size or max(height, width) > self.max_size:
            size = f"at least {self.min_size}×{self.min_size} and at most {self.max_size}×{self.max_size}"
            raise ConfigError(f"the DARTS auxiliary head needs a feature map of {size} where it "
                              f"branches off (32×32 inputs give 8×8), but got {height}×{width}; "
                              f"train DARTS on 32×32 images such as CIFAR's")
        return self.classifier(self.features(x).flatten(1))


class DARTS(TappedNetwork):
    """DARTS-V2 for 32×32 inputs.

    ``forward(x)`` returns the logits. In training mode with the auxiliary head
    (``auxiliary=True``, the default) it returns an :class:`AuxiliaryOutput`
    ``(logits, auxiliary)`` instead, and declares (see :class:`ModelCapabilities`)
    the head's loss weight, 0.4 in the DARTS recipe, and the head as training-only:
    in eval mode it never runs, and counting leaves its parameters out.
    ``forward(x, return_attention=True)`` returns ``(output, maps)`` with the
    attention maps of the two cell outputs that feed the reduction cells.
    ``drop_path_prob`` is declared too: the DARTS recipe raises it linearly from
    0 to 0.2 over training; drop-path only acts in training mode.
    """

    def __init__(self, channels: int = 36, layers: int = 20, num_classes: int = 10, conv=None,
                 genotype: Genotype = DARTS_V2, auxiliary: bool = True, drop_path_prob: float = 0.2,
                 in_channels: int = 3):
        super().__init__()
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ConfigError(f"DARTS channels must be an int >= 1, but got channels={channels!r}")
        if isinstance(layers, bool) or not isinstance(layers, int) or layers < 2:
            # Its two reduction cells, layers//3 and 2·layers//3, are one cell for fewer.
            raise ConfigError(f"DARTS layers must be an int >= 2 (two reduction cells), but got layers={layers!r}")
        if conv is None:
            from ..substitutes.separable import separable_conv as conv
        self.drop_path_prob = drop_path_prob
        self.auxiliary_index = 2 * layers // 3
        stem_channels = 3 * channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, stem_channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(stem_channels))
        c_prev_prev, c_prev, c_curr = stem_channels, stem_channels, channels
        self.cells = nn.ModuleList()
        reduction_prev, c_auxiliary = False, None
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_curr *= 2
            cell = Cell(genotype, c_prev_prev, c_prev, c_curr, reduction, reduction_prev, conv)
            self.cells.append(cell)
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, cell.multiplier * c_curr
            if i == self.auxiliary_index:
                c_auxiliary = c_prev
        self.auxiliary_head: Optional[AuxiliaryHead] = AuxiliaryHead(c_auxiliary, num_classes) if auxiliary else None
        self.auxiliary_weight = 0.4 if auxiliary else 0.0
        self.training_only_modules = ("auxiliary_head",) if auxiliary else ()
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward_tapped(self, x):
        s0 = s1 = self.stem(x)
        taps, auxiliary = [], None
        for i, cell in enumerate(self.cells):
            if cell.reduction:
                taps.append(s1)  # the output of the cell that feeds this reduction cell
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self.auxiliary_index and self.auxiliary_head is not None and self.training:
                auxiliary = self.auxiliary_head(s1)
        logits = self.classifier(self.global_pooling(s1).flatten(1))
        return (logits if auxiliary is None else AuxiliaryOutput(logits, auxiliary)), taps


def _input_rule(input_size: tuple):
    if all(side % 4 == 0 for side in input_size[1:]):
        return None
    return f"sides that are multiples of 4, which its two reduction cells halve (e.g. {sizes_near(input_size, 4)})"


register_model(implemented(
    "darts",
    build=DARTS,
    input_size=(3, 32, 32),
    num_classes=10,
    reference="separable",
    input_rule=_input_rule,
))
