"""The table of commands and the exit statuses they share."""

from __future__ import annotations

import argparse
from typing import Callable, NamedTuple

EXIT_BAD_INPUT = 2  # a usage or configuration error: nothing was done
# run/worker: the study ended with failed trials (their messages say why), or run found no cell to train
EXIT_TRIALS_FAILED = 3
EXIT_CODES = (f"exit status: 0 every trial recorded without failure, 1 a worker process crashed, {EXIT_BAD_INPUT} bad "
              f"input (nothing done), {EXIT_TRIALS_FAILED} trials failed (or every cell was skipped)")


class Command(NamedTuple):
    configure: Callable[[argparse.ArgumentParser], None]  # adds the command's options to its parser
    run: Callable[[argparse.Namespace], int]  # the exit status
    help: str


COMMANDS: dict[str, Command] = {}  # in the order `budgetsearch --help` lists them


def command(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None]):
    """Register ``run(args)`` as a subcommand whose options ``configure(parser)`` adds."""

    def register(run):
        COMMANDS[name] = Command(configure, run, help)
        return run

    return register
