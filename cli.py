"""``python cli.py COMMAND [options]`` from a checkout: the ``budgetsearch`` command, defined in budgetsearch/cli/."""

import sys

from budgetsearch.cli import main

if __name__ == "__main__":
    sys.exit(main())
