"""HashedNets: a conv whose weights are drawn, through a hash, from a small shared bank.

Chen et al., "Compressing Neural Networks with the Hashing Trick", ICML 2015.

Every entry j of the full weight is ``ξ(j) · w[h(j)]`` with ``h(j)`` uniform over
the B bank values and ``ξ(j) ∈ {±1}`` the sign hash of the paper. The hash is a
table drawn from a generator seeded by ``seed`` and the layer geometry, so a
model rebuilt from the same record is the same model; the table is a
non-persistent int32 buffer (not a parameter, never in checkpoints), holding
``h`` and ``ξ`` together as an index into ``[w, −w]``.

* ``hashed``: the full k×k weight is hashed, B = max(1, int(h·C_o·C_i·k²)).
  Params: B (+ C_o bias if asked; the original forced one, see compat mode).
* ``sep-hashed``: dense depthwise k×k + hashed 1×1 with B = max(1, int(h·C_o·C_i)).
  Params: [k>1]·C_i·k² + B.

Options for the compatibility mode (``budgetsearch.compat``):
``quirks=True`` gives every hashed conv the original's forced C_o bias and its
budget int(h·size) with no floor at 1; ``budget_of="dense"`` (sep-hashed only,
the original's SepHashedDecimate) takes B = int(h·C_o·C_i·k²) of the *dense k×k*
weights, the depthwise conv's C_i·k² inside it, and gives the rest to the 1×1.
"""

import functools
import math
import zlib

import torch
from torch import nn

from ..errors import ConfigError
from ._blocks import ReconstructedConv, depthwise_then, pointwise_linear
from ._registry import implemented, register_substitute


def hash_table(size: int, budget: int, key: tuple, device) -> torch.Tensor:
    """``size`` indices into the signed bank ``[w, -w]`` of length 2·budget, determined by ``key``."""
    if torch.device(device).type == "meta":
        return torch.empty(size, dtype=torch.int32, device="meta")
    generator = torch.Generator().manual_seed(zlib.crc32(repr(key).encode()))
    table = torch.randint(0, 2 * budget, (size,), generator=generator, dtype=torch.int64)
    return table.to(device=device, dtype=torch.int32)


class HashedConv(ReconstructedConv):
    """Conv2d whose weight is gathered, with random signs, from ``budget`` shared values."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=False, *,
                 budget: int, seed: int = 0):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, bias)
        size = math.prod(self.weight_shape)
        if not 1 <= budget <= size:
            raise ValueError(f"budget must be in [1, {size}] for weight shape {self.weight_shape}, but got {budget}")
        # He fan-out std: signs and sharing leave each output's variance as for a dense conv.
        fan_out = out_channels * self.kernel_size[0] * self.kernel_size[1]
        self.bank = nn.Parameter(torch.empty(budget).normal_(0.0, math.sqrt(2.0 / fan_out)))
        key = ("hashed", seed, *self.weight_shape, budget)
        self.register_buffer("signed_index", hash_table(size, budget, key, self.bank.device), persistent=False)

    def reconstruct_weight(self):
        signed_bank = torch.cat((self.bank, -self.bank))
        # index_select, not indexing: the same gather, but its backward (index_add) ran 3-4× faster on the CPU
        # than indexing's (an accumulating index_put) for a 640→640 3×3 weight.
        return signed_bank.index_select(0, self.signed_index).view(self.weight_shape)


def hash_budget(weights: int, budget_scale: float) -> int:
    """B = max(1, int(h·weights)): the number of shared values kept of ``weights``."""
    return max(1, int(budget_scale * weights))


def hashed_budget(in_channels, out_channels, kernel, budget_scale) -> int:
    return hash_budget(out_channels * in_channels * kernel[0] * kernel[1], budget_scale)


def separable_hashed_budget(in_channels, out_channels, kernel, budget_scale) -> int:
    return hash_budget(out_channels * in_channels, budget_scale)


def _check_budget(budget, budget_scale, in_channels, out_channels):
    if budget < 1:
        raise ConfigError(f"budget_scale={budget_scale!r} leaves no hashed weights ({budget}) for a {in_channels}→"
                          f"{out_channels} conv; the original's int(h·size) needs a larger h here")


def hashed_conv(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=False, *,
                budget_scale, seed=0, quirks=False):
    kernel = nn.modules.utils._pair(kernel_size)
    if quirks:
        budget, bias = int(budget_scale * (out_channels * in_channels * kernel[0] * kernel[1])), True
    else:
        budget = hashed_budget(in_channels, out_channels, kernel, budget_scale)
    _check_budget(budget, budget_scale, in_channels, out_channels)
    return HashedConv(in_channels, out_channels, kernel, stride, padding, dilation, bias, budget=budget, seed=seed)


def separable_hashed_conv(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=False, *,
                          budget_scale, seed=0, quirks=False, budget_of="pointwise"):
    kernel = nn.modules.utils._pair(kernel_size)
    if budget_of == "dense":
        depthwise = in_channels * kernel[0] * kernel[1] if kernel != (1, 1) else 0
        budget = int(budget_scale * (out_channels * in_channels * kernel[0] * kernel[1])) - depthwise
    elif budget_of == "pointwise":
        budget = int(budget_scale * (out_channels * in_channels)) if quirks else \
            separable_hashed_budget(in_channels, out_channels, None, budget_scale)
    else:
        raise ConfigError(f"budget_of must be 'pointwise' or 'dense', but got budget_of={budget_of!r}")
    bias = bias or quirks
    _check_budget(budget, budget_scale, in_channels, out_channels)
    pointwise = functools.partial(HashedConv, kernel_size=1, budget=budget, seed=seed)
    return depthwise_then(pointwise, in_channels, out_channels, kernel_size, stride, padding, dilation, bias)


def hashed_linear(in_features, out_features, bias=True, *, budget_scale, seed=0):
    """The linear form of both: a hashed (out, in) weight with B = max(1, int(h·out·in))."""
    budget = hash_budget(out_features * in_features, budget_scale)
    pointwise = functools.partial(HashedConv, kernel_size=1, budget=budget, seed=seed)
    return pointwise_linear(pointwise, in_features, out_features, bias)


register_substitute(implemented(
    "hashed",
    build=hashed_conv,
    compressed_types=(HashedConv,),
    sizes=hashed_budget,
    linear=hashed_linear,
))
register_substitute(implemented(
    "sep-hashed",
    build=separable_hashed_conv,
    compressed_types=(HashedConv,),
    sizes=separable_hashed_budget,
    linear=hashed_linear,
))
