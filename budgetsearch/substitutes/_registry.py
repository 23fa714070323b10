"""Registry of conv factories ("substitutes"), each declaring its size hyperparameter.

A substitute is called like ``nn.Conv2d(in_channels, out_channels, kernel_size,
stride, padding, dilation, bias)`` plus its one size hyperparameter, and returns
an ``nn.Module`` with ``nn.Conv2d``'s output shape. The solver knows a
substitute only through :class:`Hyperparameter`: its name, type, domain and
whether the parameter count grows or shrinks with it.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import re
from collections.abc import Iterable as AnyIterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Hashable, Iterable, Mapping, Optional, Union

from .._plugins import load_plugins
from ..errors import ConfigError, UnknownNameError
from ._declarations import DECLARATIONS, Declaration
from ._hyperparameter import Hyperparameter

if TYPE_CHECKING:  # the registry is read without torch (``budgetsearch substitutes``)
    from torch import nn

Setting = Union[int, float, None]


@dataclass(frozen=True)
class Substitute:
    """A registered conv factory.

    ``build(in_channels, out_channels, kernel_size, stride, padding, dilation, bias,
    **{hyperparameter.name: value})`` returns the module. ``compressed_types`` are the
    module types whose own parameters are the compressed weights (they get the
    compression-ratio-scaled weight decay); everything else is ordinary.

    ``sizes(in_channels, out_channels, kernel_size, setting)`` says what a setting
    resolves to at a layer geometry (a rank, a hash budget, a valid group count):
    the factory builds from exactly these integers, so two settings with equal
    sizes build layers of equal size. It is how the budget solver crosses the
    plateaus that ``int()`` and ``round()`` create without building a layer per
    probe. Without it, every setting counts as its own size.

    ``params(in_channels, out_channels, kernel_size, bias, sizes)``, where given, is the
    trainable parameter count of the layer built at a geometry (``kernel_size`` a pair; a
    linear form counts as its 1×1) from what a setting resolves to (``sizes``' result, or
    the setting without it): the solver probes parameters with it instead of building
    a layer per probe (``tests/substitutes/test_param_formulas.py`` checks it against
    every built layer's own count).

    ``linear(in_features, out_features, bias, **{hyperparameter.name: value})``, where
    given, builds the substitute's form for ``nn.Linear``: a module applied to inputs of
    shape ``(..., in_features)``. A substitute without it replaces convolutions only.
    """

    name: str
    build: Callable[..., nn.Module]
    hyperparameter: Optional[Hyperparameter]
    original_name: str
    summary: str
    paper: str = ""
    compressed_types: tuple = field(default_factory=tuple)
    sizes: Optional[Callable[[int, int, tuple, Setting], Hashable]] = None
    linear: Optional[Callable[..., nn.Module]] = None
    params: Optional[Callable[[int, int, tuple, bool, Hashable], int]] = None

    @property
    def layer_kinds(self) -> tuple:
        """The layer types this substitute can replace: ``"conv"`` always, ``"linear"`` where it has a linear form."""
        return ("conv", "linear") if self.linear is not None else ("conv",)

    def resolve(self, in_channels: int, out_channels: int, kernel_size, setting: Setting) -> Hashable:
        """What ``setting`` builds at this geometry (see ``sizes``); the setting itself if undeclared."""
        if self.sizes is None:
            return setting
        return self.sizes(in_channels, out_channels, _pair(kernel_size), setting)

    def check_setting(self, setting: Setting) -> Setting:
        if self.hyperparameter is None:
            if setting is not None:
                raise ConfigError(f"substitute {self.name!r} takes no setting, but got setting={setting!r}")
            return None
        if setting is None:
            raise ConfigError(
                f"substitute {self.name!r} needs a setting for {self.hyperparameter.name} "
                f"({self.hyperparameter.domain}), but got none"
            )
        return self.hyperparameter.validate(setting)

    def factory(self, setting: Setting = None) -> "ConvFactory":
        """A callable with ``nn.Conv2d``'s signature that builds this substitute at ``setting``."""
        return ConvFactory(self, self.check_setting(setting))


@dataclass(frozen=True)
class ConvFactory:
    """A substitute bound to a setting; called like ``nn.Conv2d``, and like ``nn.Linear`` through :meth:`linear`.

    ``options`` are keyword options of the substitute's conv form that a
    compatibility mode sets (``quirks=True``, see :mod:`budgetsearch.compat`),
    and ``compat`` names that mode (None: budgetsearch's own layers). The linear
    form takes no options: the original code had no linear layers to be compatible with.
    """

    substitute: Substitute
    setting: Setting
    options: Mapping[str, object] = field(default_factory=dict)
    compat: Optional[str] = None

    def _sized(self, options: dict) -> dict:
        if self.substitute.hyperparameter is None:
            return dict(options)
        return dict(options) | {self.substitute.hyperparameter.name: self.setting}

    def __call__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True, **options):
        return self.substitute.build(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                                     dilation=dilation, bias=bias, **self._sized(dict(self.options) | options))

    def linear(self, in_features, out_features, bias=True, **options) -> nn.Module:
        """The substitute in place of ``nn.Linear(in_features, out_features, bias)``."""
        if self.substitute.linear is None:
            raise ConfigError(f"substitute {self.substitute.name!r} replaces convolutions only, not nn.Linear "
                              f"(substitutes with a linear form: {', '.join(linear_substitutes())})")
        return self.substitute.linear(in_features, out_features, bias=bias, **self._sized(options))

    @property
    def label(self) -> str:
        label = self.substitute.name if self.setting is None else f"{self.substitute.name}:{self.setting:g}"
        return label if self.compat is None else f"{label} [{self.compat}]"

    def __hash__(self):
        return hash((self.substitute.name, self.setting, tuple(sorted(self.options.items())), self.compat))


