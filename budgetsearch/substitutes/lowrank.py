"""Tied-transpose low-rank bottleneck: depthwise k×k, then y = Vᵀ(V·x).

The original study's ``LR_h``: one weight V of shape (r, c), c = max(C_i, C_o),
r = max(1, int(h·c)); the effective c×c matrix VᵀV is symmetric PSD.
Channels are matched as in the original: the input is tiled up to c channels
(channel j reads input channel j mod C_i) and, when C_i > C_o, adjacent output
channels are summed down to C_o. Both are folded into the two 1×1 weights
(parameter-only work, done once at inference), so what runs per image is
C_i→r→C_o. Params: [k>1]·C_i·k² + r·c.
"""


import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from ._blocks import (ReconstructedModule, check_geometry, depthwise_then, depthwise_then_params,
                      pointwise_linear)
from ._compat_counted import CompatCounted
from ._registry import implemented, register_substitute
from .generic import bottleneck_rank


def fold_channels(weight: torch.Tensor, groups: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    """Sum the slices of ``weight`` along ``dim`` that ``groups`` maps to the same one of ``size`` channels."""
    return torch.zeros(*weight.shape[:dim], size, *weight.shape[dim + 1:], dtype=weight.dtype,
                       device=weight.device).index_add(dim, groups, weight)


class TiedLowRank(ReconstructedModule, CompatCounted):
    """The 1×1: y = Vᵀ(V·x) on the c tiled channels.

    Under the compatibility mode it is counted as the original's count.py counted it:
    2·c·r·A_out (V, then Vᵀ, on the c tiled channels), whatever the folded weights run.
    """

    def __init__(self, in_channels, out_channels, rank, stride=1, padding=0, dilation=1, bias=False):
        super().__init__()
        _, self.stride, self.padding, self.dilation = check_geometry(in_channels, out_channels, 1, stride, padding, dilation)
        width = max(in_channels, out_channels)
        self.V = nn.Parameter(torch.empty(rank, width))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        # Tiled input channel j reads input j mod C_i; output j lands in adjacent block j·C_o // c.
        # Small index tables, computed on the CPU (cheaper than any device's kernels) and moved.
        with torch.device("cpu"):
            input_of, output_of = torch.arange(width) % in_channels, torch.arange(width) * out_channels // width
        self.register_buffer("input_of", input_of.to(self.V.device), persistent=False)
        self.register_buffer("output_of", output_of.to(self.V.device), persistent=False)
        self.in_channels, self.out_channels = in_channels, out_channels
        # For unit input, Var(y_o) ≈ r·m·(c + r)·σ⁴ with m = c/C_o outputs merged per channel:
        # r·m·c from the cross terms and r²·m from the diagonal of VᵀV. Solve for He's 2·C_i/C_o.
        merges = width / out_channels
        variance = 2.0 * in_channels / out_channels
        nn.init.normal_(self.V, std=(variance / (rank * merges * (width + rank))) ** 0.25)

    def reconstruct(self):
        contract = fold_channels(self.V, self.input_of, self.in_channels, dim=1)
        expand = fold_channels(self.V.t(), self.output_of, self.out_channels, dim=0)
        return contract[:, :, None, None], expand[:, :, None, None]

    def forward(self, x):
        contract, expand = self.reconstructed()
        x = F.conv2d(x, contract, None, self.stride, self.padding, self.dilation)
        return F.conv2d(x, expand, self.bias)

    def linear_maps(self) -> tuple:
        contract, expand = self.reconstructed()
        return ((contract.flatten(1), None), (expand.flatten(1), self.bias))

    def compat_mult_adds(self, input_shape: tuple, output_shape: tuple, layer_input_shape: tuple) -> float:
        rank, width = self.V.shape
        return output_shape[0] * 2 * width * rank * math.prod(output_shape[2:])


def tied_pointwise(in_channels, out_channels, rank_scale):
    return functools.partial(TiedLowRank, rank=bottleneck_rank(rank_scale, in_channels, out_channels))


def tied_low_rank(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=False, *, rank_scale):
    pointwise = tied_pointwise(in_channels, out_channels, rank_scale)
    return depthwise_then(pointwise, in_channels, out_channels, kernel_size, stride, padding, dilation, bias)


def tied_low_rank_linear(in_features, out_features, bias=True, *, rank_scale):
    return pointwise_linear(tied_pointwise(in_features, out_features, rank_scale), in_features, out_features, bias)


register_substitute(implemented(
    "lowrank",
    build=tied_low_rank,
    compressed_types=(TiedLowRank,),
    sizes=lambda c_in, c_out, kernel, rank_scale: bottleneck_rank(rank_scale, c_in, c_out),
    linear=tied_low_rank_linear,
    params=lambda c_in, c_out, kernel, bias, rank: depthwise_then_params(c_in, c_out, kernel, bias,
                                                                         rank * max(c_in, c_out)),
))
