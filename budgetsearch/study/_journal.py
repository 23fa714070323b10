"""A journal file checked before Optuna reads or appends to it: a torn last record is cut, damage elsewhere refused.

Optuna appends each record as one JSON line under its own lock file and
fsyncs it, so an intact journal is a sequence of complete lines. A process
killed while appending (or a full disk, or a copy cut short) leaves the last
line incomplete; Optuna's reader skips it, but its next append lands right
after it and fuses two records into one line that no reader can parse again,
so every later read of the study fails. Cutting the torn line first loses only
that record: the trial it belonged to is then RUNNING with a dead owner, and
is failed as lost and queued again like any trial of a dead worker
(:mod:`._queue`). A line that is not a record anywhere before the end is not a
torn append but damage this module cannot repair without guessing, so it is
an error naming the line, and the file is left as it is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from optuna.storages.journal import JournalFileSymlinkLock

from ..errors import ConfigError

RECORD_START = b'{"op_code":'  # how Optuna writes every record (json.dumps of a dict whose first key is op_code)
_TRIAL_ID = re.compile(rb'"trial_id":(\d+)')


def repair_journal(path) -> Optional[str]:
    """Check the journal at ``path``; cut a torn last record. Returns one line saying what was done, None if intact.

    Raises :class:`ConfigError` naming the file and the line if any other line is not an Optuna journal record.
    """
    path = Path(path)
    if not _tail(path):
        return None
    lock = JournalFileSymlinkLock(str(path))  # Optuna's writers' lock: no append is half-way while it is held
    lock.acquire()
    try:
        tail = _tail(path)  # read again: what looked torn may have been an append in progress
        return _cut(path, tail) if tail else None
    finally:
        lock.release()


def _tail(path: Path) -> bytes:
    """The bytes after the last line end, having checked every complete line is a record."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read journal file {str(path)!r}: {error.strerror or error}") from None
    *lines, tail = data.split(b"\n")
    for number, line in enumerate(lines, start=1):
        if not _is_record(line):
            raise ConfigError(f"{path}: line {number} is not an Optuna journal record ({_shown(line)}); the file is "
                              f"damaged or not a journal; it was left unchanged")
    if tail and not (tail.startswith(RECORD_START) or RECORD_START.startswith(tail)):
        raise ConfigError(f"{path}: line {len(lines) + 1} is not an Optuna journal record ({_shown(tail)}); the file "
                          f"is damaged or not a journal; it was left unchanged")
    return tail


def _is_record(line: bytes) -> bool:
    try:
        record = json.loads(line)
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        return False
    return isinstance(record, dict) and isinstance(record.get("op_code"), int)


def _cut(path: Path, tail: bytes) -> str:
    size = path.stat().st_size
    line = path.read_bytes().count(b"\n") + 1
    if _is_record(tail):  # every byte of the record arrived, only its line end did not
        with open(path, "ab") as handle:
            handle.write(b"\n")
        return f"{path}: line {line} was a complete record without its line end; the line end was added"
    copy = path.with_name(f"{path.name}.torn-{datetime.now(timezone.utc):%Y%m%dT%H%M%S.%fZ}")
    shutil.copy2(path, copy)
    os.truncate(path, size - len(tail))
    trial = _TRIAL_ID.search(tail)
    whose = f" of trial id {int(trial[1])}, which is queued again when found unfinished" if trial else ""
    return (f"{path}: cut a torn last record ({len(tail)} bytes at line {line}{whose}); "
            f"the file as it was is kept as {copy.name}")


def _shown(line: bytes, limit: int = 60) -> str:
    text = repr(line[:limit])
    return text + (f" ... ({len(line)} bytes)" if len(line) > limit else "")
