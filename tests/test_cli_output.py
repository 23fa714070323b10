"""What the command line shows besides results: help text, defaults, a closed pipe."""

import subprocess
import sys

import pytest

from budgetsearch import cli


def help_of(capsys, *command) -> str:
    with pytest.raises(SystemExit):
        cli.main([*command, "--help"])
    return capsys.readouterr().out


def test_help_shows_no_rest_markup(capsys):
    assert "``" not in help_of(capsys)
    for name in cli.COMMANDS:
        assert "``" not in help_of(capsys, name) and "REFERENCE" not in help_of(capsys, name), name


def test_train_help_shows_every_default(capsys):
    from budgetsearch.training import PRESETS

    text = " ".join(help_of(capsys, "train").split())
    short = PRESETS["short"]
    for option, field in (("--epochs", "epochs"), ("--lr", "lr"), ("--batch-size", "batch_size"), ("--seed", "seed")):
        assert f"(default: the --preset's; short: {getattr(short, field)})" in text.split(option, 2)[2][:160], option
    assert "(default: wrn-16-2)" in text and "(default: conv)" in text


def test_output_into_a_closed_pipe_is_no_traceback():
    # The reader is gone before the command prints (as `| head` is once it has its lines).
    process = subprocess.Popen([sys.executable, "-m", "budgetsearch.cli", "substitutes", "--json"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    process.stdout.close()
    errors = process.stderr.read()
    assert process.wait(timeout=120) == 1
    assert "Traceback" not in errors and "BrokenPipeError" not in errors


def test_the_console_script_is_the_package_and_no_top_level_cli_is_installed():
    import configparser
    import importlib
    from pathlib import Path

    setup = configparser.ConfigParser()
    setup.read(Path(__file__).resolve().parents[1] / "setup.cfg")
    name, _, target = setup["options.entry_points"]["console_scripts"].strip().partition(" = ")
    module, _, function = target.partition(":")
    assert (name, module) == ("budgetsearch", "budgetsearch.cli")
    assert getattr(importlib.import_module(module), function) is cli.main
    assert "py_modules" not in setup["options"]  # site-packages gets no module named `cli`


def test_the_checkout_entry_point_runs_the_same_commands():
    from pathlib import Path

    entry = Path(__file__).resolve().parents[1] / "cli.py"
    done = subprocess.run([sys.executable, str(entry), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and all(name in done.stdout for name in cli.COMMANDS)
