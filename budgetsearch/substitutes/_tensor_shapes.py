"""Shapes and ranks shared by the tensor-decomposed 1×1 convs.

A (C_o, C_i) weight matrix is flattened row-major and viewed as a 3-way tensor
``(d1, d2, d3)`` chosen by :func:`dimensionize`; the decompositions then size
their factors from ``rank_scale`` with Python's ``round`` (half to even), as the
original did, so that settings like ``TensorTrain_0.44`` give the same layers.
"""

from __future__ import annotations

import math

from ..errors import ConfigError


def dimensionize(out_channels: int, in_channels: int, dims: int = 3) -> tuple[int, ...]:
    """Factor N = C_o·C_i into ``dims`` integers near N^(1/dims), as the original did.

    Each of the first ``dims - 1`` factors starts at round(e), e = N^(1/dims) of the
    *whole* N (not of what is left), and grows until it divides what is left; if
    what is left is already below round(e), it is taken whole. The last factor is
    the remainder. E.g. (160, 160) → (32, 32, 25), (640, 640) → (80, 80, 64).
    """
    for name, value in (("out_channels", out_channels), ("in_channels", in_channels), ("dims", dims)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive int, but got {value!r}")
    total = out_channels * in_channels
    # exp(ln N / d), not N ** (1/d): the original's float path decides the exact-root test below.
    root = math.exp(math.log(total) / dims)
    start = round(root)
    if abs(start - root) < 1e-6:
        return (start,) * dims
    shape, remaining = [], total
    for _ in range(dims - 1):
        factor = remaining if remaining < start else start
        while remaining % factor:
            factor += 1
        shape.append(factor)
        remaining //= factor
    shape.append(remaining)
    return tuple(shape)


def tt_ranks(shape: tuple[int, ...], rank_scale: float) -> tuple[int, ...]:
    """Inner TT ranks r_j = max(1, round(h·min(d_j, d_{j+1}))), clipped to the full TT ranks.

    The full rank of bond j is min(d_1⋯d_j, d_{j+1}⋯d_n): a larger rank adds
    parameters without adding expressiveness (tntorch's TT-SVD truncates to it).
    """
    ranks = []
    for j in range(1, len(shape)):
        wanted = max(1, round(rank_scale * min(shape[j - 1], shape[j])))
        full = min(math.prod(shape[:j]), math.prod(shape[j:]))
        ranks.append(min(wanted, full))
    return tuple(ranks)


def tucker_ranks(shape: tuple[int, ...], rank_scale: float) -> tuple[int, ...]:
    """Tucker (multilinear) ranks t_j = max(1, round(h·d_j))."""
    return tuple(max(1, round(rank_scale * d)) for d in shape)


def cp_rank(shape: tuple[int, ...], rank_scale: float) -> int:
    """CP rank R = max(1, round(h·N / Σ d_j)), so R·Σ d_j ≈ h·N (h = 1: about the dense count)."""
    return max(1, round(rank_scale * math.prod(shape) / sum(shape)))
