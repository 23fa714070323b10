"""Which worker owns a running trial, and whether that worker is still alive.

On RDB storage Optuna's heartbeats answer this. A journal file has no
heartbeats, so each worker process holds an exclusive ``flock`` on its own
lock file ``runs/<study>/owners/<token>.lock`` for as long as it lives, and
records the token on the trials it claims. The kernel drops the lock when the
process dies however it dies (kill -9 included), so "can I take the owner's
lock?" is an exact test of a dead owner that needs no clocks and survives PID
reuse.
"""

from __future__ import annotations

import fcntl
import os
import socket
import uuid
from pathlib import Path

OWNER_ATTR = "budgetsearch:owner"  # trial system attribute: the owning worker's token


def new_token() -> str:
    """A worker's name on the trials it claims: host, process id and a random part (process ids are reused)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


class OwnerLock:
    """This process's ownership token, held alive by an exclusive lock on ``folder/<token>.lock``."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.token = new_token()
        self._handle = open(self.folder / f"{self.token}.lock", "w")
        fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def release(self) -> None:
        if not self._handle.closed:
            (self.folder / f"{self.token}.lock").unlink(missing_ok=True)
            self._handle.close()


def owner_alive(folder, token: str) -> bool:
    """Whether the worker that took ``token`` still holds its lock (False for a missing lock file)."""
    path = Path(folder) / f"{token}.lock"
    try:
        handle = open(path, "r+")
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    path.unlink(missing_ok=True)  # its owner is gone for good; keep the folder small
    return False
