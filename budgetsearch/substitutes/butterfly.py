"""Butterfly: products of log₂n sparse butterfly factors, stacked to reach d_out.

Dao et al., "Learning Fast Algorithms for Linear Transforms Using Butterfly
Factorizations", ICML 2019; laid out as HazyResearch's ``torch_butterfly.Butterfly``
(real, increasing stride first, ``nblocks`` = ``factors``). n is the next power of
two ≥ d_in (at least 2: one feature still gets one butterfly stage), the input is
zero-padded to n, ``nstacks`` = ⌈d_out/n⌉ independent butterflies run side by
side and the output is cropped to d_out. The twiddles have shape
(nstacks, factors, log₂n, n/2, 2, 2): 2·nstacks·factors·n·log₂n parameters
(+ d_out for a bias); the forward costs as many mult-adds per row (one einsum per
stage: two mult-adds per output).

Capping: a setting builds min(factors, F_max) blocks, F_max the most whose
parameters stay at or below the dense layer's d_in·d_out (at least 1), so no
setting spends more parameters than the layer it replaces.
"""

import math

import torch
from torch import nn

from ._features_last import FeaturesLastLinear, check_features, check_size, conv_form
from ._registry import Hyperparameter, Substitute, register_substitute


def butterfly_size(in_features: int) -> int:
    """n: the next power of two ≥ d_in, at least 2."""
    return max(2, 1 << (in_features - 1).bit_length())


def butterfly_stacks(in_features: int, out_features: int) -> int:
    return math.ceil(out_features / butterfly_size(in_features))


def butterfly_params_per_factor(in_features: int, out_features: int) -> int:
    n = butterfly_size(in_features)
    return 2 * butterfly_stacks(in_features, out_features) * n * (n.bit_length() - 1)


def butterfly_factors(in_features: int, out_features: int, factors: int) -> int:
    """The number of butterfly blocks a setting builds: capped at dense's parameter count, at least 1."""
    check_features(in_features, out_features)
    check_size("factors", factors)
    most = in_features * out_features // butterfly_params_per_factor(in_features, out_features)
    return max(1, min(factors, most))


class ButterflyLinear(FeaturesLastLinear):
    def __init__(self, in_features, out_features, bias=True, *, factors):
        super().__init__(in_features, out_features, bias)
        self.factors = butterfly_factors(in_features, out_features, factors)
        self.n = butterfly_size(in_features)
        self.nstacks = butterfly_stacks(in_features, out_features)
        self.log_n = self.n.bit_length() - 1
        self.twiddle = nn.Parameter(torch.empty(self.nstacks, self.factors, self.log_n, self.n // 2, 2, 2))
        self.reset_parameters()

    def reset_parameters(self):
        """torch_butterfly's "ortho" init: every 2×2 a random rotation, so each butterfly keeps the norm.

        (Its "randn" init is right only in expectation: a product of 2·log₂n random 2×2 maps swings by
        an order of magnitude from draw to draw.) The padded input carries d_in/n of the variance; the
        last stage restores it and adds the He gain, Var(y) = 2·d_in/d_out as a dense layer under He fan-out.
        """
        if self.twiddle.is_meta:
            return
        with torch.no_grad():
            angle = torch.rand(self.twiddle.shape[:-2], device=self.twiddle.device) * (2 * math.pi)
            cos, sin = torch.cos(angle), torch.sin(angle)
            self.twiddle.copy_(torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2))
            self.twiddle[:, -1, -1].mul_(math.sqrt(2.0 * self.n / self.out_features))

    def mix(self, x):
        n, stacks = self.n, self.nstacks
        if n > self.in_features:
            x = nn.functional.pad(x, (0, n - self.in_features))
        # Features first, (stacks, n, N), so that each stage is one batched matmul of 2×2 twiddles.
        x = x.t().unsqueeze(0).expand(stacks, n, -1)
        increasing = True
        for block in range(self.factors):
            for stage in range(self.log_n):
                stride = 1 << (stage if increasing else self.log_n - 1 - stage)
                groups = n // (2 * stride)
                # Features j and j + stride of each group of 2·stride mix by their own 2×2 twiddle.
                twiddle = self.twiddle[:, block, stage].reshape(stacks, groups, stride, 2, 2)
                x = x.reshape(stacks, groups, 2, stride, -1).transpose(2, 3)
                x = torch.matmul(twiddle, x).transpose(2, 3).reshape(stacks, n, -1)
            increasing = not increasing
        return x.permute(2, 0, 1).reshape(-1, stacks * n)[:, :self.out_features]

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, factors={self.factors}, n={self.n}, nstacks={self.nstacks}"


register_substitute(Substitute(
    name="butterfly",
    build=conv_form(ButterflyLinear),
    # butterfly blocks, capped where parameters would exceed dense's
    hyperparameter=Hyperparameter("factors", int, 1, 64, grows=True),
    original_name="Butterfly",
    summary="depthwise k×k + butterfly 1×1 (log₂n sparse factors per block, stacked to d_out)",
    paper="Dao et al., Learning Fast Algorithms for Linear Transforms Using Butterfly Factorizations, ICML 2019",
    compressed_types=(ButterflyLinear,),
    sizes=lambda c_in, c_out, kernel, factors: butterfly_factors(c_in, c_out, factors),
    linear=ButterflyLinear,
))
