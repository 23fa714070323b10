"""Packages whose public names import their module on first use (PEP 562), so that importing one is free.

A command that only reads a study (``status``) needs its config classes, not
the trainer: with eager re-exports, ``from budgetsearch.study import X`` would
import every module of the package, and torch with them (seconds of a start).
"""

from __future__ import annotations

import importlib
from typing import Callable, Mapping


def lazy_exports(namespace: dict, modules: Mapping[str, tuple]) -> tuple[Callable, Callable, list]:
    """``(__getattr__, __dir__, __all__)`` for the package of ``namespace`` (its ``globals()``) re-exporting
    ``{submodule: names}``.

    A name is looked up in its submodule when first asked for, then kept in
    the package's namespace like an eager import's.
    """
    package = namespace["__name__"]
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list:
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__, sorted(where)
