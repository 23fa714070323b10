"""Monarch: a product of two block-diagonal matrices with a reshape-transpose between them.

Dao et al., "Monarch: Expressive Structured Matrices for Efficient and Accurate
Training", ICML 2022; laid out as HazyResearch's reference ``MonarchLinear``.
With b blocks, in_blk = ⌈d_in/b⌉ and out_blk = ⌈d_out/b⌉, the input is
zero-padded to b·in_blk and the output cropped to d_out. If b·in_blk < b·out_blk
the factors are b blocks of in_blk×in_blk then b blocks of out_blk×in_blk,
otherwise b of out_blk×in_blk then b of out_blk×out_blk. Parameters are the two
factors' elements (+ d_out for a bias); per row of input the forward costs as
many mult-adds (two ``bmm``), where the dense layer costs d_in·d_out.

Choosing the block count: ceiling padding makes the count jump up at some b
(10 features at b = 6 pad to 12), so a setting b builds, among the block counts
1..b, the one with the fewest parameters (the smallest such). b = 1 is two full
matrices, more than the dense layer: where none of 1..b is at most dense's
count, the search goes on to the first block count that is (for a square layer
that is b = 2, exactly dense's count). So counts never grow with b and no setting
builds a Monarch layer larger than dense, when one exists.
"""

import functools
import math

import torch
from torch import nn

from ._features_last import FeaturesLastLinear, check_features, check_size, conv_form
from ._registry import implemented, register_substitute


def monarch_shapes(in_features: int, out_features: int, blocks: int) -> tuple:
    """Shapes of the two block-diagonal factors at exactly ``blocks`` blocks."""
    in_block, out_block = math.ceil(in_features / blocks), math.ceil(out_features / blocks)
    if in_block < out_block:
        return (blocks, in_block, in_block), (blocks, out_block, in_block)
    return (blocks, out_block, in_block), (blocks, out_block, out_block)


def monarch_params(in_features: int, out_features: int, blocks: int) -> int:
    return sum(math.prod(shape) for shape in monarch_shapes(in_features, out_features, blocks))


@functools.lru_cache(maxsize=1024)
def _fewest_params_up_to(in_features: int, out_features: int) -> tuple:
    """Entry b - 1: the block count in 1..b with the fewest parameters (the smallest such), b up to the widest side.

    Past the widest side every block is 1×1 and padding only adds parameters, so b stops there.
    """
    best, best_params, table = 0, math.inf, []
    for blocks in range(1, max(in_features, out_features) + 1):
        params = monarch_params(in_features, out_features, blocks)
        if params < best_params:
            best, best_params = blocks, params
        table.append(best)
    return tuple(table)


def monarch_blocks(in_features: int, out_features: int, blocks: int) -> int:
    """The block count a setting builds (module docstring): the fewest parameters among 1..b, at most dense's."""
    check_features(in_features, out_features)
    check_size("blocks", blocks)
    table = _fewest_params_up_to(in_features, out_features)
    dense = in_features * out_features
    within = next((b for b in table if monarch_params(in_features, out_features, b) <= dense), table[-1])
    return max(table[min(blocks, len(table)) - 1], within)


class MonarchLinear(FeaturesLastLinear):
    def __init__(self, in_features, out_features, bias=True, *, blocks):
        super().__init__(in_features, out_features, bias)
        self.blocks = monarch_blocks(in_features, out_features, blocks)
        first, second = monarch_shapes(in_features, out_features, self.blocks)
        self.padded_in, self.inner, self.out_block = first[0] * first[2], first[1], second[1]
        self.blkdiag1 = nn.Parameter(torch.empty(first))
        self.blkdiag2 = nn.Parameter(torch.empty(second))
        # The first factor keeps unit variance (its blocks read in_blk inputs, d_in of b·in_blk real);
        # the second carries the He gain: Var(y) = 2·d_in/d_out, as a dense layer under He fan-out.
        nn.init.normal_(self.blkdiag1, std=math.sqrt(self.blocks / in_features))
        nn.init.normal_(self.blkdiag2, std=math.sqrt(2.0 * in_features / (out_features * second[2])))

    def mix(self, x):
        # Sizes are plain ints, not read off traced tensors: size arithmetic would show up in the count.
        blocks, inner, out_block = self.blocks, self.inner, self.out_block
        if self.padded_in > self.in_features:
            x = nn.functional.pad(x, (0, self.padded_in - self.in_features))
        x = x.reshape(-1, blocks, self.padded_in // blocks).transpose(0, 1)
        x = torch.bmm(x, self.blkdiag1.transpose(1, 2))  # (b, N, inner)
        # The reference's permutation: read (block, inner) as (inner, block) and transpose.
        x = x.transpose(0, 1).reshape(-1, inner, blocks).permute(2, 0, 1)
        x = torch.bmm(x, self.blkdiag2.transpose(1, 2))  # (b, N, out_blk)
        return x.permute(1, 2, 0).reshape(-1, out_block * blocks)[:, :self.out_features]

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, blocks={self.blocks}"


register_substitute(implemented(
    "monarch",
    build=conv_form(MonarchLinear),
    compressed_types=(MonarchLinear,),
    sizes=lambda c_in, c_out, kernel, blocks: monarch_blocks(c_in, c_out, blocks),
    linear=MonarchLinear,
))
