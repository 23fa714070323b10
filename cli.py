"""``python cli.py COMMAND [options]`` from a checkout: the ``budgetsearch`` command, defined in budgetsearch/cli/."""

import sys

from budgetsearch.cli import EXIT_BAD_INPUT, EXIT_TRIALS_FAILED, main  # noqa: F401  (the statuses, for callers)

if __name__ == "__main__":
    sys.exit(main())
