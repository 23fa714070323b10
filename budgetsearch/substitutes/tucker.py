"""Tucker 1×1: depthwise k×k (only if k > 1), then a 1×1 whose weight is a Tucker tensor.

Kim et al., "Compression of Deep Convolutional Neural Networks for Fast and Low
Power Mobile Applications", ICLR 2016.

The (C_o, C_i) weight matrix, flattened row-major, is viewed as a 3-way tensor
(d1, d2, d3) (:func:`dimensionize`) held as a dense core G (t1, t2, t3) and factor
matrices U_j (d_j, t_j), t_j = max(1, round(h·d_j)). Parameters of the 1×1:

    Σ_j d_j·t_j + t1·t2·t3          (+ C_i·k² for the depthwise conv when k > 1)

This is textbook Tucker. The original (tntorch's "TT-Tucker") stored the core as
a TT with untruncated first bond and so had more parameters (e.g. 160→160 at
h = 0.25: 2,490 against 1,046 here); reproducing that is a compatibility
mode's job, not this layer's.

Option for the compatibility mode (``budgetsearch.compat``): ``quirks=True``
stores the core as the original did, as a 3-core tensor train with ranks
r2' = min(min(d1·d2, d3), t3) and r1' = min(min(d1, d2·d3), t2·r2'), cores
(1, t1, r1'), (r1', t2, r2'), (r2', t3, 1): parameters
Σ_j d_j·t_j + t1·r1' + r1'·t2·r2' + r2'·t3.
"""

import functools
import math

import torch
from torch import nn

from ._blocks import ReconstructedConv, depthwise_then, depthwise_then_params, pointwise_linear
from ._registry import implemented, register_substitute
from ._tensor_shapes import dimensionize, tucker_ranks


class TuckerPointwise(ReconstructedConv):
    """1×1 conv whose (C_o, C_i) weight is ``core`` ×_1 U_1 ×_2 U_2 ×_3 U_3, reshaped row-major."""

    def __init__(self, in_channels, out_channels, rank_scale, stride=1, padding=0, dilation=1, bias=False,
                 quirks=False):
        super().__init__(in_channels, out_channels, 1, stride, padding, dilation, bias)
        self.shape = dimensionize(out_channels, in_channels)
        self.ranks = tucker_ranks(self.shape, rank_scale)
        self.factors = nn.ParameterList(nn.Parameter(torch.empty(d, t)) for d, t in zip(self.shape, self.ranks))
        if quirks:
            (d1, d2, d3), (t1, t2, t3) = self.shape, self.ranks
            r2 = min(d1 * d2, d3, t3)
            r1 = min(d1, d2 * d3, t2 * r2)
            self.core = None
            self.core_cores = nn.ParameterList(nn.Parameter(torch.empty(*shape))
                                               for shape in ((1, t1, r1), (r1, t2, r2), (r2, t3, 1)))
            core_tensors, inner = tuple(self.core_cores), r1 * r2
        else:
            self.core = nn.Parameter(torch.empty(self.ranks))
            core_tensors, inner = (self.core,), 1
        # An entry sums t1·t2·t3·(inner TT bonds) products of one entry of each tensor, so
        # its variance is that count times the product of their σ²; equal σ make it 2/C_o.
        tensors = (*core_tensors, *self.factors)
        std = (2.0 / (out_channels * math.prod(self.ranks) * inner)) ** (1.0 / (2 * len(tensors)))
        for tensor in tensors:
            nn.init.normal_(tensor, std=std)
        self.calibrate_(core_tensors[0])

    def core_tensor(self) -> torch.Tensor:
        if self.core is not None:
            return self.core
        return torch.einsum("xia,ajb,bky->ijk", *self.core_cores)

    def reconstruct_weight(self) -> torch.Tensor:
        tensor = torch.einsum("abc,ia,jb,kc->ijk", self.core_tensor(), *self.factors)
        return tensor.reshape(self.weight_shape)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, shape={self.shape}, ranks={self.ranks}"


def tucker_conv(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=False, *, rank_scale,
                quirks=False):
    pointwise = functools.partial(TuckerPointwise, rank_scale=rank_scale, quirks=quirks)
    return depthwise_then(pointwise, in_channels, out_channels, kernel_size, stride, padding, dilation, bias)


def tucker_linear(in_features, out_features, bias=True, *, rank_scale):
    pointwise = functools.partial(TuckerPointwise, rank_scale=rank_scale)
    return pointwise_linear(pointwise, in_features, out_features, bias)


def tucker_params(in_channels, out_channels, kernel_size, bias, ranks) -> int:
    """``Σ_j d_j·t_j + t1·t2·t3`` (+ the depthwise conv and bias); the compatibility mode's core is built, not this."""
    factors = sum(d * t for d, t in zip(dimensionize(out_channels, in_channels), ranks))
    return depthwise_then_params(in_channels, out_channels, kernel_size, bias, factors + math.prod(ranks))


register_substitute(implemented(
    "tucker",
    build=tucker_conv,
    compressed_types=(TuckerPointwise,),
    sizes=lambda c_in, c_out, kernel, rank_scale: tucker_ranks(dimensionize(c_out, c_in), rank_scale),
    linear=tucker_linear,
    params=tucker_params,
))