def has_linear_form(factory) -> bool:
    """Whether a conv factory (a :class:`ConvFactory` or any callable) also builds layers in place of ``nn.Linear``."""
    if isinstance(factory, ConvFactory):
        return factory.substitute.linear is not None
    return callable(getattr(factory, "linear", None))


def did_you_mean(name, known: Iterable[str]) -> str:
    """`` (did you mean 'a' or 'b'?)`` for the names in ``known`` close to ``name`` (any case), or ``""``."""
    by_lower = {}
    for candidate in known:
        by_lower.setdefault(candidate.lower(), candidate)  # the first spelling given wins
    close = difflib.get_close_matches(str(name).lower(), by_lower, n=3)
    if not close:
        return ""
    return f" (did you mean {' or '.join(repr(by_lower[c]) for c in close)}?)"


_DECLARED: dict[str, Declaration] = {declaration.name: declaration for declaration in DECLARATIONS}
_SUBSTITUTES: dict[str, Substitute] = {}  # registered: the built-in ones once their module is imported, and plugins'
_ORIGINAL_NAMES: dict[str, str] = {declaration.original_name.lower(): declaration.name for declaration in DECLARATIONS}


def implemented(name: str, build: Callable[..., nn.Module], compressed_types: tuple = (),
                sizes: Optional[Callable] = None, linear: Optional[Callable[..., nn.Module]] = None,
                params: Optional[Callable] = None) -> Substitute:
    """The built-in substitute ``name`` of ``_declarations``, built by ``build`` (see :class:`Substitute`)."""
    declared = _DECLARED.get(name)
    if declared is None:
        raise ConfigError(f"substitute {name!r} is not declared: add its Declaration to "
                          f"budgetsearch/substitutes/_declarations.py (a plugin registers a Substitute instead)")
    return Substitute(name=name, build=build, hyperparameter=declared.hyperparameter,
                      original_name=declared.original_name, summary=declared.summary, paper=declared.paper,
                      compressed_types=compressed_types, sizes=sizes, linear=linear, params=params)


def _declaration(substitute: Substitute, module: str) -> Declaration:
    return Declaration(substitute.name, module, substitute.original_name, substitute.hyperparameter,
                       substitute.summary, substitute.paper)


def register_substitute(substitute: Substitute) -> Substitute:
    """Add a substitute; a name (or original name) already taken is an error.

    A built-in substitute registers the declaration its name holds (:func:`implemented`).
    """
    declared = _DECLARED.get(substitute.name)
    own = declared is not None and _declaration(substitute, declared.module) == declared
    taken = [substitute.name] if substitute.name in _SUBSTITUTES or (declared is not None and not own) else []
    if _ORIGINAL_NAMES.get(substitute.original_name.lower(), substitute.name) != substitute.name:
        taken.append(substitute.original_name.lower())
    if taken:
        raise ConfigError(f"substitute name {taken[0]!r} is already registered")
    _SUBSTITUTES[substitute.name] = substitute
    _ORIGINAL_NAMES[substitute.original_name.lower()] = substitute.name
    return substitute


