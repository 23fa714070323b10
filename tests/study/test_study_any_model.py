"""The examples' study: a model that is not registered (examples/tinyvgg.py), run by two workers.

The expectations: the grid the file declares (every cell once), the dense
parameters of TinyVGG built here and counted by Σnumel, and the frontier files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from budgetsearch import cli
from budgetsearch.errors import ConfigError
from budgetsearch.study import load_study_config, open_storage, parse_study, resolve_model
from examples.tinyvgg import TinyVGG

STUDY = Path(__file__).resolve().parents[2] / "studies" / "examples-tinyvgg.toml"


def test_resolving_the_study_records_where_its_model_module_was_found():
    config = load_study_config(STUDY)
    assert config.model_path is None  # reading a study imports nothing
    assert resolve_model(config).model_path == str(STUDY.parents[1])
    assert (config.model_options, config.select, config.exclude) == ({"in_channels": 1, "width": 8}, "spatial",
                                                                      ("features.0",))
    assert parse_study(config.to_dict(), "again") == config


def test_a_callable_model_in_python_is_recorded_as_its_reference():
    config = load_study_config(STUDY)
    by_callable = parse_study(config.to_dict() | {"model": TinyVGG}, "python")
    assert by_callable.model == "examples.tinyvgg:TinyVGG" == config.model
    with pytest.raises(ConfigError, match="recorded by reference"):
        parse_study(config.to_dict() | {"model": lambda: TinyVGG()}, "python")


@pytest.mark.parametrize("changes, message", [
    ({"model": "examples.tinyvgg:Missing"}, "model 'examples.tinyvgg:Missing': 'examples.tinyvgg' has no "
                                            "attribute 'Missing'"),
    ({"select": "everything"}, "select = 'everything' is not allowed; allowed: spatial, pointwise, convs"),
])
def test_bad_model_keys_are_refused_naming_them(changes, message):
    with pytest.raises(ConfigError, match=message):
        resolve_model(load_study_config(STUDY).replace(**changes))


def test_two_workers_run_every_cell_once_and_write_the_frontier(runs_dir, capsys):
    assert cli.main(["run", str(STUDY), "--workers", "2", "--runs-dir", str(runs_dir), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["skipped"] == [] and printed["worker_exit_codes"] == [0, 0] and printed["queued"] == 4
    storage = open_storage(None, "examples-tinyvgg", runs_dir=runs_dir)
    trials = optuna.load_study(study_name="examples-tinyvgg", storage=storage).get_trials(deepcopy=False)
    cells = sorted(f"{s}|{b}|0" for s in ("generic", "tucker") for b in ("0.2x", "0.3x"))
    assert sorted(t.user_attrs["cell"] for t in trials) == cells
    dense = sum(p.numel() for p in TinyVGG(num_classes=10, in_channels=1, width=8).parameters())
    for trial in trials:
        attrs = trial.user_attrs
        assert trial.state == TrialState.COMPLETE and attrs["status"] == "complete"
        assert attrs["model"] == "examples.tinyvgg:TinyVGG" and attrs["dense_params"] == dense
        assert 0 < attrs["params"] <= attrs["budget_params"]
    out = runs_dir / "frontier"
    assert cli.main(["frontier", str(STUDY), "--out", str(out), "--json"]) == 0  # runs/ is the working directory's
    rows = json.loads(capsys.readouterr().out)
    assert rows and {row["substitute"] for row in rows} <= {"generic", "tucker"}
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".csv")


def test_run_hands_its_workers_the_entry_it_found_the_model_under_whatever_their_working_directory(tmp_path,
                                                                                                      monkeypatch):
    found = tmp_path / "found"
    found.mkdir()
    (found / "workernets.py").write_text("from examples.tinyvgg import TinyVGG as Net\n")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(found))])
    monkeypatch.delitem(sys.modules, "workernets", raising=False)
    monkeypatch.chdir(found)
    resolved = resolve_model(parse_study({"name": "w", "model": "workernets:Net", "model_options": {"in_channels": 1}}))
    assert resolved.model_path == str(found.resolve())
    # A worker started by that run: elsewhere, without the folder on sys.path, given the run's study.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(found)])
    monkeypatch.delitem(sys.modules, "workernets")
    handed = parse_study(resolved.to_dict(), "from run")
    assert resolve_model(handed).model_path == str(found.resolve())
    assert Path(sys.modules["workernets"].__file__).resolve() == (found / "workernets.py").resolve()
