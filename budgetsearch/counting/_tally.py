"""What a counting backend returns: mult-adds per module and operator, and the operators it had no rule for."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Dict


@dataclass(frozen=True)
class Tally:
    # {module name: Counter(operator: mult-adds)}, each module's own operators and its descendants' ("" the whole),
    # keyed by the counted model's own module names, as fvcore's ``by_module_and_operator``
    by_module_and_operator: Dict[str, Counter]
    unsupported: Counter  # operator name: how often it ran without a rule

    def by_module(self) -> Dict[str, float]:
        return {name: sum(counts.values()) for name, counts in self.by_module_and_operator.items()}

    def by_operator(self) -> Dict[str, float]:
        return dict(self.by_module_and_operator.get("", Counter()))

    def total(self) -> float:
        return sum(self.by_operator().values())


def ancestors(name: str) -> list:
    """``name`` and every module that owns it by name ("" the model itself), as fvcore attributes an operator."""
    parts = name.split(".") if name else []
    return [""] + [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
