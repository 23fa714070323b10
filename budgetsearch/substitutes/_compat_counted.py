"""What a layer declares for the compatibility mode's count: its mult-adds under the original code's count.py.

The original study (see :mod:`budgetsearch.compat`) counted a few layers by a
formula of its own instead of by the operators they run (ACDC's fast transform,
the tied low rank's two products). A layer type states that formula itself by
subclassing :class:`CompatCounted`; the mode's counting rules
(``budgetsearch.counting._compat``) take every such type from
:func:`compat_counted_types` and read nothing else of the layer.
"""

from __future__ import annotations

from typing import List


class CompatCounted:
    """A layer whose count under the compatibility mode it states itself (subclass it, next to ``nn.Module``).

    The value replaces the count of the operators the layer and everything inside it run.
    A substitute's 1×1 part may be counted by what the whole substitute layer received:
    ``layer_input_shape`` is the input of the module that holds it (its own input where
    nothing does).
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _DECLARED.append(cls)

    def compat_mult_adds(self, input_shape: tuple, output_shape: tuple, layer_input_shape: tuple) -> float:
        """Mult-adds of one forward from an input of ``input_shape`` to an output of ``output_shape`` (with batch)."""
        raise NotImplementedError


_DECLARED: List[type] = []


def compat_counted_types() -> tuple:
    """Every layer type that states its own count under the compatibility mode, in the order they were defined."""
    return tuple(_DECLARED)
