"""ACDC: depthwise k×k (only if k > 1), then a 1×1 whose weight is a stack of ACDC factors.

Moczulski, Denil, Appleyard, de Freitas, "ACDC: A Structured Efficient Linear
Layer", ICLR 2016; used as a conv substitute as the original study did.

On c = max(C_i, C_o) channels, one factor is ``M = diag(a)·C·R·diag(d)·C⁻¹``
(row-vector convention: the DCT-II of a row x is ``x·C``), with a, d ∈ R^c
trained, C the DCT-II matrix and R the riffle column permutation (output order
old 0, 2, 4, …, 1, 3, 5, …; for odd c the same: evens, then odds). The stack is
``W = (M_1·R)(M_2·R)…(M_n·R)``, applied as the 1×1 weight ``y_o = Σ_i W[o,i]·x_i``.
C is the orthonormal DCT-II, so C⁻¹ = Cᵀ; because R fixes index 0 the product
C·R·diag(d)·C⁻¹ equals the one built from the unnormalised DCT and its inverse.

Channels: for C_o > C_i the input is widened to c = C_o channels as the
original does (append copies of the first a channels, a ≥ 0 the smallest with
C_o mod (C_i + a) = 0, then tile e = C_o/(C_i + a) times; when a > C_i the
copies wrap around, channel j of the padded block being channel j mod C_i).
For C_o < C_i the c = C_i outputs are summed in C_o contiguous groups, output j
going to group ⌊j·C_o/C_i⌋: adjacent groups of C_i/C_o when that divides, as
in the original, otherwise groups of ⌊C_i/C_o⌋ or ⌈C_i/C_o⌉. Both are folded
into one effective (C_o, C_i) weight, so the layer runs one 1×1 conv.

Parameters: ``[k > 1]·C_i·k² + 2·c·n`` (+ C_o with bias). n counts the factors
built and used; the original discards its last factor, so its ``ACDC_12`` is
n = 11 here.

Options for the compatibility mode (``budgetsearch.compat``):
``quirks=True`` builds n − 1 factors for ``layers=n`` as the original did (so
``layers`` ≥ 2); ``inner_riffle=False`` leaves R out of each factor,
``M = diag(a)·C·diag(d)·C⁻¹`` (the original's OriginalACDC; the stack still
riffles between factors).
"""

from __future__ import annotations

import copy
import functools
import math

import torch
from torch import nn

from ..errors import ConfigError
from ._blocks import ReconstructedConv, depthwise_then, depthwise_then_params, pointwise_linear
from ._compat_counted import CompatCounted
from ._registry import implemented, register_substitute


def orthonormal_dct(size: int, dtype=None) -> torch.Tensor:
    """C[i, k] = s_k·cos(π·k·(2i+1)/(2N)), s_0 = √(1/N), s_k = √(2/N): columns orthonormal."""
    i = torch.arange(size).unsqueeze(1)
    k = torch.arange(size).unsqueeze(0)
    # The phase is reduced modulo a full turn in integers so the cosine is exact for large N.
    phase = (k * (2 * i + 1)) % (4 * size)
    scale = torch.full((size,), math.sqrt(2.0 / size), dtype=torch.float64)
    scale[0] = math.sqrt(1.0 / size)
    return (torch.cos(phase.to(torch.float64) * (math.pi / (2 * size))) * scale).to(dtype or torch.get_default_dtype())


def riffle_order(size: int) -> torch.Tensor:
    """Old column for each new column of X·R: evens, then odds."""
    return torch.cat([torch.arange(0, size, 2), torch.arange(1, size, 2)])


def expansion_sources(in_channels: int, out_channels: int) -> torch.Tensor:
    """Input channel feeding each of the C_o widened channels (C_o > C_i)."""
    pad = next(a for a in range(out_channels) if out_channels % (in_channels + a) == 0)
    return (torch.arange(out_channels) % (in_channels + pad)) % in_channels


def contraction_groups(in_channels: int, out_channels: int) -> torch.Tensor:
    """Output channel each of the C_i product channels is summed into (C_o < C_i)."""
    return torch.arange(in_channels) * out_channels // in_channels


