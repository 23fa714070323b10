"""Every study file shipped in studies/ loads, plans, and trains one of its cells end to end.

The end-to-end run shrinks the study through the override a user has (``run --set KEY=VALUE``, i.e.
:meth:`StudyConfig.replace` with dotted keys): one epoch of the first solved cell, on the CIFAR-10
subset where the study names CIFAR-10 data that is not on this machine, with 90 % of the training
images held out for validation.
"""

from pathlib import Path

import optuna
import pytest

from budgetsearch.study import RunOptions, load_study_config, open_storage, plan_study, run_study

STUDIES = sorted((Path(__file__).resolve().parents[2] / "studies").glob("*.toml"))
# WRN-28-10 is trained on digits here: one epoch of it on 4,600 CIFAR images takes CPU minutes.
DATASET_OVERRIDES = {"wrn-28-10-cifar10.toml": "digits"}


def test_studies_are_shipped():
    assert {p.name for p in STUDIES} >= {"quickstart.toml", "examples-tinyvgg.toml", "wrn-28-10-cifar10.toml",
                                          "vit-cifar10-mini.toml", "cifar10-mini.toml"}


def test_a_study_projects_weights_its_file_says_how_to_write():
    assert any("projected" in load_study_config(path).init for path in STUDIES)


def _dense_weights(config, folder: Path) -> Path:
    """A state_dict of the study's dense network, as ``train --save`` of it would write (untrained here)."""
    import torch

    from budgetsearch.training._architecture import resolve_architecture

    dense = resolve_architecture(config.model, "conv", None, config.num_classes, config.input_size,
                                 config.model_options, **config.model_selection).build()
    path = folder / "dense.pt"
    torch.save(dense.state_dict(), path)
    return path


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.name)
def test_every_study_plans_and_trains_its_first_cell(path, tmp_path, request):
    config = load_study_config(path)
    plan = plan_study(config)
    assert plan.solved, f"{path.name}: no cell is feasible: {[c.reason for c in plan.skipped]}"
    for cell in plan.solved:
        assert cell.params <= cell.budget_params and cell.fill >= config.min_fill

    first = plan.solved[0]
    budget = first.budget.params if first.budget.mult_adds is None else \
        {"params": first.budget.params, "mult_adds": first.budget.mult_adds}
    # One epoch of one cell on a tenth of the training images (the rest validates).
    changes = {"substitutes": [first.substitute], "budgets": [budget], "seeds": 1, "training.epochs": 1,
               "training.validation_size": 0.9, "tuning.trials": 0, "min_fill": 0.0}
    if config.distillation.teacher == "train":
        changes["distillation.teacher_epochs"] = 1
    if config.dataset.startswith("cifar10:") and not Path(config.dataset.partition(":")[2]).is_dir():
        changes["dataset"] = DATASET_OVERRIDES.get(path.name) or f"cifar10:{request.getfixturevalue('cifar_mini')}"
    if "projected" in config.init:  # its one trial starts from dense weights, written as its comment says
        changes |= {"init": ["projected"], "weights": str(_dense_weights(config.replace(changes), tmp_path))}
    small = config.replace(changes)
    report = run_study(small, RunOptions(runs_dir=str(tmp_path)))
    assert report.worker_exit_codes == (0,) * len(report.worker_exit_codes)
    storage = open_storage(small.storage.url, small.name, runs_dir=tmp_path)
    trials = optuna.load_study(study_name=small.name, storage=storage).get_trials()
    students = [t for t in trials if t.user_attrs["role"] == "student"]
    assert [t.user_attrs["status"] for t in students] == ["complete"]
    record = students[0].user_attrs
    assert record["epochs_run"] == 1 and record["params"] <= record["budget_params"]
    assert record["init"] == small.init[0]
    if record["init"] == "projected":
        assert record["projection_weight_error"] > 0 and record["initial_test_error"] is not None
    if "dataset" not in changes:  # the same input, so the same network as planned
        assert record["params"] == first.params
