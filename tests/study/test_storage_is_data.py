"""Storage, study files and model references are data: the attacks of issue 19 reproduced, and nothing runs.

Each attack names a shell command that would create a marker file; the
assertion is that the file never appears and the error names the cause.
"""

from __future__ import annotations

import json
import re

import optuna
import pytest

from budgetsearch import cli
from budgetsearch.study import load_study_config, open_storage, prepare_study
from budgetsearch.study._worker import CONFIG_ATTR
from crafted import crafted_checkpoint

ZEN = "Beautiful is better than ugly"


@pytest.fixture
def started(write_study, runs_dir):
    """A study queued (not trained) in its journal, and the tampered configuration a storage writer would store."""
    path = write_study(name="victim", substitutes=("generic",), budgets=("0.2x",))
    config = load_study_config(path)
    prepare_study(config, None, runs_dir)
    marker = runs_dir / "ran"
    tampered = config.to_dict() | {"model": "os:system", "model_options": {"command": f"touch {marker}"}}
    return path, marker, tampered


def _tamper_with_optuna(runs_dir, tampered) -> None:
    storage = open_storage(None, "victim", runs_dir=runs_dir)
    optuna.load_study(study_name="victim", storage=storage).set_user_attr(CONFIG_ATTR, tampered)


@pytest.mark.parametrize("argv, message", [
    (["worker", "--study", "victim"], "names the model 'os:system', and a worker imports only what its user named"),
    (["worker", "--study", "victim", "--model", "os:system", "--model-option", "command='touch ran'"],
     "model 'os:system' names the builtin function 'system' \\(not marked as a model factory\\)"),
    (["worker", "{study}"], "differs from .*victim.toml in model \\(stored 'os:system', in the file 'wrn-10-1'\\), "
                            "model_options.command \\(stored 'touch .*, in the file None\\); a worker runs only"),
    (["run", "{study}"], "already exists in this storage with different settings \\(model, model_options.command\\)"),
])
def test_a_storage_writer_cannot_make_a_worker_run_a_command(started, runs_dir, capsys, argv, message):
    path, marker, tampered = started
    _tamper_with_optuna(runs_dir, tampered)
    argv = [str(path) if a == "{study}" else a.replace("touch ran", f"touch {marker}") for a in argv]
    assert cli.main(argv + ["--runs-dir", str(runs_dir)]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert not marker.exists()


def test_status_and_frontier_of_a_tampered_study_run_nothing(started, runs_dir, capsys):
    path, marker, tampered = started
    _tamper_with_optuna(runs_dir, tampered)
    assert cli.main(["status", str(path), "--runs-dir", str(runs_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["progress"]["total"] == 1
    cli.main(["frontier", str(path), "--runs-dir", str(runs_dir), "--out", str(runs_dir / "out")])
    assert not marker.exists()


def test_a_plain_sql_edit_of_a_postgresql_study_runs_nothing(write_study, runs_dir, postgres_database, capsys):
    import psycopg

    path = write_study(name="victim", substitutes=("generic",), budgets=("0.2x",))
    config = load_study_config(path)
    prepare_study(config, postgres_database, runs_dir)
    marker = runs_dir / "ran"
    tampered = config.to_dict() | {"model": "os:system", "model_options": {"command": f"touch {marker}"}}
    with psycopg.connect(postgres_database.replace("postgresql+psycopg", "postgresql"), autocommit=True) as db:
        updated = db.execute("UPDATE study_user_attributes SET value_json = %s WHERE key = %s",
                             (json.dumps(tampered), CONFIG_ATTR)).rowcount
    assert updated == 1
    for argv in (["worker", "--study", "victim"], ["worker", str(path)]):
        assert cli.main(argv + ["--storage", postgres_database, "--runs-dir", str(runs_dir)]) == cli.EXIT_BAD_INPUT
        assert "os:system" in capsys.readouterr().err
    assert not marker.exists()


def test_a_worker_given_the_study_file_trains_the_study(started, runs_dir, capsys):
    path, _, _ = started
    assert cli.main(["worker", str(path), "--runs-dir", str(runs_dir), "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["event"] for e in events] == ["start", "complete"]


def test_a_study_file_naming_a_command_is_refused_before_anything_is_queued(tmp_path, runs_dir, capsys):
    marker = tmp_path / "ran"
    study = tmp_path / "evil.toml"
    study.write_text(f'model = "os:system"\n[model_options]\ncommand = "touch {marker}"\n')
    assert cli.main(["run", str(study), "--runs-dir", str(runs_dir)]) == cli.EXIT_BAD_INPUT
    assert "names the builtin function 'system'" in capsys.readouterr().err
    assert not marker.exists() and not (runs_dir / "evil").exists()


@pytest.mark.parametrize("command", ["status", "frontier"])
def test_reading_a_study_imports_none_of_its_modules(tmp_path, runs_dir, capsys, command):
    study = tmp_path / "zen.toml"
    study.write_text('model = "this:nothing"\n')
    cli.main([command, str(study), "--runs-dir", str(runs_dir)])
    captured = capsys.readouterr()
    assert ZEN not in captured.out + captured.err


def test_a_crafted_teacher_checkpoint_is_refused_before_anything_is_queued(write_study, runs_dir, capsys):
    marker = runs_dir.parent / "ran"
    crafted = crafted_checkpoint(runs_dir.parent / "teacher.pt", marker)
    path = write_study(name="taught", substitutes=("generic",), budgets=("0.2x",),
                       extra=f'[distillation]\nteacher = "{crafted}"\n')
    assert cli.main(["run", str(path), "--runs-dir", str(runs_dir)]) == cli.EXIT_BAD_INPUT
    assert "records model 'os:system', which is not a registered model" in capsys.readouterr().err
    assert not marker.exists() and not (runs_dir / "taught").exists()


def test_a_worker_given_the_study_file_refuses_other_data_than_the_study_was_started_with(started, runs_dir, capsys):
    from budgetsearch.study._identity import DATA_ATTR

    path, _, _ = started
    storage = open_storage(None, "victim", runs_dir=runs_dir)
    optuna.load_study(study_name="victim", storage=storage).set_user_attr(DATA_ATTR, "cifar10:sha256:0123")
    assert cli.main(["worker", str(path), "--runs-dir", str(runs_dir)]) == cli.EXIT_BAD_INPUT
    assert "dataset = 'digits' holds other data than study 'victim' was started with" in capsys.readouterr().err
