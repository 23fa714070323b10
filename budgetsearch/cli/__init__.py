"""budgetsearch command line: ``budgetsearch COMMAND [options]``.

Each command is one small function registered in ``COMMANDS`` by the module
of its group (``_count``, ``_solve``, ``_train``, ``_study``, ``_submit``, ``_frontier``);
commands parse arguments, call the library and print. Errors the library
raises on bad input are printed as one line and exit with status 2; ``run``
and ``worker`` exit with status 3 when trials of the study failed (``run`` also
when every cell was skipped).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Optional

from budgetsearch.errors import BudgetSearchError

# Each module registers its commands; in this order, the data's, `budgetsearch --help` lists them.
from . import _count, _solve, _train, _compress, _study, _submit, _frontier  # noqa: F401  isort: skip
from ._commands import COMMANDS, EXIT_BAD_INPUT, EXIT_CODES, EXIT_TRIALS_FAILED

__all__ = ["COMMANDS", "EXIT_BAD_INPUT", "EXIT_TRIALS_FAILED", "build_parser", "main"]


class _OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line, like every other error (``--help`` shows the usage)."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message[:500]}\n")


class DefaultsHelp(argparse.HelpFormatter):
    """Every option's default in --help: the value, or for ``train``'s preset overrides the short preset's."""

    def _get_help_string(self, action) -> str:
        text = action.help or ""
        if "default" in text or action.default is argparse.SUPPRESS or not action.option_strings \
                or isinstance(action, (argparse._StoreTrueAction, argparse._HelpAction)):
            return text
        if action.default is None:
            preset = _short_preset_value(action.dest) if self._prog.endswith(" train") else None
            return text + (f" (default: the --preset's; short: {preset})" if preset is not None else "")
        return text + " (default: %(default)s)"


def _short_preset_value(field: str):
    from budgetsearch.training import PRESETS  # only when train --help is shown

    return getattr(PRESETS["short"], field, None)


def build_parser() -> argparse.ArgumentParser:
    # the module docstring's first line without its reST markup
    parser = _OneLineParser(prog="budgetsearch", description=__doc__.splitlines()[0].replace("``", ""))
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (configure, _, help) in COMMANDS.items():
        epilog = EXIT_CODES if name in ("run", "worker") else None
        configure(subparsers.add_parser(name, help=help, description=help, epilog=epilog, formatter_class=DefaultsHelp))
    return parser


class _StderrLines(logging.Handler):
    """The library's warnings (a repaired journal, a lost trial), one line each on the stderr of the moment."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"budgetsearch: {record.getMessage()}", file=sys.stderr)


def _show_library_warnings() -> None:
    library = logging.getLogger("budgetsearch")
    if not any(isinstance(h, _StderrLines) for h in library.handlers):
        handler = _StderrLines(logging.WARNING)
        library.addHandler(handler)


def main(argv: Optional[list] = None) -> int:
    args = build_parser().parse_args(argv)
    _show_library_warnings()
    try:
        return COMMANDS[args.command].run(args)
    except BudgetSearchError as error:
        print(f"budgetsearch {args.command}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # the reader left (`budgetsearch substitutes --json | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush finds no closed pipe
        return 1
