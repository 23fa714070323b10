"""Commands that need no network start without importing torch (seconds of a command's start).

Each runs in a fresh interpreter (this one has torch loaded already), and the
registry it lists is checked against the registry's own substitutes, loaded
with torch here: the declarations and the family modules say the same.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from budgetsearch.substitutes import get_substitute, list_substitutes

ROOT = Path(__file__).resolve().parents[1]


def _without_torch(argv: list) -> str:
    """``main(argv)``'s output in a fresh interpreter, which fails if torch was imported."""
    script = ("import sys\nfrom budgetsearch.cli import main\n"
              f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
              "assert 'torch' not in sys.modules, 'torch was imported'\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": ""}, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("argv", [["--help"], ["solve", "--help"], ["count", "--help"], ["status", "--help"]])
def test_help_imports_no_torch(argv):
    assert "usage" in _without_torch(argv)


def test_substitutes_lists_every_registered_substitute_without_torch():
    listed = json.loads(_without_torch(["substitutes", "--json"]))
    expected = []
    for name in list_substitutes():
        found = get_substitute(name)  # the family module's own registration
        hp = found.hyperparameter
        expected.append({"name": found.name, "original": found.original_name,
                         "hyperparameter": hp.name if hp else None, "type": hp.type.__name__ if hp else None,
                         "domain": hp.domain if hp else None,
                         "params_with_setting": ("grow" if hp.grows else "shrink") if hp else None,
                         "summary": found.summary, "paper": found.paper})
    assert listed == expected
