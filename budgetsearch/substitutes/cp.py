"""CP 1×1: depthwise k×k (only if k > 1), then a 1×1 whose weight is a CP (rank-R) tensor.

Lebedev et al., "Speeding-up Convolutional Neural Networks Using Fine-tuned
CP-Decomposition", ICLR 2015.

The (C_o, C_i) weight matrix, flattened row-major, is viewed as a 3-way tensor
(d1, d2, d3) (:func:`dimensionize`) held as a sum of R rank-one terms, factor
matrices A (d1, R), B (d2, R), C (d3, R). Parameters of the 1×1:

    R·(d1 + d2 + d3)                (+ C_i·k² for the depthwise conv when k > 1)

Rank rule (a decision, not the original's): R = max(1, round(h·C_o·C_i / Σ d_j)),
so h is about the fraction of the dense 1×1's parameters kept and h = 1 costs
about a dense 1×1. The original used R = round(h·min(d_j)), which stays under a
tenth of the dense count even at h = 1 (160→160: 2,225 of 25,600) and was
deprecated at HEAD.
"""

import functools

import torch
from torch import nn

from ._blocks import ReconstructedConv, depthwise_then, depthwise_then_params, pointwise_linear
from ._registry import implemented, register_substitute
from ._tensor_shapes import cp_rank, dimensionize


class CPPointwise(ReconstructedConv):
    """1×1 conv whose (C_o, C_i) weight is Σ_r a_r ⊗ b_r ⊗ c_r, reshaped row-major."""

    def __init__(self, in_channels, out_channels, rank_scale, stride=1, padding=0, dilation=1, bias=False):
        super().__init__(in_channels, out_channels, 1, stride, padding, dilation, bias)
        self.shape = dimensionize(out_channels, in_channels)
        self.rank = cp_rank(self.shape, rank_scale)
        self.factors = nn.ParameterList(nn.Parameter(torch.empty(d, self.rank)) for d in self.shape)
        # An entry sums R products of three factor entries, so its variance is
        # R·σ_A²σ_B²σ_C²; equal σ per factor make it the He fan-out 2/C_o.
        std = (2.0 / (out_channels * self.rank)) ** (1.0 / (2 * len(self.factors)))
        for factor in self.factors:
            nn.init.normal_(factor, std=std)
        self.calibrate_(self.factors[0])

    def reconstruct_weight(self) -> torch.Tensor:
        tensor = torch.einsum("ir,jr,kr->ijk", *self.factors)
        return tensor.reshape(self.weight_shape)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, shape={self.shape}, rank={self.rank}"


def cp_conv(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=False, *, rank_scale):
    pointwise = functools.partial(CPPointwise, rank_scale=rank_scale)
    return depthwise_then(pointwise, in_channels, out_channels, kernel_size, stride, padding, dilation, bias)


def cp_linear(in_features, out_features, bias=True, *, rank_scale):
    pointwise = functools.partial(CPPointwise, rank_scale=rank_scale)
    return pointwise_linear(pointwise, in_features, out_features, bias)


register_substitute(implemented(
    "cp",
    build=cp_conv,
    compressed_types=(CPPointwise,),
    sizes=lambda c_in, c_out, kernel, rank_scale: cp_rank(dimensionize(c_out, c_in), rank_scale),
    linear=cp_linear,
    params=lambda c_in, c_out, kernel, bias, rank: depthwise_then_params(
        c_in, c_out, kernel, bias, rank * sum(dimensionize(c_out, c_in))),
))
