"""Tensor-train 1×1: depthwise k×k (only if k > 1), then a 1×1 whose weight is a TT tensor.

Novikov et al., "Tensorizing Neural Networks", NeurIPS 2015; for convolutions
Garipov et al., "Ultimate tensorization: compressing convolutional and FC
layers alike", 2016.

The (C_o, C_i) weight matrix, flattened row-major, is viewed as a 3-way tensor
(d1, d2, d3) (:func:`dimensionize`) held as three TT cores of shapes
(1, d1, r1), (r1, d2, r2), (r2, d3, 1), with r_j = max(1, round(h·min(d_j, d_{j+1})))
clipped to the full TT ranks. Parameters of the 1×1:

    d1·r1 + r1·d2·r2 + r2·d3          (+ C_i·k² for the depthwise conv when k > 1)

The weight is rebuilt from the cores on every training forward, so training
costs a dense 1×1; at inference it is rebuilt once (``reconstructed_once``).
"""

import functools
import math

import torch
from torch import nn

from ._blocks import ReconstructedConv, depthwise_then, depthwise_then_params, pointwise_linear
from ._registry import implemented, register_substitute
from ._tensor_shapes import dimensionize, tt_ranks


class TensorTrainPointwise(ReconstructedConv):
    """1×1 conv whose (C_o, C_i) weight is the TT tensor of ``cores``, reshaped row-major."""

    def __init__(self, in_channels, out_channels, rank_scale, stride=1, padding=0, dilation=1, bias=False):
        super().__init__(in_channels, out_channels, 1, stride, padding, dilation, bias)
        self.shape = dimensionize(out_channels, in_channels)
        self.ranks = tt_ranks(self.shape, rank_scale)
        bonds = (1, *self.ranks, 1)
        self.cores = nn.ParameterList(
            nn.Parameter(torch.empty(bonds[j], d, bonds[j + 1])) for j, d in enumerate(self.shape)
        )
        # An entry sums r1·r2 products of three core entries, so its variance is
        # r1·r2·σ1²σ2²σ3²; equal σ per core make it the He fan-out 2/C_o.
        std = (2.0 / (out_channels * math.prod(self.ranks))) ** (1.0 / (2 * len(self.cores)))
        for core in self.cores:
            nn.init.normal_(core, std=std)
        self.calibrate_(self.cores[0])

    def reconstruct_weight(self) -> torch.Tensor:
        first, middle, last = self.cores
        tensor = torch.einsum("xia,ajb,bky->ijk", first, middle, last)
        return tensor.reshape(self.weight_shape)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, shape={self.shape}, ranks={self.ranks}"


def tensor_train_conv(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=False, *,
                      rank_scale):
    pointwise = functools.partial(TensorTrainPointwise, rank_scale=rank_scale)
    return depthwise_then(pointwise, in_channels, out_channels, kernel_size, stride, padding, dilation, bias)


def tensor_train_linear(in_features, out_features, bias=True, *, rank_scale):
    pointwise = functools.partial(TensorTrainPointwise, rank_scale=rank_scale)
    return pointwise_linear(pointwise, in_features, out_features, bias)


def tensor_train_params(in_channels, out_channels, kernel_size, bias, ranks) -> int:
    """``d1·r1 + r1·d2·r2 + r2·d3`` (+ the depthwise conv and bias)."""
    bonds = (1, *ranks, 1)
    cores = sum(bonds[j] * d * bonds[j + 1] for j, d in enumerate(dimensionize(out_channels, in_channels)))
    return depthwise_then_params(in_channels, out_channels, kernel_size, bias, cores)


register_substitute(implemented(
    "tensor-train",
    build=tensor_train_conv,
    compressed_types=(TensorTrainPointwise,),
    sizes=lambda c_in, c_out, kernel, rank_scale: tt_ranks(dimensionize(c_out, c_in), rank_scale),
    linear=tensor_train_linear,
    params=tensor_train_params,
))
