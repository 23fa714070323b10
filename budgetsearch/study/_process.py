"""Entry point of a worker process started by :func:`run_study`: ``python -P -m budgetsearch.study._process JSON``.

The process dies with its parent (Linux ``PR_SET_PDEATHSIG``), so killing a
run kills its workers too; their trials are then recovered as lost by the
next run, exactly as if a remote worker had died.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys

from ._config import parse_study
from ._worker import WorkerOptions, run_worker

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the worker then outlives a killed run
        return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def main(argv: list) -> int:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the parent reports progress; workers stay quiet
    message = json.loads(argv[0])
    _die_with_parent(message.pop("parent_pid"))
    config = parse_study(message.pop("config"), message.pop("source"))
    run_worker(WorkerOptions(study_name=config.name, config=config, **message))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