@functools.lru_cache(maxsize=64)
def _tables(in_channels: int, out_channels: int, inner_riffle: bool, dtype: torch.dtype) -> tuple:
    """The layer's constant buffers as (name, tensor) pairs, on the CPU, computed once per shape.

    M_l·R = diag(a_l)·(C·R)·diag(d_l)·(Cᵀ·R), or diag(a_l)·C·diag(d_l)·(Cᵀ·R) without the
    inner riffle. ``dct_riffled`` (C·R, or C) starts the product. For odd c the rest is dense
    products with it and ``idct_riffled`` (Cᵀ·R). For even c it uses the DCT's symmetry
    C[c−1−i, k] = (−1)^k·C[i, k]: ``dct_even`` and ``dct_odd`` hold the top halves of C's even
    and odd columns (``idct_even``, ``idct_odd`` their transposes), ``mirror`` reverses the bottom half of a row, ``idct_order`` puts ``[e + o, e − o]``
    in Cᵀ·R's column order and ``dct_order`` (without the inner riffle) undoes the riffle.
    """
    c = max(in_channels, out_channels)
    with torch.device("cpu"):
        dct, order = orthonormal_dct(c, dtype), riffle_order(c)
        tables = {"dct_riffled": (dct[:, order] if inner_riffle else dct).contiguous(), "channel_map": None}
        if out_channels > in_channels:
            tables["channel_map"] = expansion_sources(in_channels, out_channels)
        elif out_channels < in_channels:
            tables["channel_map"] = contraction_groups(in_channels, out_channels)
        if c % 2:
            tables["idct_riffled"] = dct.t()[:, order].contiguous()
        else:
            half = c // 2
            tables["dct_even"], tables["dct_odd"] = dct[:half, 0::2].contiguous(), dct[:half, 1::2].contiguous()
            tables["idct_even"], tables["idct_odd"] = dct[:half, 0::2].t().contiguous(), dct[:half, 1::2].t().contiguous()
            tables["mirror"] = torch.arange(c - 1, half - 1, -1)
            # Column i ≥ c/2 of x·Cᵀ is (e − o)[c − 1 − i], which sits at c/2 + c − 1 − i in [e + o, e − o].
            tables["idct_order"] = torch.where(order < half, order, half + c - 1 - order)
            tables["dct_order"] = None if inner_riffle else torch.argsort(order)
        return tuple(tables.items())


