"""The solve and curves commands, called as a user would through cli.main."""

import json

import pandas as pd

from budgetsearch.models import create_model
from budgetsearch.substitutes import shape_only
from budgetsearch.substitutes import list_substitutes
from budgetsearch.cli import main


def meta_params(model, substitute, setting):
    with shape_only():
        return sum(p.numel() for p in create_model(model, substitute=substitute, setting=setting).parameters())


def test_solve_json_has_one_object_per_substitute(capsys):
    # shuffle's largest network (groups=1) is below 0.1x of wrn-16-4: saturated, so the exit status is 3.
    assert main(["solve", "--model", "wrn-16-4", "--budget", "0.1x", "--json"]) == 3
    rows = json.loads(capsys.readouterr().out)
    assert [r["substitute"] for r in rows] == list_substitutes()
    cap = int(0.1 * 2_748_890)
    for row in rows:
        assert {"substitute", "budget", "feasible"} <= set(row)
        if row["feasible"]:
            assert {"setting", "params", "mult_adds", "ratio", "fill", "saturated", "slack", "convention"} <= set(row)
            assert row["params"] == meta_params("wrn-16-4", row["substitute"], row["setting"]) <= cap
            assert row["fill"] == row["params"] / cap
        else:
            assert row["substitute"] in row["reason"] and "0.1x" in row["reason"]
    assert {r["substitute"] for r in rows if not r["feasible"]} >= {"conv"}
    assert [r["substitute"] for r in rows if r.get("saturated")] == ["shuffle"]
    assert next(r for r in rows if r["substitute"] == "shuffle")["setting"] == 1


def test_solve_exit_status_says_whether_every_requested_substitute_meets_the_budget(capsys):
    # 0.05x of wrn-16-4: every substitute with a setting fits; conv and separable are too big but, under "all", not held.
    assert main(["solve", "--model", "wrn-16-4", "--budget", "0.05x"]) == 0
    assert "infeasible: separable" in capsys.readouterr().out
    assert main(["solve", "--model", "wrn-16-4", "--budget", "0.05x", "--substitute", "generic", "separable"]) == 3
    assert main(["solve", "--model", "wrn-28-10", "--budget", "2400000", "--substitute", "shuffle"]) == 3
    out = capsys.readouterr().out
    assert "saturated" in out and "2,384,154" in out and "0.9933" in out  # fill = 2,384,154 / 2.4M = 0.99339..., rounded down
    assert "--substitute" in _solve_help(capsys) and "Exit status 3" in _solve_help(capsys)


def _solve_help(capsys) -> str:
    try:
        main(["solve", "--help"])
    except SystemExit:
        pass
    return " ".join(capsys.readouterr().out.split())


def test_solve_table_prints_exact_settings_and_reasons(capsys):
    assert main(["solve", "--model", "wrn-16-4", "--budget", "300K", "--substitute", "tucker", "conv"]) == 3
    out = capsys.readouterr().out
    assert "tucker" in out and "infeasible: conv cannot meet budget 300K" in out and "for fvcore (equal counts)" in out
    assert "fill" in out.splitlines()[0]


def test_solve_with_a_mult_adds_cap(capsys):
    assert main(["solve", "--model", "wrn-16-4", "--budget", "0.2x", "--mult-adds", "0.1x", "--substitute", "generic",
                 "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["mult_adds"] <= row["budget_mult_adds"] == int(0.1 * row["dense_mult_adds"])


def test_a_bad_budget_is_one_clear_line(capsys):
    assert main(["solve", "--model", "wrn-16-4", "--budget", "lots"]) == 2
    err = capsys.readouterr().err
    assert "'lots'" in err and "0.1x" in err and "Traceback" not in err


def test_curves_writes_the_table_and_the_plot(tmp_path, capsys):
    assert main(["curves", "--model", "wrn-10-1", "--substitute", "generic", "shuffle", "--points", "6",
                 "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "curves.csv")
    assert list(table.columns) == ["model", "substitute", "hyperparameter", "setting", "normalised_setting", "params",
                                   "mult_adds"]
    assert table["normalised_setting"].between(0, 1).all()
    for row in table.itertuples():
        setting = int(row.setting) if row.substitute == "shuffle" else row.setting
        assert row.params == meta_params("wrn-10-1", row.substitute, setting)
    shuffle = table[table.substitute == "shuffle"]["params"]
    assert shuffle.is_monotonic_decreasing and shuffle.iloc[0] > shuffle.iloc[-1]
    png = (tmp_path / "curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
