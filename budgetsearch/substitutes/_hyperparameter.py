"""The one setting that sizes a substitute: what the budget solver knows of it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

from ..errors import ConfigError


@dataclass(frozen=True)
class Hyperparameter:
    """The one setting that sizes a substitute.

    ``low_open`` marks an exclusive lower bound (a rank fraction of 0 builds nothing).
    ``grows`` is True when the parameter count grows with the value.
    """

    name: str
    type: type
    low: float
    high: float
    grows: bool = True
    low_open: bool = False

    def __post_init__(self):
        if self.type not in (int, float):
            raise ConfigError(f"hyperparameter type must be int or float, but got {self.type!r}")
        if not self.low <= self.high:
            raise ConfigError(f"hyperparameter {self.name!r} needs low <= high, but got [{self.low}, {self.high}]")

    @property
    def domain(self) -> str:
        left = "(" if self.low_open else "["
        return f"{self.type.__name__} in {left}{self.low:g}, {self.high:g}]"

    def validate(self, value) -> Union[int, float]:
        """Return ``value`` converted to the declared type, or raise ConfigError."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        ok = math.isfinite(number) and (self.type is float or number == int(number))
        if ok:
            ok = (number > self.low if self.low_open else number >= self.low) and number <= self.high
        if not ok:
            raise ConfigError(f"{self.name} must be {self.domain}, but got {value!r}")
        return self.type(number)
