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
import math
import re
from dataclasses import dataclass, field
from typing import Callable, Hashable, Iterable, Mapping, Optional, Union

from torch import nn
from torch.nn.modules.utils import _pair

from .._plugins import load_plugins
from ..errors import ConfigError, UnknownNameError

Setting = Union[int, float, None]


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


_SUBSTITUTES: dict[str, Substitute] = {}
_ORIGINAL_NAMES: dict[str, str] = {}


def register_substitute(substitute: Substitute) -> Substitute:
    """Add a substitute; a name (or original name) already taken is an error."""
    for key, table in ((substitute.name, _SUBSTITUTES), (substitute.original_name.lower(), _ORIGINAL_NAMES)):
        if key in table:
            raise ConfigError(f"substitute name {key!r} is already registered")
    _SUBSTITUTES[substitute.name] = substitute
    _ORIGINAL_NAMES[substitute.original_name.lower()] = substitute.name
    return substitute


def list_substitutes(pattern: str = "*") -> list[str]:
    """Registered names matching a shell-style pattern, in registration order."""
    load_plugins()
    return [name for name in _SUBSTITUTES if fnmatch.fnmatch(name, pattern)]


def linear_substitutes() -> list[str]:
    """Registered names that also replace ``nn.Linear``."""
    load_plugins()
    return [name for name, s in _SUBSTITUTES.items() if s.linear is not None]


def get_substitute(name: str) -> Substitute:
    """Look a substitute up by its name or its original name (``Tucker``, ``SepHashed``)."""
    load_plugins()
    key = name if name in _SUBSTITUTES else _ORIGINAL_NAMES.get(str(name).lower())
    if key is None:
        original_names = [s.original_name for s in _SUBSTITUTES.values()]
        raise UnknownNameError(
            f"unknown substitute {name!r}{did_you_mean(name, [*_SUBSTITUTES, *original_names])}; registered: "
            f"{', '.join(_SUBSTITUTES)} (original names: {', '.join(original_names)})"
        )
    return _SUBSTITUTES[key]


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