class ACDCPointwise(ReconstructedConv, CompatCounted):
    """1×1 conv with weight ``W = (M_1·R)…(M_n·R)``, widened or summed to (C_o, C_i).

    ``factors`` is the number n of ACDC factors actually used. ``a`` and ``d``
    hold one row per factor. The DCT matrices and channel maps are
    non-persistent buffers: rebuilt at construction, never checkpointed.

    Under the compatibility mode it is counted as the original's count.py counted
    it: n·(4c + 5c·log₂c)·A' on c channels, where A' is the positions of the
    input of the layer holding it when a depthwise conv precedes it
    (``counted_at_layer_input``; the original's quirk: a strided layer is counted
    at input resolution), else its own output positions.
    """

    counted_at_layer_input = False
    # Every factor after the first is the same step on c×c tensors (see stacked_matrix).
    rebuild_repeats = "factors"

    def __init__(self, in_channels, out_channels, factors, stride=1, padding=0, dilation=1, bias=False,
                 inner_riffle=True):
        super().__init__(in_channels, out_channels, 1, stride, padding, dilation, bias)
        if not isinstance(factors, int) or isinstance(factors, bool) or factors < 1:
            raise ConfigError(f"factors must be an int >= 1, but got factors={factors!r}")
        self.factors = factors
        self.channels = c = max(in_channels, out_channels)
        # Mean 1, std 1e-2 as in the original ACDC code: each factor starts near orthogonal.
        self.a = nn.Parameter(torch.empty(factors, c).normal_(1.0, 0.01))
        self.d = nn.Parameter(torch.empty(factors, c).normal_(1.0, 0.01))
        for name, table in _tables(in_channels, out_channels, inner_riffle, self.a.dtype):
            # Copies: each layer owns its buffers, whatever is later done to them.
            self.register_buffer(name, None if table is None else table.to(self.a.device, copy=True),
                                 persistent=False)
        # Near-orthogonal factors keep the norm; the first factor's a carries He's gain.
        self.calibrate_(self.a[0])

    def stacked_matrix(self) -> torch.Tensor:
        """The c×c product W, built left to right, one factor at a time.

        Measured against building all factors batched and multiplying them in a
        log-depth tree, the plain chain was as fast forward and faster backward
        (fewer c×c temporaries to save), so it is what runs. For even c each
        product with C or Cᵀ is two half-size (c/2)×(c/2) products, half the
        mult-adds of a dense c×c one (see :meth:`times_dct`).
        """
        product = self.times_idct(self.a[0].unsqueeze(1) * self.dct_riffled * self.d[0])
        for a, d in zip(self.a[1:], self.d[1:]):
            product = self.times_idct(self.times_dct(product * a) * d)
        return product

    def times_dct(self, x: torch.Tensor) -> torch.Tensor:
        """``x·C·R`` (or ``x·C``). For even c: with t the first half of a row and b its second half
        reversed, the DCT's even columns are (t + b)·C[:c/2, 0::2] and its odd ones (t − b)·C[:c/2, 1::2]."""
        if self.channels % 2:
            return x @ self.dct_riffled
        top, bottom = x[:, :self.channels // 2], x.index_select(1, self.mirror)
        product = torch.cat(((top + bottom) @ self.dct_even, (top - bottom) @ self.dct_odd), 1)  # C·R: evens, then odds
        return product if self.dct_order is None else product.index_select(1, self.dct_order)

    def times_idct(self, x: torch.Tensor) -> torch.Tensor:
        """``x·Cᵀ·R``. For even c: e from x's even columns, o from its odd ones, x·Cᵀ = [e + o, reversed(e − o)]."""
        if self.channels % 2:
            return x @ self.idct_riffled
        from_evens, from_odds = x[:, 0::2] @ self.idct_even, x[:, 1::2] @ self.idct_odd
        return torch.cat((from_evens + from_odds, from_evens - from_odds), 1).index_select(1, self.idct_order)

    def reconstruct_weight(self) -> torch.Tensor:
        product = self.stacked_matrix()
        if self.out_channels > self.in_channels:
            # Widened channels j all read input channel channel_map[j]: sum their columns.
            weight = product.new_zeros(self.out_channels, self.in_channels).index_add_(1, self.channel_map, product)
        elif self.out_channels < self.in_channels:
            weight = product.new_zeros(self.out_channels, self.in_channels).index_add_(0, self.channel_map, product)
        else:
            weight = product
        return weight.reshape(self.out_channels, self.in_channels, 1, 1)

    def with_rebuild_repeats(self, repeats: int) -> "ACDCPointwise":
        """A copy with ``repeats`` factors (uninitialised): what counting a rebuild needs, nothing more."""
        clone = copy.deepcopy(self)
        clone.factors = repeats
        clone.a, clone.d = (nn.Parameter(p.new_empty(repeats, self.channels)) for p in (self.a, self.d))
        return clone

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, factors={self.factors}, channels={self.channels}"

    def compat_mult_adds(self, input_shape: tuple, output_shape: tuple, layer_input_shape: tuple) -> float:
        positions = layer_input_shape[2:] if self.counted_at_layer_input else output_shape[2:]
        c = self.channels
        return output_shape[0] * self.factors * (4 * c + 5 * c * math.log2(c)) * math.prod(positions)


def acdc_conv(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=False, *, layers,
              quirks=False, inner_riffle=True):
    factors = layers - 1 if quirks else layers
    if quirks and factors < 1:
        raise ConfigError(f"the original's ACDC_n builds n - 1 factors, so layers must be >= 2, but got layers={layers!r}")
    pointwise = functools.partial(ACDCPointwise, factors=factors, inner_riffle=inner_riffle)
    layer = depthwise_then(pointwise, in_channels, out_channels, kernel_size, stride, padding, dilation, bias)
    layer.pointwise.counted_at_layer_input = layer.depthwise is not None
    return layer


def acdc_linear(in_features, out_features, bias=True, *, layers):
    pointwise = functools.partial(ACDCPointwise, factors=layers)
    return pointwise_linear(pointwise, in_features, out_features, bias)


def acdc_params(in_channels, out_channels, kernel_size, bias, layers) -> int:
    """``[k > 1]·C_i·k² + 2·c·n`` (+ C_o with bias): n = ``layers`` factors of a and d on c channels."""
    return depthwise_then_params(in_channels, out_channels, kernel_size, bias,
                                 2 * max(in_channels, out_channels) * layers)


register_substitute(implemented("acdc", build=acdc_conv, compressed_types=(ACDCPointwise,), linear=acdc_linear,
                                params=acdc_params))
