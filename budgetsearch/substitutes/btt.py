"""Block Tensor-Train (BTT): two cores whose product is a matrix of rank-r blocks.

Qiu et al., "Compute Better Spent: Replacing Dense Layers with Structured
Matrices", ICML 2024, and Potapczynski et al., "Searching for Efficient Linear
Layers over a Continuous Space of Structured Matrices", NeurIPS 2024: the
two-core BTT. d_in = m₀·m₁ and d_out = n₀·n₁ with m₀, n₀ the largest divisors not
above the square roots; the cores have shapes (m₁, m₀, r·n₀) and (n₀, r·m₁, n₁), so
r·m₁·n₀·(m₀ + n₁) parameters (+ d_out for a bias), and the forward (two bmm)
costs as many mult-adds per row. Block (n₀, m₁) of W, of size n₁×m₀, is a sum of
r outer products.

Decisions: a prime d (m₀ = 1) is not padded, as the definition says. A setting
builds min(r, r_max), r_max the largest rank whose parameters stay at or below
the dense layer's d_in·d_out (at least 1); that is below the blocks' full rank
min(m₀, n₁).
"""

import math

import torch
from torch import nn

from ._features_last import FeaturesLastLinear, check_features, check_size, conv_form
from ._registry import implemented, register_substitute
from .kronecker import divisor_split


def btt_rank(in_features: int, out_features: int, rank: int) -> int:
    """The rank a setting builds: capped at dense's parameter count, at least 1."""
    check_features(in_features, out_features)
    check_size("rank", rank)
    (m0, m1), (n0, n1) = divisor_split(in_features), divisor_split(out_features)
    return max(1, min(rank, in_features * out_features // (m1 * n0 * (m0 + n1))))


class BlockTensorTrainLinear(FeaturesLastLinear):
    def __init__(self, in_features, out_features, bias=True, *, rank):
        super().__init__(in_features, out_features, bias)
        self.rank = btt_rank(in_features, out_features, rank)
        (self.m0, self.m1), (self.n0, self.n1) = divisor_split(in_features), divisor_split(out_features)
        self.core1 = nn.Parameter(torch.empty(self.m1, self.m0, self.rank * self.n0))
        self.core2 = nn.Parameter(torch.empty(self.n0, self.rank * self.m1, self.n1))
        # The first core keeps unit variance; the second sums r·m₁ of its outputs and carries the He gain.
        nn.init.normal_(self.core1, std=math.sqrt(1.0 / self.m0))
        nn.init.normal_(self.core2, std=math.sqrt(2.0 * in_features / (out_features * self.rank * self.m1)))

    def mix(self, x):
        # Sizes are plain ints, not read off traced tensors: size arithmetic would show up in the count.
        m0, m1, n0, n1, rank = self.m0, self.m1, self.n0, self.n1, self.rank
        x = torch.bmm(x.reshape(-1, m1, m0).transpose(0, 1), self.core1)  # (m₁, N, r·n₀)
        x = x.reshape(m1, -1, rank, n0).permute(3, 1, 2, 0).reshape(n0, -1, rank * m1)
        x = torch.bmm(x, self.core2)  # (n₀, N, n₁)
        return x.transpose(0, 1).reshape(-1, n0 * n1)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, rank={self.rank}, cores={tuple(self.core1.shape)}, {tuple(self.core2.shape)}"


register_substitute(implemented(
    "btt",
    build=conv_form(BlockTensorTrainLinear),
    compressed_types=(BlockTensorTrainLinear,),
    sizes=lambda c_in, c_out, kernel, rank: btt_rank(c_in, c_out, rank),
    linear=BlockTensorTrainLinear,
))
