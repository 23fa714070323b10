"""Commands that need no network start without importing torch (seconds of a command's start).

Each runs in a fresh interpreter (this one has torch loaded already), and the
registry it lists is checked against the registry's own substitutes, loaded
with torch here: the declarations and the family modules say the same. A
study's progress is checked against its trials as Optuna stored them.
"""

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from budgetsearch.cli import main
from budgetsearch.models import SELECTIONS, find_model, list_models
from budgetsearch.models._declarations import DECLARATIONS
from budgetsearch.models._names import SELECTION_NAMES
from budgetsearch.study import load_study_config, open_storage
from budgetsearch.substitutes import get_substitute, list_substitutes

ROOT = Path(__file__).resolve().parents[1]


def _without_torch(argv: list) -> str:
    """``main(argv)``'s output in a fresh interpreter, which fails if torch was imported."""
    return _run_without_torch(f"from budgetsearch.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass\n")


def _run_without_torch(code: str) -> str:
    """The output of ``code`` run in a fresh interpreter, which fails if torch was imported."""
    script = f"import sys\n{code}assert 'torch' not in sys.modules, 'torch was imported'\n"
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


def test_model_declarations_are_what_the_family_modules_register():
    assert list_models() == [declared.example for declared in DECLARATIONS]
    for declared in DECLARATIONS:
        family = find_model(declared.example)[0]  # imports the family's module, which registers it
        assert (family.pattern, family.example, family.summary) == \
            (declared.pattern, declared.example, declared.summary)
        assert family.build.__module__ == f"budgetsearch.models.{declared.module}"


def test_selection_names_are_the_selections():
    assert SELECTION_NAMES == tuple(SELECTIONS)


def test_every_shipped_study_file_is_read_without_torch():
    files = sorted(str(path) for path in (ROOT / "studies").glob("*.toml"))
    read = _run_without_torch("import json\nfrom budgetsearch.study import load_study_config\n"
                              f"print(json.dumps([load_study_config(f).to_dict() for f in {files!r}]))\n")
    assert json.loads(read) == [json.loads(json.dumps(load_study_config(f).to_dict())) for f in files]


TINY_STUDY = """
name = "tiny"
model = "wrn-10-2"
dataset = "digits"
substitutes = ["generic", "tucker"]
budgets = ["0.1x"]

[training]
epochs = 1
batch_size = 64
"""


def test_status_of_a_trained_study_imports_no_torch(tmp_path, capsys):
    study_file, runs_dir = tmp_path / "tiny.toml", tmp_path / "runs"
    study_file.write_text(TINY_STUDY)
    assert main(["run", str(study_file), "--runs-dir", str(runs_dir), "--json"]) == 0
    capsys.readouterr()
    stored = optuna.load_study(study_name="tiny", storage=open_storage(None, "tiny", runs_dir=str(runs_dir)))
    trials = {trial.user_attrs["substitute"]: trial for trial in stored.trials}
    assert sorted(trials) == ["generic", "tucker"]

    shown = json.loads(_without_torch(["status", str(study_file), "--runs-dir", str(runs_dir), "--json"]))
    assert shown["progress"]["total"] == shown["progress"]["done"] == 2
    assert shown["progress"]["statuses"] == {"complete": 2}
    assert {row["substitute"]: (row["budget"], row["params"], row["val_error"], row["test_error"])
            for row in shown["summary"]} == \
        {name: ("0.1x", t.user_attrs["params"], t.user_attrs["val_error"], t.user_attrs["test_error"])
         for name, t in trials.items()}
    table = _without_torch(["status", str(study_file), "--runs-dir", str(runs_dir)])
    assert "2/2 trials recorded: 2 complete" in table
    assert all(name in table for name in trials)