def _names() -> list[str]:
    """Every name, in listing order: the built-in ones as declared, then the plugins' as registered."""
    load_plugins()
    return [*_DECLARED, *(name for name in _SUBSTITUTES if name not in _DECLARED)]


def list_substitutes(pattern: str = "*") -> list[str]:
    """Registered names matching a shell-style pattern, in registration order (no layer module is imported)."""
    return [name for name in _names() if fnmatch.fnmatch(name, pattern)]


def linear_substitutes() -> list[str]:
    """Registered names that also replace ``nn.Linear``."""
    return [name for name in _names() if get_substitute(name).linear is not None]


def _key(name: str) -> str:
    """The registered name of ``name`` or of the original name ``name``; an unknown one is an error."""
    names = _names()
    key = name if name in names else _ORIGINAL_NAMES.get(str(name).lower())
    if key is None:
        original_names = [describe_substitute(n).original_name for n in names]
        raise UnknownNameError(
            f"unknown substitute {name!r}{did_you_mean(name, [*names, *original_names])}; registered: "
            f"{', '.join(names)} (original names: {', '.join(original_names)})"
        )
    return key


def describe_substitute(name: str) -> Declaration:
    """What :func:`get_substitute` would return, without importing its layers (nor torch) for a built-in one."""
    key = _key(name) if name not in _DECLARED and name not in _SUBSTITUTES else name
    if key in _DECLARED:
        return _DECLARED[key]
    substitute = _SUBSTITUTES[key]
    return _declaration(substitute, getattr(substitute.build, "__module__", ""))


def get_substitute(name: str) -> Substitute:
    """Look a substitute up by its name or its original name (``Tucker``, ``SepHashed``).

    A built-in substitute's module is imported (and registers it) on its first lookup.
    """
    key = _key(name)
    if key not in _SUBSTITUTES:
        importlib.import_module(f"{__package__}.{_DECLARED[key].module}")
        if key not in _SUBSTITUTES:
            raise ConfigError(f"module {__package__}.{_DECLARED[key].module} does not register the substitute "
                              f"{key!r} it is declared for (register_substitute(implemented({key!r}, ...)))")
    return _SUBSTITUTES[key]


def _pair(value) -> tuple:
    """``(value, value)``, or ``value``'s items as a tuple (torch's ``_pair``, without importing torch)."""
    return tuple(value) if isinstance(value, AnyIterable) else (value, value)


_SETTING_STRING = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9-]*)(?:[_:](?P<setting>[^_:]+))?$")


def parse_substitute(text: str, setting: Setting = None) -> ConvFactory:
    """Parse ``"tucker"`` plus a setting, ``"tucker:0.41"`` or the original ``"Tucker_0.41"``.

    A setting inside the string and a separate ``setting`` together are an error.
    """
    match = _SETTING_STRING.match(str(text).strip())
    if match is None:
        raise ConfigError(
            f"substitute must look like NAME, NAME:SETTING or the original NAME_SETTING "
            f"(e.g. 'tucker', 'tucker:0.41', 'Tucker_0.41'), but got {text!r}"
        )
    substitute = get_substitute(match["name"])
    embedded = match["setting"]
    if embedded is not None and setting is not None:
        raise ConfigError(f"substitute {text!r} already carries a setting, but setting={setting!r} was also given")
    return substitute.factory(embedded if embedded is not None else setting)


def as_factory(substitute: Union[str, Substitute, ConvFactory, Callable], setting: Setting = None) -> Callable:
    """Normalise what users pass as a substitute into a conv factory."""
    if isinstance(substitute, ConvFactory):
        if setting is not None:
            raise ConfigError(f"{substitute.label!r} is already bound to a setting, but setting={setting!r} was also given")
        return substitute
    if isinstance(substitute, Substitute):
        return substitute.factory(setting)
    if isinstance(substitute, str):
        return parse_substitute(substitute, setting)
    if callable(substitute) and setting is None:
        return substitute
    raise ConfigError(f"substitute must be a name, a registered Substitute or a callable, but got {substitute!r} (a plain callable takes no separate setting)")
