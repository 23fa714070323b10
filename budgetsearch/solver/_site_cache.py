"""Per-site counts remembered for the whole process, and optionally on disk between processes.

A site's count with a substitute depends only on the site (its geometry and
input), the substitute, what the setting resolves to there, the compatibility
mode and the rule table; so one count serves every budget, every solve and
every network that has a site of that geometry. :data:`SITE_COUNTS` holds them
for the process.

The disk copy lets a second ``budgetsearch solve`` reuse the first's traces and
network setups. It is one JSON file per (budgetsearch version and source,
torch version, fvcore version), so any change to the code that builds or counts
invalidates it: an editable install changes its source without changing its
version, so the files' sizes and modification times are part of the key. It
lives in ``$BUDGETSEARCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/budgetsearch``
(``~/.cache/budgetsearch``); ``BUDGETSEARCH_NO_CACHE=1`` turns it off. Only
counts that the package's own code determines are written: built-in
substitutes and families under the default rules (a plugin or a user's model
can change without any version changing). A torn, foreign or unreadable file
counts as empty and is replaced at the next save; a failed write is logged,
never raised.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import logging
import os
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Callable, Dict, Hashable, Optional

from ..counting import check_counter

logger = logging.getLogger(__name__)

FORMAT = 1
TABLES = ("params", "mult_adds", "rebuilds", "setups")  # kept on disk; any other table lives in memory only
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def cache_dir() -> Optional[Path]:
    """Where the disk copy lives, or None when ``BUDGETSEARCH_NO_CACHE`` is set to anything but 0 or empty."""
    if os.environ.get("BUDGETSEARCH_NO_CACHE", "") not in ("", "0"):
        return None
    if os.environ.get("BUDGETSEARCH_CACHE_DIR"):
        return Path(os.environ["BUDGETSEARCH_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "budgetsearch"


@functools.lru_cache(maxsize=1)
def code_key() -> str:
    """A digest of everything a count depends on besides its arguments: versions, and the package's source files."""
    import torch

    from .. import __version__

    digest = hashlib.sha256(f"{FORMAT} {__version__} {torch.__version__} {version('fvcore')}".encode())
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path.relative_to(PACKAGE_ROOT)} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def disk_key(key: tuple) -> str:
    """A stable text key for a tuple of plain values and frozen dataclasses (their ``repr`` is deterministic)."""
    return hashlib.sha256(repr(key).encode()).hexdigest()[:32]


class SiteCounts:
    """Tables from a key to a count; each entry is kept in memory and, when it has a disk key, on disk.

    ``get(table, key, stored_as, compute)`` returns the remembered value or computes and
    remembers it; ``stored_as()`` gives its key on disk (a :func:`disk_key`, or None for what
    must not outlive the process), asked only when memory misses: a solve looks its counts up
    thousands of times. ``stored_as`` None: never on disk.
    """

    def __init__(self):
        self.clear()

    def get(self, table: str, key: Hashable, stored_as: Optional[Callable[[], Optional[str]]], compute):
        counter = check_counter(None)  # the counter in use (counter_in_use): each keeps its own counts
        key = (counter, key)
        memory = self._memory[table]
        if key in memory:
            return memory[key]
        stored_as = None if stored_as is None else stored_as()
        if stored_as is not None:
            stored_as = f"{counter}:{stored_as}"
            stored = self._loaded()[table].get(stored_as)
            if stored is not None:
                memory[key] = stored
                return stored
        value = memory[key] = compute()
        if stored_as is not None and self._path() is not None:
            self._new[table][stored_as] = value
        return value

    def save(self) -> None:
        """Write what this process counted to disk, merged with what other processes wrote meanwhile."""
        path = self._path()
        if path is None or not any(self._new.values()):
            return
        merged = _read(path)
        for table in TABLES:
            merged[table].update(self._new[table])
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written beside the file and renamed over it: a reader sees the old file or the new one, never half.
            descriptor, written = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
            try:
                with os.fdopen(descriptor, "w") as handle:
                    json.dump({"format": FORMAT, **merged}, handle)
                os.replace(written, path)
            except BaseException:
                os.unlink(written)
                raise
        except OSError as error:
            logger.debug("count cache not written to %s: %s", path, error)
            return
        self._disk, self._disk_path = merged, path
        self._new = {table: {} for table in TABLES}

    def clear(self) -> None:
        """Forget everything remembered in memory, as a new process would (the disk copy stays)."""
        self._memory: Dict[str, Dict[Hashable, object]] = collections.defaultdict(dict)
        self._disk: Optional[Dict[str, dict]] = None  # read on first use
        self._disk_path: Optional[Path] = None  # the file _disk was read from
        self._new: Dict[str, dict] = {table: {} for table in TABLES}  # counted here, not yet written

    def _path(self) -> Optional[Path]:
        directory = cache_dir()
        return None if directory is None else directory / f"counts-{code_key()}.json"

    def _loaded(self) -> Dict[str, dict]:
        path = self._path()
        if path is None:
            return {table: {} for table in TABLES}
        if self._disk is None or self._disk_path != path:
            self._disk, self._disk_path = _read(path), path
        return self._disk


def _read(path: Path) -> Dict[str, dict]:
    """The file's tables; empty ones for a missing, torn or foreign file."""
    try:
        data = json.loads(path.read_text())
        if data.get("format") == FORMAT and all(isinstance(data.get(table), dict) for table in TABLES):
            return {table: data[table] for table in TABLES}
    except (OSError, ValueError, AttributeError):
        pass
    return {table: {} for table in TABLES}


SITE_COUNTS = SiteCounts()
