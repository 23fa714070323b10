"""Put a substitute into any ``nn.Module`` in place of the ``nn.Conv2d`` and ``nn.Linear`` layers a selection picks.

A selection is a named predicate of :data:`SELECTIONS` (``"spatial"``, ``"pointwise"``,
``"convs"``, ``"linear"``, ``"all"``) or any ``(qualified_name, module) -> bool``, less the
modules whose qualified names match an ``exclude`` glob. A model built by
:func:`~budgetsearch.models.create_model` records its family's own substitution points,
and those are its default selection.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Union

from torch import nn

from ..errors import ConfigError
from ..substitutes import as_factory, did_you_mean, has_linear_form, linear_substitutes
from ._capabilities import ModelCapabilities

Predicate = Callable[[str, nn.Module], bool]


def _conv(module: nn.Module) -> bool:
    return isinstance(module, nn.Conv2d)


def _spatial(name: str, module: nn.Module) -> bool:
    return _conv(module) and module.kernel_size != (1, 1)


def _pointwise(name: str, module: nn.Module) -> bool:
    return _conv(module) and module.kernel_size == (1, 1)


def _linear(name: str, module: nn.Module) -> bool:
    return isinstance(module, nn.Linear)


# By layer kind and kernel only: a grouped conv matches here and is then kept dense (see ``kept_dense``).
SELECTIONS: dict[str, Predicate] = {
    "spatial": _spatial,
    "pointwise": _pointwise,
    "convs": lambda name, module: _conv(module),
    "linear": _linear,
    "all": lambda name, module: _conv(module) or _linear(name, module),
}


def kept_dense(module: nn.Module) -> Optional[str]:
    """Why a selected layer cannot be substituted and stays as it is, or None if it can be.

    A substitute mixes all input channels, so a grouped conv has no faithful
    substitute. ``nn.MultiheadAttention`` reads its ``out_proj``'s weight directly
    instead of calling it (torch marks that layer with its own Linear subclass).
    """
    if _conv(module) and module.groups != 1:
        return f"grouped (groups={module.groups})"
    if isinstance(module, nn.modules.linear.NonDynamicallyQuantizableLinear):
        return "its nn.MultiheadAttention reads the weight directly"
    return None


def _picked(model: nn.Module, select) -> Predicate:
    """The layers ``select`` picks, before ``exclude`` and ``kept_dense``."""
    if select is None:
        points = model.substitution_points if isinstance(model, ModelCapabilities) else None
        if points is None:
            select = "spatial"
        else:
            points = frozenset(points)
            select = lambda name, module: name in points  # noqa: E731
    if isinstance(select, str) and select in SELECTIONS:
        select = SELECTIONS[select]
    elif isinstance(select, str) or not callable(select):
        hint = did_you_mean(select, SELECTIONS) if isinstance(select, str) else ""
        raise ConfigError(f"select must be one of {', '.join(SELECTIONS)} or a callable (name, module) -> bool, "
                          f"but got select={select!r}{hint}")
    return lambda name, module: (_conv(module) or _linear(name, module)) and bool(select(name, module))


def _patterns(exclude: Iterable[str]) -> tuple:
    return (exclude,) if isinstance(exclude, str) else tuple(exclude)


def _excluded(name: str, patterns: tuple) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _check_choice(candidates: list, select, patterns: tuple) -> None:
    """Refuse a choice the user made that does not do what they meant: ``candidates`` are the layers ``select`` picks.

    An ``exclude`` glob that matches none of them is a typo: the network would be substituted
    everywhere while its user believes a layer kept dense. A ``select`` or ``exclude`` that leaves
    no layer to substitute would label the dense network as substituted.
    """
    if select is None and not patterns:
        return  # the model's own points: a model without any is for the counter to report
    names = [name for name, _ in candidates]
    chose = "the default selection" if select is None else \
        f"select={select!r}" if isinstance(select, str) else "the select callable"
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(name, pattern) for name in names):
            close = difflib.get_close_matches(pattern, names, n=5, cutoff=0.5) or names[:5]
            raise ConfigError(f"exclude pattern {pattern!r} matches none of the {len(names)} layers {chose} picks "
                              f"(a glob matches whole qualified names)"
                              + (f"; close layer names: {', '.join(close)}" if close else ""))
    reasons = [kept_dense(module) for name, module in candidates if not _excluded(name, patterns)]
    if all(reason is not None for reason in reasons):
        excluded = len(names) - len(reasons)
        parts = ([f"exclude={list(patterns)!r} matches {excluded}"] if excluded else []) + \
            ([f"{len(reasons)} cannot be substituted ({'; '.join(sorted(set(reasons)))})"] if reasons else [])
        why = f"of the {len(names)} layers {chose} picks, {' and '.join(parts)}" if names else \
            f"{chose} picks no nn.Conv2d or nn.Linear of this model"
        raise ConfigError(f"nothing to substitute: {why}; choose a selection that leaves at least one layer "
                          f"({', '.join(SELECTIONS)}) or fewer exclude globs")


def selection(select: Union[str, Predicate, None] = None, exclude: Iterable[str] = (),
              model: Optional[nn.Module] = None) -> Predicate:
    """``(name, module) -> bool``: true for the modules :func:`substitute` replaces.

    ``select=None`` means ``model``'s recorded substitution points if it has them, else ``"spatial"``.
    Only ``nn.Conv2d`` and ``nn.Linear`` modules are ever selected, and never those :func:`kept_dense` names.
    """
    picked, patterns = _picked(model, select), _patterns(exclude)
    return lambda name, module: picked(name, module) and not _excluded(name, patterns) and kept_dense(module) is None


@dataclass(frozen=True)
class Replacement:
    name: str
    kind: str  # "conv" or "linear"
    in_channels: int  # in_features for a linear
    out_channels: int
    kernel_size: tuple  # (1, 1) for a linear, and stride, padding, dilation likewise the identity
    stride: tuple
    padding: Union[tuple, str]  # nn.Conv2d's own value: a pair, 'same' or 'valid'
    dilation: tuple
    bias: bool
    new_type: str


@dataclass(frozen=True)
class KeptDense:
    """A selected layer left as it was, and why (see :func:`kept_dense`)."""

    name: str
    reason: str


@dataclass(frozen=True)
class SubstitutionReport:
    substitute: str
    replaced: tuple  # of Replacement
    kept_dense: tuple = ()  # of KeptDense: selected by kind, but not substitutable

    def __len__(self):
        return len(self.replaced)


def _check_substitutable(name: str, module: nn.Module, build, label: str) -> None:
    if _conv(module) and module.padding_mode != "zeros":
        raise ConfigError(f"cannot substitute {name!r}: only zero-padded convs are supported, "
                          f"but got padding_mode={module.padding_mode!r}")
    if _linear(name, module) and not has_linear_form(build):
        raise ConfigError(
            f"cannot substitute {name!r}: substitute {label!r} replaces convolutions only, not nn.Linear "
            f"(substitutes with a linear form: {', '.join(linear_substitutes())})"
        )


def _build(name: str, module: nn.Module, build) -> tuple[nn.Module, Replacement]:
    has_bias = module.bias is not None
    if _linear(name, module):
        new = build.linear(module.in_features, module.out_features, bias=has_bias)
        record = Replacement(name, "linear", module.in_features, module.out_features, (1, 1), (1, 1), (0, 0), (1, 1),
                             has_bias, type(new).__name__)
    else:
        new = build(module.in_channels, module.out_channels, module.kernel_size, stride=module.stride,
                    padding=module.padding, dilation=module.dilation, bias=has_bias)
        record = Replacement(name, "conv", module.in_channels, module.out_channels, module.kernel_size, module.stride,
                             module.padding, module.dilation, has_bias, type(new).__name__)
    new.to(device=module.weight.device, dtype=module.weight.dtype)
    if type(new) is type(module):  # the dense substitute of a dense layer is that layer: keep its (trained) weights
        new.load_state_dict(module.state_dict())
    return new, record


def substitute(model: nn.Module, factory, setting=None, select: Union[str, Predicate, None] = None,
               exclude: Iterable[str] = ()) -> SubstitutionReport:
    """Replace, in place, every ``nn.Conv2d`` and ``nn.Linear`` of ``model`` the selection picks.

    ``select``: None (the model's recorded substitution points, if :func:`create_model`
    built it, else ``"spatial"``), a name of :data:`SELECTIONS`, or a callable
    ``(qualified_name, module) -> bool``; ``exclude``: fnmatch globs on qualified names.
    A conv's substitute gets its full geometry (every element of stride, padding and
    dilation, and whether it has a bias), a linear's its features and bias; both get
    the old module's device and dtype. Selected layers that no substitute can
    replace faithfully stay dense and are listed in the report's ``kept_dense``.
    Everything is checked before anything is replaced.
    """
    build = as_factory(factory, setting)
    label = getattr(build, "label", getattr(factory, "__name__", repr(factory)))
    picked, patterns = _picked(model, select), _patterns(exclude)
    candidates = [(name, module) for name, module in model.named_modules() if picked(name, module)]
    _check_choice(candidates, select, patterns)
    targets, kept = [], []
    for name, module in candidates:
        if _excluded(name, patterns):
            continue
        reason = kept_dense(module)
        if reason is None:
            _check_substitutable(name, module, build, label)
            targets.append((name, module))
        else:
            kept.append(KeptDense(name, reason))
    replaced = []
    for name, module in targets:
        new, record = _build(name, module, build)
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, new)
        replaced.append(record)
    return SubstitutionReport(label, tuple(replaced), tuple(kept))
