"""Plugins: installed packages that register model families and substitutes through entry points.

A package declares, in its metadata, entry points in the groups
``budgetsearch.models`` and ``budgetsearch.substitutes``; each names a module
(or an object in one) whose import registers its families or substitutes with
:func:`~budgetsearch.models.register_model` / :func:`~budgetsearch.substitutes.register_substitute`.
They are loaded once per process, before the first registry lookup, so every
process (a study's workers included) sees the same names.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from .errors import ConfigError

GROUPS = ("budgetsearch.models", "budgetsearch.substitutes")
_loaded = False


def load_plugins() -> None:
    """Load every entry point of :data:`GROUPS` (once); a failing one is a ConfigError naming it."""
    global _loaded
    if _loaded:
        return
    _loaded = True  # first: a plugin's own registry lookups must not load the plugins again
    for group in GROUPS:
        for entry in entry_points(group=group):
            try:
                entry.load()
            except Exception as error:  # the plugin's code: name it and its own first line
                first = (str(error).strip().splitlines() or [""])[0]
                raise ConfigError(f"plugin {entry.name!r} ({group} = {entry.value!r}) failed to load: "
                                  f"{type(error).__name__}: {first}") from None
