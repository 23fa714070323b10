"""BLAST: a b×b grid of blocks that share left and right bases and differ by a diagonal.

Lee et al., "BLAST: Block-Level Adaptive Structured Matrices for Efficient Deep
Neural Network Inference", NeurIPS 2024. W (d_out × d_in) is cut into b×b blocks
of p×q, p = d_out/b and q = d_in/b; block (i, j) is U_i·diag(s_ij)·V_jᵀ, the left
basis U_i (p×r) shared along block row i, the right basis V_j (q×r) along block
column j, and the coupling s_ij ∈ Rʳ the block's own: r·(d_out + d_in + b²)
parameters (+ d_out for a bias). The forward runs as the authors' reference does,
never forming W: V_jᵀ·x_j for every j (one bmm, r·d_in mult-adds per row), the
couplings z_i = Σ_j s_ij ⊙ V_jᵀ·x_j (one einsum, r·b²), then U_i·z_i (one bmm,
r·d_out): as many mult-adds per row as parameters.

Decisions: the block count is fixed per layer, not searched: the largest common
divisor of d_in and d_out at most 4 (the reference's default block count). The
reference requires b to divide both widths; rather than pad, widths that 4 does
not divide take fewer blocks, as BTT takes the divisors a width has, down to
b = 1 (one low-rank product with a diagonal) for coprime widths. A setting builds
min(r, r_max), r_max the largest rank whose parameters stay at or below the dense
layer's d_in·d_out (at least 1); that is below min(d_in, d_out), the rank at which
BLAST holds every matrix (:class:`BlastLinear` itself builds any rank it is given).
"""

import math

import torch
from torch import nn

from ..errors import ConfigError
from ._features_last import FeaturesLastLinear, check_features, check_size, conv_form
from ._registry import implemented, register_substitute

# The reference's default block count (4×4 blocks).
DEFAULT_BLOCKS = 4


def blast_blocks(in_features: int, out_features: int, most: int = DEFAULT_BLOCKS) -> int:
    """The block count a layer builds: the largest common divisor of both widths, at most ``most``."""
    return max(b for b in range(1, most + 1) if in_features % b == 0 and out_features % b == 0)


def blast_rank(in_features: int, out_features: int, rank: int) -> int:
    """The rank a setting builds: capped at dense's parameter count, at least 1."""
    check_features(in_features, out_features)
    check_size("rank", rank)
    blocks = blast_blocks(in_features, out_features)
    return max(1, min(rank, in_features * out_features // (in_features + out_features + blocks * blocks)))


class BlastLinear(FeaturesLastLinear):
    """Exactly ``rank`` and ``blocks`` (default: :func:`blast_blocks`); the registered substitute caps the rank."""

    def __init__(self, in_features, out_features, bias=True, *, rank, blocks=None):
        super().__init__(in_features, out_features, bias)
        self.rank = check_size("rank", rank)
        self.blocks = blast_blocks(in_features, out_features) if blocks is None else check_size("blocks", blocks)
        if in_features % self.blocks or out_features % self.blocks:
            raise ConfigError(f"blocks must divide both in_features={in_features} and "
                              f"out_features={out_features}, but got blocks={self.blocks}")
        b, p, q = self.blocks, out_features // self.blocks, in_features // self.blocks
        self.left = nn.Parameter(torch.empty(b, p, self.rank))  # U_i = left[i]
        self.right = nn.Parameter(torch.empty(b, q, self.rank))  # V_j = right[j]
        self.coupling = nn.Parameter(torch.empty(b, b, self.rank))  # s_ij = coupling[i, j]
        # V_jᵀ·x_j keeps unit variance, and so does the sum of b coupled blocks; U_i carries the He gain.
        nn.init.normal_(self.right, std=math.sqrt(1.0 / q))
        nn.init.normal_(self.coupling, std=math.sqrt(1.0 / b))
        nn.init.normal_(self.left, std=math.sqrt(2.0 * in_features / (out_features * self.rank)))
        # A product of three random factors, the couplings only b²·r numbers, has a realised variance that
        # swings 2x either way at small ranks: one rescale pins ‖W‖² to He's 2·d_in (meta has no numbers).
        if not self.left.is_meta:
            with torch.no_grad():
                self.left.mul_(math.sqrt(2.0 * in_features / self.dense_weight().square().sum().item()))

    def dense_weight(self) -> torch.Tensor:
        """W, block (i, j) = U_i·diag(s_ij)·V_jᵀ: for initialisation and inspection, never in the forward."""
        weight = torch.einsum("ipr,ijr,jqr->ipjq", self.left, self.coupling, self.right)
        return weight.reshape(self.out_features, self.in_features)

    def mix(self, x):
        # Sizes are plain ints, not read off traced tensors: size arithmetic would show up in the count.
        b, q = self.blocks, self.in_features // self.blocks
        x = torch.bmm(x.reshape(-1, b, q).transpose(0, 1), self.right)  # (b, N, r): V_jᵀ·x_j
        x = torch.einsum("jnr,ijr->inr", x, self.coupling)  # (b, N, r): Σ_j s_ij ⊙ V_jᵀ·x_j
        x = torch.bmm(x, self.left.transpose(1, 2))  # (b, N, p): U_i·z_i
        return x.transpose(0, 1).reshape(-1, self.out_features)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, rank={self.rank}, blocks={self.blocks}"


def blast_linear(in_features, out_features, bias=True, *, rank) -> BlastLinear:
    """BLAST at the rank a setting builds (:func:`blast_rank`)."""
    return BlastLinear(in_features, out_features, bias, rank=blast_rank(in_features, out_features, rank))


register_substitute(implemented(
    "blast",
    build=conv_form(blast_linear),
    compressed_types=(BlastLinear,),
    sizes=lambda c_in, c_out, kernel, rank: blast_rank(c_in, c_out, rank),
    linear=blast_linear,
))
