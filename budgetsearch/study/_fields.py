"""Reading one TOML table field by field, with errors that name the file, the key, the value and what is allowed.

A :class:`Table` is consumed key by key; :meth:`Table.finish` then rejects any
key nobody asked for, so a misspelt key is an error instead of a silently
ignored setting.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

from ..errors import ConfigError

MISSING = object()
SHOWN_CHARS = 200  # a value longer than this is cut in messages (a 50 MB string is not echoed back whole)


def shown(value) -> str:
    """``repr(value)``, cut to :data:`SHOWN_CHARS` characters."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}... ({len(text):,} characters)"


def describe_type(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


class Table:
    """The keys of one TOML table (``prefix`` is its dotted path, "" for the top level)."""

    def __init__(self, source: str, prefix: str, values: dict):
        self.source = source
        self.prefix = prefix
        self.values = dict(values)
        self.used: list[str] = []

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, name: str, value, allowed: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.key(name)} = {shown(value)} is not allowed; allowed: {allowed}")

    def get(self, name: str, kind, default=MISSING, *, check: Optional[Callable[[Any], bool]] = None,
            allowed: str = "", convert: Optional[Callable[[Any], Any]] = None):
        """The value of ``name``: of type ``kind``, passing ``check``, then ``convert``-ed; ``default`` if absent.

        ``allowed`` describes the permitted values for the error message; ints are accepted where floats are.
        """
        self.used.append(name)
        if name not in self.values:
            if default is MISSING:
                raise ConfigError(f"{self.source}: {self.key(name)} is required; allowed: {allowed or describe_type(kind)}")
            return default
        value = self.values[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and int not in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        type_ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if isinstance(value, float) and not math.isfinite(value):  # TOML's inf and nan: no setting can use them
            raise self.error(name, value, f"a finite number; {allowed or describe_type(kind)}")
        if not type_ok or (check is not None and not check(value)):
            raise self.error(name, self.values[name], allowed or describe_type(kind))
        return convert(value) if convert is not None else value

    def has(self, name: str) -> bool:
        return name in self.values

    def sub(self, name: str) -> "Table":
        """The nested table ``name`` (an empty one if absent)."""
        value = self.get(name, dict, {}, allowed="a table")
        return Table(self.source, self.key(name), value)

    def finish(self) -> None:
        unknown = [k for k in self.values if k not in self.used]
        if unknown:
            where = f"in [{self.prefix}]" if self.prefix else "at the top level"
            raise ConfigError(f"{self.source}: unknown key {shown(self.key(unknown[0]))} = {shown(self.values[unknown[0]])} "
                              f"{where}; allowed keys: {', '.join(sorted(set(self.used)))}")
