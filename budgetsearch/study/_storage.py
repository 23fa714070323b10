"""Where a study lives: a journal file under ``runs/<study>/`` by default, or any Optuna RDB URL.

The journal file needs no server and is safe for several local worker
processes (Optuna appends to it under a file lock); SQLite is not offered as
the default because it locks under parallel writers. An RDB URL
(``postgresql://...``) lets workers on many machines share one study; running
trials there send heartbeats so that a dead worker's trial is noticed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Optional

import optuna

from ..errors import ConfigError

logger = logging.getLogger("budgetsearch.study")

DEFAULT_RUNS_DIR = "runs"
JOURNAL_FILE = "journal.log"


def study_dir(study_name: str, runs_dir=DEFAULT_RUNS_DIR) -> Path:
    """The folder of a study's local files: the default journal, teacher checkpoints, worker locks."""
    return Path(runs_dir) / study_name


def is_journal(url: Optional[str]) -> bool:
    return url is None


def open_storage(url: Optional[str], study_name: str, *, runs_dir=DEFAULT_RUNS_DIR,
                 heartbeat_interval: Optional[int] = None, grace_period: Optional[int] = None,
                 on_stale_trial: Optional[Callable] = None) -> optuna.storages.BaseStorage:
    """An Optuna storage: ``None`` -> a JournalStorage at ``runs_dir/<study_name>/journal.log``; else an RDB URL.

    ``heartbeat_interval``/``grace_period``/``on_stale_trial`` configure the RDB
    heartbeat (ignored for the journal file, whose workers are checked by lock
    files instead, see :mod:`._owners`).
    """
    if url is None:
        folder = study_dir(study_name, runs_dir)
        folder.mkdir(parents=True, exist_ok=True)
        backend = optuna.storages.journal.JournalFileBackend(str(folder / JOURNAL_FILE))
        return optuna.storages.JournalStorage(backend)
    if not isinstance(url, str) or "://" not in url:
        raise ConfigError(f"storage must be an Optuna RDB URL such as 'postgresql://user@host/db' or "
                          f"'sqlite:///study.db' (or none for the default journal file), but got {url!r}")
    try:
        return optuna.storages.RDBStorage(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period,
                                          heartbeat_stale_trial_callback=on_stale_trial)
    except ImportError as error:
        raise ConfigError(f"storage {url!r} needs a database driver that is not installed "
                          f"(for PostgreSQL: pip install psycopg2-binary): {error}") from None
    except Exception as error:  # sqlalchemy's connection errors: report them as a bad setting, one line
        raise ConfigError(f"cannot open storage {url!r}: {type(error).__name__}: {str(error).splitlines()[0]}") from None
