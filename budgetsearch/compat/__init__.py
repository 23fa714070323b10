"""Compatibility modes: reproduce another code base's counts to the integer.

budgetsearch's own layers and counting rules are clean and documented. A
compatibility mode switches to another code's conventions *without* a second
copy of the library: it is

* per-substitute keyword options (:data:`SUBSTITUTE_OPTIONS`) that the
  substitute factories already accept (``quirks=True`` and the like), passed
  through by :func:`compat_factory`, plus the original's setting strings that
  have no budgetsearch grammar (:data:`ALIASES`, e.g. ``HashedDecimate``);
* a counting rule table (``budgetsearch.counting._compat``), chosen by
  ``count(model, input_size, compat=...)``.

The one mode is ``"deficient-efficient"``: the research code of Gray, Crowley
and Storkey (2019, arXiv 1906.00859). What it changes, and why
budgetsearch's default differs, is the table in README ("Compatibility mode").
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from ..errors import ConfigError
from ..substitutes import ConvFactory, Hyperparameter, Substitute, as_factory, get_substitute

DEFICIENT_EFFICIENT = "deficient-efficient"
MODES = (DEFICIENT_EFFICIENT,)

# The original's parameter quirks, per registered substitute:
# hashed layers always carry a C_o bias and take B = int(h·size); ACDC_n builds n-1
# factors; the Tucker core is stored as a tensor train. The other substitutes
# already build the original's layers (TT/Tucker reshape and round-half-even ranks
# are budgetsearch's default too), and CP raised "Deprecated" in the original, so
# it keeps budgetsearch's definition.
SUBSTITUTE_OPTIONS = {
    DEFICIENT_EFFICIENT: {
        "hashed": {"quirks": True},
        "sep-hashed": {"quirks": True},
        "acdc": {"quirks": True},
        "tucker": {"quirks": True},
    },
}

# The original's setting strings that are not NAME_SETTING: (substitute, setting, extra options).
ALIASES = {
    DEFICIENT_EFFICIENT: {
        "hasheddecimate": ("hashed", 0.1, {}),  # B = size // 10 = int(0.1·size)
        "sephasheddecimate": ("sep-hashed", 0.1, {"budget_of": "dense"}),  # 10 % of the dense k×k conv
        "acdc": ("acdc", 12, {}),  # 11 factors, the last of 12 being discarded
        "originalacdc": ("acdc", 12, {"inner_riffle": False}),
    },
}


# Settings a mode's layers cannot take: the original's ACDC_1 built no factor at all.
LOWEST_SETTINGS = {
    DEFICIENT_EFFICIENT: {"acdc": 2},
}


def hyperparameter(substitute: Substitute, compat: Optional[str]) -> Optional[Hyperparameter]:
    """The substitute's declared hyperparameter, its domain narrowed to what mode ``compat`` can build."""
    hp = substitute.hyperparameter
    low = LOWEST_SETTINGS.get(check_mode(compat), {}).get(substitute.name)
    if hp is None or low is None:
        return hp
    return dataclasses.replace(hp, low=max(hp.low, low))


def check_mode(compat: Optional[str]) -> Optional[str]:
    """``None`` (budgetsearch's own conventions) or a known mode; anything else is a ConfigError."""
    if compat is None or compat in MODES:
        return compat
    raise ConfigError(f"compat must be None or one of {', '.join(repr(m) for m in MODES)}, but got compat={compat!r}")


def compat_factory(substitute, setting=None, compat: Optional[str] = None):
    """The conv factory for ``substitute`` at ``setting`` under mode ``compat``.

    ``substitute`` is anything :func:`~budgetsearch.substitutes.as_factory` takes, or
    one of the mode's :data:`ALIASES`. With ``compat=None`` this is ``as_factory``;
    under a mode it is the same :class:`~budgetsearch.substitutes.ConvFactory` carrying
    the mode's options for its conv form. A plain callable is not a registered
    substitute: it is returned unchanged.
    """
    mode = check_mode(compat)
    if mode is None:
        return as_factory(substitute, setting)
    alias = ALIASES[mode].get(substitute.strip().lower()) if isinstance(substitute, str) else None
    if alias is not None:
        if setting is not None:
            raise ConfigError(f"{substitute!r} is a fixed setting of the original, but setting={setting!r} was also given")
        name, setting, extra = alias
        factory = get_substitute(name).factory(setting)
    else:
        factory = as_factory(substitute, setting)
        extra = {}
        if not isinstance(factory, ConvFactory):
            return factory
    options = SUBSTITUTE_OPTIONS[mode].get(factory.substitute.name, {}) | extra
    return ConvFactory(factory.substitute, factory.setting, options, mode)


__all__ = ["ALIASES", "DEFICIENT_EFFICIENT", "LOWEST_SETTINGS", "MODES", "SUBSTITUTE_OPTIONS",
           "check_mode", "compat_factory", "hyperparameter"]
