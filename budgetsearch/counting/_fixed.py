"""The fixed part of a count: what the layers a substitute does not replace hold."""

from __future__ import annotations

from typing import Iterable, Tuple

from ._count import Count


def fixed_part(result: Count, points: Iterable[str]) -> Tuple[int, int]:
    """``(params, mult_adds)`` of ``result`` outside the modules named in ``points`` (and their children)."""
    points = tuple(points)

    def inside(name: str) -> bool:
        return any(name == point or name.startswith(point + ".") for point in points)

    outside = [layer for layer in result.layers if not inside(layer.name)]
    return sum(layer.params for layer in outside), sum(layer.mult_adds for layer in outside)
