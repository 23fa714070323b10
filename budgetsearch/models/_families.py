"""Model families by name: ``find_model("wrn-16-4")`` is the family that builds it, and the arguments its name gives.

A family registers a name pattern (a regular expression whose groups become
arguments), so ``wrn-D-K`` covers every valid depth and width. The built-in
families are declared (:mod:`._declarations`): their names are listed and
checked without importing the modules that build them (nor torch), and a
module is imported when :func:`find_model` first returns its family.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

from .._plugins import load_plugins
from ..errors import ConfigError, UnknownNameError
from ..substitutes import did_you_mean
from ._declarations import DECLARATIONS, Declaration
from ._names import is_reference


@dataclass(frozen=True)
class ModelFamily:
    pattern: str  # a regular expression for the names, e.g. r"wrn-(\d+)-(\d+)"
    example: str
    build: Callable  # build(*groups, num_classes=..., conv=factory, **options) -> nn.Module: the model's class
    input_size: tuple  # (C, H, W) the family is counted at by default
    num_classes: int
    summary: str
    # The substitute a compression ratio is relative to: the network as its authors built it
    # (dense for WRNs, depthwise-separable for DARTS).
    reference: str = "conv"
    # Constructor options a compatibility mode builds the family with, {mode: options}: the
    # original's networks differ from budgetsearch's in ways its counts see (a pooling module).
    compat_options: dict = field(default_factory=dict)
    # The input sizes the family runs at, checked before it is built: input_rule((C, H, W)) is None where it
    # runs, else what it needs ("square images whose side is a multiple of its patch size 4, e.g. 3,32,32").
    input_rule: Optional[Callable[[tuple], Optional[str]]] = None
    # The constructor option the input's side goes to, where the family's shapes depend on it (a ViT's
    # position embedding has one entry per patch); None where any side runs through the same modules.
    image_size_option: Optional[str] = None


_DECLARED = {declared.pattern: declared for declared in DECLARATIONS}
_IMPLEMENTED: dict[str, ModelFamily] = {}  # the declared families whose modules are imported, by pattern
_FAMILIES: list[ModelFamily] = []  # every other registered family (a plugin's), in registration order


def implemented(example: str, **implementation) -> ModelFamily:
    """The built-in family declared with ``example``, built as ``implementation`` says (see :class:`ModelFamily`)."""
    declared = next((d for d in DECLARATIONS if d.example == example), None)
    if declared is None:
        raise ConfigError(f"model family {example!r} is not declared: add its Declaration to "
                          f"budgetsearch/models/_declarations.py (a plugin registers a ModelFamily instead)")
    return ModelFamily(pattern=declared.pattern, example=example, summary=declared.summary, **implementation)


def register_model(family: ModelFamily) -> ModelFamily:
    """Add a family; a pattern already taken (a built-in's included, unless this is its :func:`implemented`) is an
    error."""
    declared = _DECLARED.get(family.pattern)
    own = declared is not None and (declared.example, declared.summary) == (family.example, family.summary)
    if family.pattern in _IMPLEMENTED or any(f.pattern == family.pattern for f in _FAMILIES) \
            or (declared is not None and not own):
        raise ConfigError(f"model pattern {family.pattern!r} is already registered")
    if declared is not None:
        _IMPLEMENTED[family.pattern] = family
    else:
        _FAMILIES.append(family)
    return family


def _named() -> list[Union[Declaration, ModelFamily]]:
    """Every family by its names, in listing order: the declared built-ins, then the others."""
    load_plugins()
    return [*DECLARATIONS, *_FAMILIES]


def list_models() -> list[str]:
    """One example name per registered family (no family's module is imported)."""
    return [f.example for f in _named()]


def _matches(name: str) -> list:
    return [(f, m) for f in _named() if (m := re.fullmatch(f.pattern, name))]


def find_model(name: str) -> tuple[ModelFamily, tuple]:
    """The family whose pattern matches ``name``; a more specific pattern (fewer groups) wins, so the
    ImageNet ``wrn-50-2`` is not read as the CIFAR ``wrn-D-K`` with D = 50."""
    matches = _matches(name)
    if matches:
        named, match = min(matches, key=lambda found: len(found[1].groups()))
        return _implementation(named), tuple(int(g) if g.isdigit() else g for g in match.groups())
    named = _named()
    raise UnknownNameError(
        f"unknown model {name!r}{did_you_mean(name, [f.example for f in named])}; registered families: "
        + ", ".join(f"{f.example} ({f.summary})" for f in named)
    )


def _implementation(named: Union[Declaration, ModelFamily]) -> ModelFamily:
    """The family ``named``: a declared one's module is imported (and registers it) on its first lookup."""
    if isinstance(named, ModelFamily):
        return named
    if named.pattern not in _IMPLEMENTED:
        importlib.import_module(f"{__package__}.{named.module}")
        if named.pattern not in _IMPLEMENTED:
            raise ConfigError(f"module {__package__}.{named.module} does not register the model family "
                              f"{named.example!r} it is declared for (register_model(implemented({named.example!r}, "
                              f"...)))")
    return _IMPLEMENTED[named.pattern]


def registered_family(model) -> Optional[tuple]:
    """``find_model(model)`` for a name (an unknown one is an error); None for a reference, callable or module."""
    if isinstance(model, str) and not is_reference(model):
        return find_model(model)
    return None


def is_registered(model) -> bool:
    """Whether ``model`` is a name a registered family matches (not a reference, callable, module or unknown name)."""
    return isinstance(model, str) and not is_reference(model) and bool(_matches(model))
