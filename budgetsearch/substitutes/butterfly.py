"""Butterfly: products of log₂n sparse butterfly factors, stacked to reach d_out.

Dao et al., "Learning Fast Algorithms for Linear Transforms Using Butterfly
Factorizations", ICML 2019; laid out as HazyResearch's ``torch_butterfly.Butterfly``
(real, increasing stride first, ``nblocks`` = ``factors``). n is the next power of
two ≥ d_in (at least 2: one feature still gets one butterfly stage), the input is
zero-padded to n, ``nstacks`` = ⌈d_out/n⌉ independent butterflies run side by
side and the output is cropped to d_out. The twiddles have shape
(nstacks, factors, log₂n, n/2, 2, 2): 2·nstacks·factors·n·log₂n parameters
(+ d_out for a bias); the forward costs as many mult-adds per row (two mult-adds
per output of each stage).

The forward is memory-bound: a stage reads and writes every activation for two
mult-adds each. So it runs two stages at once, as one batched matmul of 4×4 blocks
(each the product of the two stages' 2×2 twiddles on a pair of feature bits: the
same 4·n mult-adds per row as the two stages), with no copy between them: the
features are kept first, ``(n·nstacks, N)``, and the bits being mixed are the most
significant of the current feature layout, so the matmul reads them with one
stride and writes them as the least significant. One copy per block reorders
the bits for the next block. The 4×4 blocks depend on the twiddles alone, so the
module is a :class:`~._blocks.ReconstructedModule`: built once per forward in
training, once at inference, and left out of the per-image count as every
rebuilt weight is. Large batches run in chunks of rows (the same products, so
the same count), which keeps every intermediate small (see ``CHUNK_ACTIVATIONS``).

Capping: a setting builds min(factors, F_max) blocks, F_max the most whose
parameters stay at or below the dense layer's d_in·d_out (at least 1), so no
setting spends more parameters than the layer it replaces.
"""

import math

import torch
from torch import nn

from ._blocks import ReconstructedModule
from ._features_last import FeaturesLastLinear, check_features, check_size, conv_form
from ._registry import implemented, register_substitute

# Rows run in chunks of at most this many padded activations (8 MiB in float32). Every stage writes a
# fresh tensor; a larger one is a fresh mapping from the OS on each stage (glibc maps blocks above
# 32 MiB directly), whose page faults cost several times the stage's arithmetic. Measured at the
# 160→160 WRN-28-10 site (32 768 rows, n = 256): 3× faster forward+backward in chunks than whole.
CHUNK_ACTIVATIONS = 1 << 21


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


