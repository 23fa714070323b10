"""The cells a study trains: min_fill, one trial per distinct network, the cell as Optuna parameters, progress."""

import json
import math

import optuna
import pytest
from optuna.trial import TrialState

from budgetsearch import cli
from budgetsearch.models import create_model
from budgetsearch.solver import network_counter
from budgetsearch.study import load_study_config, parse_study, plan_study, prepare_study, study_progress
from budgetsearch.study._cells import network_sizes
from budgetsearch.substitutes import get_substitute

# wrn-10-1 on digits: shuffle's coarse groups land far under some absolute budgets, generic lands close to all.
BUDGETS = (6800, 7390, 7500)


def counted_params(substitute: str, setting) -> int:
    """Trainable parameters of wrn-10-1 on digits built with the substitute, counted on the module itself."""
    model = create_model("wrn-10-1", num_classes=10, in_channels=1, substitute=get_substitute(substitute).factory(setting))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def shapes(substitute: str, setting) -> list:
    model = create_model("wrn-10-1", num_classes=10, in_channels=1, substitute=get_substitute(substitute).factory(setting))
    return [(name, tuple(p.shape)) for name, p in model.named_parameters()]


def study(min_fill, substitutes=("shuffle", "generic"), name="cells"):
    return parse_study({"name": name, "model": "wrn-10-1", "substitutes": list(substitutes), "budgets": list(BUDGETS),
                        "min_fill": min_fill})


def test_cells_below_min_fill_are_skipped_with_their_fill():
    unfiltered = {(c.substitute, c.budget.params): c for c in plan_study(study(0.0)).solved}
    assert len(unfiltered) == 6  # min_fill = 0 skips nothing
    plan = plan_study(study(0.9))
    skipped = {(c.substitute, c.budget.params): c for c in plan.skipped}
    assert len(plan.solved) + len(skipped) == 6
    for (substitute, budget), cell in unfiltered.items():
        fill = counted_params(substitute, cell.setting) / budget
        assert ((substitute, budget) in skipped) == (fill < 0.9), (substitute, budget, fill)
        if (substitute, budget) in skipped:
            reason = skipped[substitute, budget].reason
            assert f"fill {fill:.3f}" in reason and "min_fill = 0.9" in reason
    assert ("shuffle", 7500) in skipped  # the case that matters: groups=2 reaches 89 % of 7500


def test_min_fill_outside_zero_one_is_refused():
    with pytest.raises(Exception, match=r"min_fill = 1.5 is not allowed; allowed: a fraction of the budget in \[0, 1\]"):
        study(1.5)


def test_cells_that_build_the_same_network_train_once_for_every_budget():
    config = study(0.0)
    plan = plan_study(config)
    # Independent grouping: cells of one substitute whose built networks have identical parameter shapes.
    groups: dict = {}
    for cell in plan.solved:
        groups.setdefault((cell.substitute, repr(shapes(cell.substitute, cell.setting))), []).append(cell.budget.label)
    rows = plan.trials(config)
    served = sorted((r["substitute"], tuple(b["budget"] for b in r["budgets"])) for r in rows)
    assert served == sorted((substitute, tuple(labels)) for (substitute, _), labels in groups.items())
    assert len(rows) < len(plan.solved)  # at least one network serves two budgets (shuffle groups=2 serves all three)
    for row in rows:
        assert row["budgets"][0]["budget"] == row["budget"]  # its own budget first
        for entry in row["budgets"]:
            assert entry["budget_params"] == int(entry["budget"])  # absolute budgets resolve to themselves


def test_settings_on_one_plateau_resolve_to_the_same_network():
    counter = network_counter("wrn-10-1", 10, (1, 8, 8))
    for a, b in ((0.11, 0.1105), (0.11, 0.13), (0.3, 0.31)):
        same = shapes("generic", a) == shapes("generic", b)
        assert (network_sizes(counter, "generic", a) == network_sizes(counter, "generic", b)) == same, (a, b)


