"""Bisection over a declared hyperparameter domain, exact for integers and for floats.

The count of every substitute is a monotone step function of its setting (the
registry declares the direction). A float search halves the interval until its
ends are adjacent floats, so a plateau edge is found exactly, not to a
tolerance; with the counter's caches most probes cost no layer build.
"""

from __future__ import annotations

import math
from decimal import ROUND_CEILING, Decimal
from typing import Callable, Union

from ..substitutes import Hyperparameter

Number = Union[int, float]


def lowest(hp: Hyperparameter) -> Number:
    """The smallest setting the domain admits (the next float above an open lower bound)."""
    if hp.type is int:
        return int(math.ceil(hp.low + 1)) if hp.low_open else int(math.ceil(hp.low))
    return math.nextafter(hp.low, math.inf) if hp.low_open else float(hp.low)


def highest(hp: Hyperparameter) -> Number:
    return int(math.floor(hp.high)) if hp.type is int else float(hp.high)


def _midpoint(hp: Hyperparameter, low: Number, high: Number) -> Number:
    return (low + high) // 2 if hp.type is int else low + (high - low) / 2


def last_true(hp: Hyperparameter, low: Number, high: Number, predicate: Callable[[Number], bool]) -> Number:
    """The largest setting in [low, high] where ``predicate`` holds, given it holds at ``low`` and then
    turns false at most once."""
    if predicate(high):
        return high
    while True:
        middle = _midpoint(hp, low, high)
        if middle in (low, high):
            return low
        if predicate(middle):
            low = middle
        else:
            high = middle


def first_true(hp: Hyperparameter, low: Number, high: Number, predicate: Callable[[Number], bool]) -> Number:
    """The smallest setting in [low, high] where ``predicate`` holds, given it holds at ``high`` and
    stays true once it turned true."""
    if predicate(low):
        return low
    while True:
        middle = _midpoint(hp, low, high)
        if middle in (low, high):
            return high
        if predicate(middle):
            high = middle
        else:
            low = middle


def last_at_most(hp: Hyperparameter, low: Number, high: Number, count: Callable[[Number], int], cap: int) -> Number:
    """The largest setting in [low, high] whose ``count`` is at most ``cap``, for a non-decreasing
    integer ``count`` with ``count(low) <= cap``.

    Same answer as :func:`last_true` on ``count(s) <= cap``, in fewer probes: each step
    interpolates the count linearly between the ends (counts are close to linear
    in a rank or a budget fraction), and a step that fails to halve the interval
    is followed by a plain halving, so it never takes more than twice bisection's steps.
    """
    count_high = count(high)
    if count_high <= cap:
        return high
    count_low = count(low)
    halve = False
    while True:
        middle = _midpoint(hp, low, high)
        if not halve and count_high > count_low:
            guess = low + (high - low) * ((cap + 0.5 - count_low) / (count_high - count_low))
            guess = int(guess) if hp.type is int else guess
            if low < guess < high:
                middle = guess
        if middle in (low, high):
            return low
        width = high - low
        value = count(middle)
        if value <= cap:
            low, count_low = middle, value
        else:
            high, count_high = middle, value
        halve = high - low > width / 2


def first_at_least(hp: Hyperparameter, low: Number, high: Number, count: Callable[[Number], int], floor: int) -> Number:
    """The smallest setting in [low, high] whose non-decreasing integer ``count`` is at least ``floor``,
    given ``count(high) >= floor``."""
    if count(low) >= floor:
        return low
    below = last_at_most(hp, low, high, count, floor - 1)
    return below + 1 if hp.type is int else math.nextafter(below, math.inf)


def shortest_decimal_from(edge: float, predicate: Callable[[float], bool]) -> float:
    """The first of edge rounded up to 1, 2, 3, ... decimals where ``predicate`` holds (else ``edge``).

    Used with "is on the plateau that starts at ``edge``": it turns the exact
    plateau edge 0.22999999999999998 into 0.23 and the edge of a plateau that
    starts at the domain's open bound, 5e-324, into 0.01, without leaving the
    plateau.
    """
    exact = Decimal(repr(edge))
    for places in range(1, 18):
        candidate = float(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_CEILING))
        if predicate(candidate):
            return candidate
    return edge