class ButterflyLinear(FeaturesLastLinear, ReconstructedModule):
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

    def block_bits(self, block: int) -> list:
        """The feature bits a block's stages mix, in order: increasing stride first, then alternating."""
        bits = list(range(self.log_n))
        return bits if block % 2 == 0 else bits[::-1]

    def stage_twiddle(self, block: int, stage: int, others: list) -> torch.Tensor:
        """A stage's 2×2 twiddles, (2, …, 2, 2, 2) with one axis per digit of ``others`` in that order.

        A digit is a bit of the feature index (0 the least significant) or ``"s"``, the stack.
        """
        mixed = self.block_bits(block)[stage]
        digits = ["s"] + [bit for bit in reversed(range(self.log_n)) if bit != mixed]  # the twiddle's own order
        twiddle = self.twiddle[:, block, stage].reshape(self.nstacks, *[2] * (self.log_n - 1), 2, 2)
        return twiddle.permute(*[digits.index(d) for d in others], self.log_n, self.log_n + 1)

    def steps(self) -> list:
        """Per block, the groups of bits its matmuls mix (pairs, and a single bit if log₂n is odd)."""
        return [[bits[i:i + 2] for i in range(0, self.log_n, 2)] for bits in map(self.block_bits, range(self.factors))]

    def reconstruct(self) -> tuple:
        """For each matmul of :meth:`mix`, its blocks: (rows of the other digits, 2ᵇ, 2ᵇ) for b bits."""
        blocks = []
        for block, groups in enumerate(self.steps()):
            digits, stage = self.block_bits(block) + ["s"], 0
            for group in groups:
                rest = [d for d in digits if d not in group]
                if len(group) == 1:
                    blocks.append(self.stage_twiddle(block, stage, rest).reshape(-1, 2, 2))
                else:
                    # Bits p then q: C[(o_p, o_q), (i_p, i_q)] = second[o_p][o_q, i_q] · first[i_q][o_p, i_p].
                    p, q = group
                    first = self.stage_twiddle(block, stage, rest + [q]).reshape(-1, 2, 2, 2)  # i_q, o_p, i_p
                    second = self.stage_twiddle(block, stage + 1, rest + [p]).reshape(-1, 2, 2, 2)  # o_p, o_q, i_q
                    product = second.unsqueeze(3) * first.permute(0, 2, 3, 1).unsqueeze(2)
                    blocks.append(product.reshape(-1, 4, 4))
                digits, stage = rest + group, stage + len(group)
        return tuple(blocks)

    def reconstructed_shapes(self) -> tuple:
        """What :meth:`reconstruct` returns, without building it: a matmul mixing b bits has n·nstacks/2ᵇ blocks of 2ᵇ×2ᵇ."""
        return tuple((self.n * self.nstacks >> len(group), 1 << len(group), 1 << len(group))
                     for groups in self.steps() for group in groups)

    def stand_in(self) -> tuple:
        return tuple(self.twiddle.new_zeros(shape) for shape in self.reconstructed_shapes())

    def mix(self, x):
        blocks = self.reconstructed()
        # Sizes are plain ints, not read off traced tensors: size arithmetic would show up in the count.
        rows = max(1, CHUNK_ACTIVATIONS // (self.n * self.nstacks))
        if x.shape[0] <= rows:
            return self.mixed(x, blocks)
        return torch.cat([self.mixed(chunk, blocks) for chunk in x.split(rows)])

    def mixed(self, x, blocks: tuple):
        """:meth:`mix` on one chunk of rows, with the blocks built once for all chunks."""
        n, stacks = self.n, self.nstacks
        if n > self.in_features:
            x = nn.functional.pad(x, (0, n - self.in_features))
        natural = list(reversed(range(self.log_n)))
        # Features first; the digits of the layout, most significant first, with the stack last.
        x, digits = x.t().unsqueeze(1).expand(n, stacks, -1), natural + ["s"]
        blocks = iter(blocks)
        for block, groups in enumerate(self.steps()):
            x, digits = self.arranged(x, digits, self.block_bits(block) + ["s"]), self.block_bits(block) + ["s"]
            for group in groups:
                size = 1 << len(group)
                # (other digits, 2ᵇ, N): the mixed bits move from most to least significant.
                x = torch.bmm(next(blocks), x.reshape(size, n * stacks // size, -1).transpose(0, 1))
                digits = digits[len(group):] + group
        x = self.arranged(x, digits, ["s"] + natural)
        return x.reshape(stacks * n, -1).t()[:, :self.out_features]

    def arranged(self, x, digits: list, target: list):
        """``x``, (n·nstacks, N) features first with digits ``digits``, reordered to ``target``: one copy."""
        if digits == target:
            return x
        sizes = [self.nstacks if d == "s" else 2 for d in digits]
        x = x.reshape(*sizes, -1).permute(*[digits.index(d) for d in target], len(digits))
        return x.reshape(self.n * self.nstacks, -1)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, factors={self.factors}, n={self.n}, nstacks={self.nstacks}"


register_substitute(implemented(
    "butterfly",
    build=conv_form(ButterflyLinear),
    compressed_types=(ButterflyLinear,),
    sizes=lambda c_in, c_out, kernel, factors: butterfly_factors(c_in, c_out, factors),
    linear=ButterflyLinear,
))
