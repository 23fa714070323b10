"""``python -m budgetsearch.cli COMMAND [options]``: the same as the ``budgetsearch`` console script."""

import sys

from . import main

sys.exit(main())
