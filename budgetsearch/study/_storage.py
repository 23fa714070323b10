"""Where a study lives: a journal file under ``runs/<study>/`` by default, or any Optuna RDB URL.

The journal file needs no server and is safe for several local worker
processes (Optuna appends to it under a file lock); SQLite is not offered as
the default because it locks under parallel writers. An RDB URL
(``postgresql://...``) lets workers on many machines share one study; running
trials there send heartbeats so that a dead worker's trial is noticed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import time
import warnings
from pathlib import Path
from typing import Optional

import optuna
import sqlalchemy

from ..errors import ConfigError
from ._journal import repair_journal

logger = logging.getLogger("budgetsearch.study")

DEFAULT_RUNS_DIR = "runs"
JOURNAL_FILE = "journal.log"


def study_dir(study_name: str, runs_dir=DEFAULT_RUNS_DIR) -> Path:
    """The folder of a study's local files: the default journal, teacher checkpoints, worker locks."""
    return Path(runs_dir) / study_name


def is_journal(url: Optional[str]) -> bool:
    """Whether ``url`` names a journal file (None: the default one, or a path) rather than an RDB URL."""
    return url is None or "://" not in str(url)


def journal_path(url: Optional[str], study_name: str, runs_dir=DEFAULT_RUNS_DIR) -> Path:
    return study_dir(study_name, runs_dir) / JOURNAL_FILE if url is None else Path(url)


def journal_dir(url: Optional[str], study_name: str, runs_dir=DEFAULT_RUNS_DIR) -> Path:
    """The folder beside a journal file where its workers keep their lock files."""
    return journal_path(url, study_name, runs_dir).parent


def open_storage(url, study_name: str, *, runs_dir=DEFAULT_RUNS_DIR, heartbeat_interval: Optional[int] = None,
                 grace_period: Optional[int] = None) -> optuna.storages.BaseStorage:
    """An Optuna storage for ``url``: None -> a JournalStorage at ``runs_dir/<study_name>/journal.log``.

    ``url`` may also be a journal file path, an RDB URL (``postgresql://...``,
    ``sqlite:///...``) or a study file's :class:`StorageSettings` (its URL and
    heartbeat settings). ``heartbeat_interval``/``grace_period`` configure RDB
    heartbeats (a journal file's workers are checked by lock files
    instead, see :mod:`._owners`).
    """
    if hasattr(url, "url") and hasattr(url, "heartbeat_interval"):  # StorageSettings
        settings, url = url, url.url
        heartbeat_interval = heartbeat_interval or settings.heartbeat_interval
        grace_period = grace_period or settings.grace_period
    if url is not None and (not isinstance(url, (str, Path)) or not str(url)):
        raise ConfigError(f"storage must be an Optuna RDB URL such as 'postgresql://user@host/db', a journal file "
                          f"path, or none for the default journal file, but got {url!r}")
    if is_journal(url):
        return _open_journal(journal_path(url, study_name, runs_dir))
    with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna, and used deliberately here
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            return _create_rdb_storage(str(url), heartbeat_interval, grace_period)
        except ImportError as error:
            raise ConfigError(f"storage {url!r} needs a database driver that is not installed "
                              f"(for PostgreSQL: pip install 'psycopg[binary]'): {error}") from None
        except Exception as error:  # sqlalchemy's connection errors: a bad setting, reported in one line
            raise ConfigError(f"cannot open storage {url!r}: {type(error).__name__}: "
                              f"{str(error).splitlines()[0]}") from None


def _create_rdb_storage(url: str, heartbeat_interval, grace_period, attempts: int = 5):
    """Optuna's RDBStorage, created again when another process created the same tables at the same moment.

    Two ``run``s on an empty database both find no tables and both create them;
    the loser gets a unique-constraint error (PostgreSQL's catalog) or a
    "table already exists" error (SQLite). The second attempt finds the tables.
    """
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError, sqlalchemy.exc.OperationalError) \
                as error:
            racing = isinstance(error, sqlalchemy.exc.IntegrityError) or "already exists" in str(error) \
                or "locked" in str(error)
            if not racing or attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))


@contextlib.contextmanager
def storage_errors(url):
    """Database errors met while reading or writing a study (a damaged SQLite file...) as one-line ConfigErrors."""
    try:
        yield
    except sqlalchemy.exc.SQLAlchemyError as error:
        cause = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise ConfigError(f"storage {str(url)!r} failed: {type(error).__name__}: {cause}") from None


def _open_journal(path: Path) -> optuna.storages.JournalStorage:
    """The journal file at ``path`` (created if missing), its torn last record cut first (see :mod:`._journal`)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and not path.is_file():  # a FIFO would block the read, a directory cannot be appended to
            raise ConfigError(f"cannot use {str(path)!r} as a journal file: it is not a regular file")
        if path.exists():
            repaired = repair_journal(path)
            if repaired is not None:
                logger.warning("%s", repaired)
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    except OSError as error:  # a directory, a path under a file, no permission, a name too long...
        raise ConfigError(f"cannot use {str(path)!r} as a journal file: {error.strerror or error}") from None


@contextlib.contextmanager
def queue_lock(url, study_name: str, runs_dir=DEFAULT_RUNS_DIR):
    """Held while a ``run`` reads which trials exist and queues the missing ones.

    Two ``run``s of one study started together would otherwise both find a cell
    missing and both queue it. Journal files and SQLite: an exclusive lock on a
    file beside the data. PostgreSQL: an advisory lock named after the study,
    held by a connection of its own (released by the server if the process dies).
    Other databases are not locked: start one ``run`` and join it with ``worker``s.
    """
    if is_journal(url):
        with _file_lock(journal_dir(url, study_name, runs_dir) / "queue.lock"):
            yield
        return
    parsed = sqlalchemy.engine.make_url(str(url))
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        with _advisory_lock(str(url), study_name):
            yield
    elif backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
        with _file_lock(Path(f"{parsed.database}.queue.lock")):
            yield
    else:
        logger.warning("storage %s (%s): concurrent `run`s of study %r are not serialised; start one `run` and "
                       "join it with `worker`s", parsed.render_as_string(hide_password=True), backend, study_name)
        yield


@contextlib.contextmanager
def _file_lock(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _advisory_lock(url: str, study_name: str):
    digest = hashlib.sha256(f"budgetsearch queue {study_name}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)  # PostgreSQL's lock keys are bigint
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    finally:
        engine.dispose()
