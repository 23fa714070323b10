"""Budgets: an absolute count (``"1.2M"``, ``1200000``) or a fraction of the dense model (``"0.1x"``)."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from dataclasses import dataclass
from typing import Optional, Union

from ..errors import ConfigError

FORMS = "an absolute count (1200000, '1.2M', '600K', '6e8', '1.5G') or a fraction of the dense model ('0.1x')"
_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}
MAX_COUNT = 10**15  # far beyond any network: refused before Decimal turns "1e999999" into a million-digit integer
MAX_TEXT = 64
_PATTERN = re.compile(r"^(?P<number>[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*(?P<unit>[kmgx]?)$", re.IGNORECASE)


@dataclass(frozen=True)
class Budget:
    """A cap on a count: ``absolute`` or ``fraction`` of the dense model's count (exactly one is set)."""

    label: str
    absolute: Optional[int] = None
    fraction: Optional[float] = None

    def resolve(self, dense: int) -> int:
        """The cap as an absolute count; a fraction is rounded down, so the cap is never exceeded."""
        return self.absolute if self.absolute is not None else math.floor(self.fraction * dense)

    def __str__(self) -> str:
        return self.label


def parse_budget(value: Union[str, int, float, Budget], what: str = "budget") -> Budget:
    """Parse ``1200000``, ``"1.2M"``, ``"600k"``, ``"6e8"`` or ``"0.1x"`` into a :class:`Budget`."""
    if isinstance(value, Budget):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigError(f"{what} must be {FORMS}, but got {_shown(value)}")
    text = str(value).strip()
    # The pattern backtracks for a long time on long digit runs; no budget is written with more than a few dozen.
    match = _PATTERN.match(text) if len(text) <= MAX_TEXT else None
    if match is None:
        raise ConfigError(f"{what} must be {FORMS}, but got {_shown(value)}")
    # Decimal, so "1.1M" is 1,100,000 and not 1,100,000.0000000002.
    number, unit = Decimal(match["number"]), match["unit"].lower()
    if unit == "x":
        if not 0 < float(number) <= 1:  # float: "1e-400x" is a fraction no float holds, so a cap of 0
            raise ConfigError(f"{what} fraction must be in (0, 1] of the dense model, but got {_shown(value)}")
        return Budget(label=str(value).strip(), fraction=float(number))
    if number > MAX_COUNT // _SUFFIXES[unit]:
        raise ConfigError(f"{what} must be a count of at most {MAX_COUNT:.0e}, but got {_shown(value)}")
    absolute = number * _SUFFIXES[unit]
    if absolute < 1 or absolute != int(absolute):
        raise ConfigError(f"{what} must be a whole count >= 1 ({FORMS}), but got {_shown(value)}")
    return Budget(label=str(value).strip(), absolute=int(absolute))


def _shown(value, limit: int = 100) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"
