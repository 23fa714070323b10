"""Tucker 1×1: depthwise k×k (only if k > 1), then a 1×1 whose weight is a Tucker tensor.

Kim et al., "Compression of Deep Convolutional Neural Networks for Fast and Low
Power Mobile Applications", ICLR 2016. REFERENCE §1.8.

The (C_o, C_i) weight matrix, flattened row-major, is viewed as a 3-way tensor
(d1, d2, d3) (:func:`dimensionize`) held as a dense core G (t1, t2, t3) and factor
matrices U_j (d_j, t_j), t_j = max(1, round(h·d_j)). Parameters of the 1×1:

    Σ_j d_j·t_j + t1·t2·t3          (+ C_i·k² for the depthwise conv when k > 1)

This is textbook Tucker. The original (tntorch's "TT-Tucker") stored the core as
a TT with untruncated first bond and so had more parameters (e.g. 160→160 at
h = 0.25: 2,490 against 1,046 here); reproducing that is a compatibility
mode's job, not this layer's.
"""

import math

import torch
from torch import nn

from ._blocks import ReconstructedConv, depthwise_then
from ._registry import Hyperparameter, Substitute, register_substitute
from ._tensor_shapes import dimensionize, tucker_ranks


class TuckerPointwise(ReconstructedConv):
    """1×1 conv whose (C_o, C_i) weight is ``core`` ×_1 U_1 ×_2 U_2 ×_3 U_3, reshaped row-major."""

    def __init__(self, in_channels, out_channels, rank_scale, stride=1, padding=0, dilation=1, bias=False):
        super().__init__(in_channels, out_channels, 1, stride, padding, dilation, bias)
        self.shape = dimensionize(out_channels, in_channels)
        self.ranks = tucker_ranks(self.shape, rank_scale)
        self.core = nn.Parameter(torch.empty(self.ranks))
        self.factors = nn.ParameterList(nn.Parameter(torch.empty(d, t)) for d, t in zip(self.shape, self.ranks))
        # An entry sums t1·t2·t3 products of one core and three factor entries, so its
        # variance is t1·t2·t3·σ_G²σ1²σ2²σ3²; equal σ for all four make it 2/C_o.
        std = (2.0 / (out_channels * math.prod(self.ranks))) ** (1.0 / (2 * (1 + len(self.factors))))
        for tensor in (self.core, *self.factors):
            nn.init.normal_(tensor, std=std)
        self.calibrate_(self.core)

    def reconstruct_weight(self) -> torch.Tensor:
        tensor = torch.einsum("abc,ia,jb,kc->ijk", self.core, *self.factors)
        return tensor.reshape(self.weight_shape)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, shape={self.shape}, ranks={self.ranks}"


def tucker_conv(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=False, *, rank_scale):
    def pointwise(c_in, c_out, stride, padding, dilation, bias):
        return TuckerPointwise(c_in, c_out, rank_scale, stride, padding, dilation, bias)

    return depthwise_then(pointwise, in_channels, out_channels, kernel_size, stride, padding, dilation, bias)


register_substitute(Substitute(
    name="tucker",
    build=tucker_conv,
    hyperparameter=Hyperparameter("rank_scale", float, 0.0, 1.0, grows=True, low_open=True,
                                  doc="Tucker ranks t_j = max(1, round(h·d_j))"),
    original_name="Tucker",
    summary="depthwise k×k + 1×1 whose weight is a Tucker core with three factor matrices",
    paper="Kim et al., Compression of Deep Convolutional Neural Networks for Fast and Low Power "
          "Mobile Applications, ICLR 2016",
    compressed_types=(TuckerPointwise,),
    sizes=lambda c_in, c_out, kernel, rank_scale: tucker_ranks(dimensionize(c_out, c_in), rank_scale),
))
