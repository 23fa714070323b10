"""count, solve and curves on a model named by reference, with options, selection and the fixed part.

The expectations are the user's module built here and counted by Σnumel, and the
layers left dense summed by hand.
"""

from __future__ import annotations

import json
import sys

import pytest

from budgetsearch.cli import main

USER_MODULE = '''
from torch import nn

from budgetsearch import model_factory


@model_factory
def Net(num_classes=10, width=16):
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(width, width, 3, padding=1, groups=2), nn.Conv2d(width, width, 3, padding=1),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))
'''


@pytest.fixture
def user_model(tmp_path, monkeypatch):
    (tmp_path / "clinets.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "clinets", raising=False)
    return "clinets:Net"


def _grouped(width):
    return width * (width // 2) * 9 + width


def test_count_reports_the_fixed_part_and_the_grouped_conv_kept_dense(user_model, capsys):
    assert main(["count", "--model", user_model, "--input-size", "3,8,8", "--model-option", "width=8",
                 "--substitute", "tucker:0.5", "--exclude", "0", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    stem, head = 3 * 8 * 9 + 8, 8 * 10 + 10
    assert result["fixed_params"] == stem + _grouped(8) + head
    assert result["kept_dense"] == [{"name": "2", "reason": "grouped (groups=2)"}]
    assert main(["count", "--model", user_model, "--input-size", "3,8,8", "--substitute", "tucker:0.5"]) == 0
    assert "kept dense (selected, but no substitute fits): 2 (grouped (groups=2))" in capsys.readouterr().out


def test_solve_stays_within_budget_and_reports_the_fixed_part(user_model, capsys):
    assert main(["solve", "--model", user_model, "--input-size", "3,8,8", "--budget", "0.5x",
                 "--substitute", "generic", "lowrank", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    dense = (3 * 16 * 9 + 16) + _grouped(16) + (16 * 16 * 9 + 16) + (16 * 10 + 10)
    for row in rows:
        assert row["fixed_params"] == _grouped(16) + 16 * 10 + 10
        assert row["dense_params"] == dense and row["params"] <= dense // 2


@pytest.mark.parametrize("argv, message", [
    (["count", "--model", "clinets:Net"], "model 'clinets:Net' is not registered, so its input size must be given"),
    (["count", "--model", "clinets:Net", "--input-size", "3,8,8", "--model-option", "width=wide"],
     "--model-option width: the value must be a TOML value"),
    (["solve", "--model", "clinets:Nope", "--input-size", "3,8,8", "--budget", "0.5x"],
     "model 'clinets:Nope': 'clinets' has no attribute 'Nope'"),
])
def test_bad_model_arguments_are_one_line_errors(user_model, capsys, argv, message):
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1