def test_trials_carry_their_cell_as_optuna_parameters(runs_dir):
    config = study(0.0, name="params-cells")
    optuna_study, plan, queued = prepare_study(config, None, runs_dir)
    frame = optuna_study.trials_dataframe()
    assert {"params_substitute", "params_budget", "params_budget_params", "params_setting"} <= set(frame.columns)
    assert {"user_attrs_substitute", "user_attrs_budget", "user_attrs_setting"} <= set(frame.columns)  # kept
    assert len(frame) == queued > 0
    for _, row in frame.iterrows():
        assert row["params_substitute"] == row["user_attrs_substitute"]
        assert row["params_budget"] == row["user_attrs_budget"]
        assert row["params_budget_params"] == row["user_attrs_budget_params"]
        assert math.isclose(row["params_setting"], row["user_attrs_setting"])
    # Queuing again (a resumed run) adds nothing and keeps the distributions compatible.
    assert prepare_study(config, None, runs_dir)[2] == 0


def test_progress_names_each_running_trials_epoch_and_last_validation_error():
    running = optuna.trial.create_trial(state=TrialState.RUNNING, user_attrs={"cell": "acdc|0.1x|0", "role": "student"},
                                        intermediate_values={1: 40.0, 2: 31.5})
    fresh = optuna.trial.create_trial(state=TrialState.RUNNING, user_attrs={"cell": "cp|0.1x|0", "role": "student"})
    progress = study_progress([running, fresh])
    shown = {(t.cell, t.epoch, t.val_error) for t in progress.running_trials}
    assert shown == {("acdc|0.1x|0", 2, 31.5), ("cp|0.1x|0", None, None)}


def test_a_shared_network_and_a_skipped_cell_in_status_and_report(write_study, runs_dir, tmp_path, capsys):
    # shuffle groups=2 (6,706 params) fills 6800 and 7390 (>= 0.9) but not 7500: two budgets share one trial.
    path = write_study(name="shared", substitutes=("shuffle",), budgets=(), extra="")
    path.write_text(path.read_text().replace("budgets = []", "budgets = [6800, 7390, 7500]"))
    assert load_study_config(path).min_fill == 0.9  # the default
    assert cli.main(["run", str(path), "--runs-dir", str(runs_dir)]) == 0
    out = capsys.readouterr().out
    assert "skipped shuffle at 7500:" in out and "below min_fill = 0.9" in out

    assert cli.main(["status", str(path), "--runs-dir", str(runs_dir), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["progress"]["total"] == 1  # one trial trained
    rows = {r["budget"]: r for r in status["summary"]}
    assert set(rows) == {"6800", "7390"}
    assert rows["7390"]["trained_at"] == "6800" and rows["6800"]["trained_at"] is None
    assert rows["6800"]["val_error"] == rows["7390"]["val_error"] is not None
    assert math.isclose(rows["7390"]["fill"], counted_params("shuffle", rows["7390"]["setting"]) / 7390)
    assert [c["budget"] for c in status["skipped"]] == ["7500"]
    assert cli.main(["status", str(path), "--runs-dir", str(runs_dir)]) == 0
    assert "skipped shuffle at 7500:" in capsys.readouterr().out

    out_dir = tmp_path / "frontier"
    assert cli.main(["frontier", "--storage", str(runs_dir / "shared" / "journal.log"), "--study", "shared",
                     "--out", str(out_dir), "--json"]) == 0
    points = {p["budget"]: p for p in json.loads(capsys.readouterr().out)}
    assert set(points) == {"6800", "7390"} and points["7390"]["trained_at"] == "6800"
    report = (out_dir / "report.md").read_text()
    assert "# Frontier report: shared: wrn-10-1 on digits" in report
    assert "## Skipped cells (1)" in report and "| shuffle | 7500 |" in report
    assert "trained at 6800" in report
