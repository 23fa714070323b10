"""What a model is named by, told apart without importing any model (nor torch): a registered family's name
(``wrn-16-4``) or a reference ``package.module:callable`` to the user's own constructor; and the names of the
selections of its layers that a substitute replaces."""

from __future__ import annotations

import re

from ..errors import ConfigError

# The keys of :data:`~._substitute.SELECTIONS`, whose predicates need torch; a study file names one.
SELECTION_NAMES = ("spatial", "pointwise", "convs", "linear", "all")

_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_REFERENCE = re.compile(rf"({_DOTTED}):({_DOTTED})")


def is_reference(model) -> bool:
    """Whether ``model`` names a callable (``package.module:callable``) rather than a registered family."""
    return isinstance(model, str) and ":" in model


def split_reference(reference: str) -> tuple:
    """``"package.module:callable"`` -> ``("package.module", "callable")``; a ConfigError for anything else."""
    match = _REFERENCE.fullmatch(reference.strip())
    if match is None:
        raise ConfigError(f"model {reference!r} is not a reference: expected package.module:callable "
                          f"(dotted names on both sides of one colon)")
    return match.groups()
