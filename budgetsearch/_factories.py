"""Functions marked as model factories: what a ``package.module:callable`` reference may name besides an
``nn.Module`` subclass.

A reference can come from a study file or a command line, so it must not be
able to name an arbitrary callable (``os:system``). A function that builds a
model says so with :func:`model_factory`, or its package declares it in the
entry-point group :data:`ENTRY_POINT_GROUP`; nothing else is ever called.
Kept free of torch so that ``import budgetsearch`` stays cheap.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Callable, TypeVar

ENTRY_POINT_GROUP = "budgetsearch.model_factories"

_marked: list = []  # compared by identity: a callable need not be hashable
Factory = TypeVar("Factory", bound=Callable)


def model_factory(make: Factory) -> Factory:
    """Mark ``make`` as a function that returns an ``nn.Module``, so a model reference may name it.

    ``@budgetsearch.model_factory`` above ``def my_net(num_classes=10, width=16): ...``
    lets a study file say ``model = "mypackage.nets:my_net"``.
    """
    if isinstance(make, type) or not callable(make):
        raise TypeError(f"model_factory marks functions that build a model, but got {make!r} "
                        f"(an nn.Module subclass needs no mark)")
    if not is_marked(make):
        _marked.append(make)
    return make


def is_marked(make) -> bool:
    """Whether ``make`` was marked with :func:`model_factory`."""
    return any(make is marked for marked in _marked)


def is_declared(reference: str) -> bool:
    """Whether an installed package declares ``reference`` in :data:`ENTRY_POINT_GROUP` (read, never loaded)."""
    return any("".join(entry.value.split()) == reference for entry in entry_points(group=ENTRY_POINT_GROUP))
