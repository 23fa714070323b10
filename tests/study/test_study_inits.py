"""The init axis of a study: parsing, the cells it adds, the study's identity, and the weights checked at run."""

import optuna
import pytest
import torch

from budgetsearch.errors import ConfigError
from budgetsearch.models import create_model
from budgetsearch.study import RunOptions, open_storage, parse_study, plan_study, prepare_study
from budgetsearch.study._identity import comparable, config_digest
from budgetsearch.study._inits import WEIGHTS_ATTR, check_weights, weights_digest
from budgetsearch.study._trial import train_config

BASE = {"name": "inits", "model": "wrn-10-1", "substitutes": ["generic", "tucker"], "budgets": ["0.1x"],
        "seeds": 2, "training": {"epochs": 1}}


def study(**keys):
    return parse_study(BASE | keys, "inits.toml")


@pytest.fixture
def dense_weights(tmp_path):
    """A state_dict of the dense wrn-10-1 on digits (1 input channel), as `torch.save` writes one."""
    path = tmp_path / "dense.pt"
    torch.save(create_model("wrn-10-1", num_classes=10, in_channels=1).state_dict(), path)
    return path


def test_a_study_without_the_keys_trains_from_scratch_as_before():
    config = study()
    assert (config.init, config.weights, config.projection) == (("scratch",), None, "closed")
    assert parse_study(config.to_dict(), "again") == config


@pytest.mark.parametrize("init, expected", [("projected", ("projected",)), (["scratch", "projected"],
                                                                            ("scratch", "projected"))])
def test_init_is_a_name_or_a_list_and_round_trips(init, expected):
    config = study(init=init, weights="dense.pt", projection="whitened")
    assert (config.init, config.weights, config.projection) == (expected, "dense.pt", "whitened")
    assert parse_study(config.to_dict(), "again") == config


@pytest.mark.parametrize("keys, message", [
    ({"init": "pretrained"}, "inits.toml: init = 'pretrained' is not allowed; allowed: 'scratch' or 'projected'"),
    ({"init": []}, "init = [] is not allowed"),
    ({"init": ["scratch", "scratch"]}, "a non-empty list of distinct ones"),
    ({"init": 3}, "init = 3 is not allowed"),
    ({"init": "projected"}, "inits.toml: weights is required with init = 'projected'"),
    ({"init": "projected", "weights": ""}, "weights = '' is not allowed"),
    ({"init": "projected", "weights": "d.pt", "projection": "svd"},
     "projection = 'svd' is not allowed; allowed: 'closed' or 'fit' or 'whitened'"),
])
def test_bad_values_are_one_clear_error(keys, message):
    with pytest.raises(ConfigError) as error:
        study(**keys)
    assert message in str(error.value)


def test_each_cell_is_trained_from_each_init_with_its_own_name():
    config = study(init=["scratch", "projected"], weights="dense.pt")
    rows = plan_study(config).trials(config)
    cells = {(r["substitute"], r["init"], r["seed"]): r["cell"] for r in rows}
    expected = {(s, i, seed) for s in ("generic", "tucker") for i in ("scratch", "projected") for seed in (0, 1)}
    assert set(cells) == expected and len(rows) == 8
    # a scratch cell keeps the name it had before the axis, so an older study continues without training it again
    assert cells[("tucker", "scratch", 1)] == "tucker|0.1x|1" and cells[("tucker", "projected", 1)] == \
        "tucker|0.1x|1|projected"


def test_a_projected_trial_starts_from_the_weights_and_a_scratch_one_does_not():
    config = study(init=["scratch", "projected"], weights="dense.pt", projection="fit")
    projected = train_config(config, {"role": "student", "seed": 0, "init": "projected"}, {}, "cpu", "runs")
    scratch = train_config(config, {"role": "student", "seed": 0, "init": "scratch"}, {}, "cpu", "runs")
    older = train_config(config, {"role": "student", "seed": 0}, {}, "cpu", "runs")  # queued before the axis
    assert (projected.init, str(projected.weights), projected.projection) == ("projected", "dense.pt", "fit")
    assert scratch.init == older.init == "scratch" and scratch.weights is None
    assert projected.distill is None  # the trainer's default: the dense original
    weighted = study(init="projected", weights="dense.pt", distillation={"alpha": 0.5})
    distill = train_config(weighted, {"role": "student", "seed": 0, "init": "projected"}, {}, "cpu", "runs").distill
    assert distill.teacher is None and distill.alpha == 0.5  # the dense original, with the study's weights


def test_the_identity_holds_init_and_projection_and_the_weights_by_content(tmp_path, dense_weights):
    both = study(init=["scratch", "projected"], weights=str(dense_weights))
    assert config_digest(both) != config_digest(study())
    assert config_digest(both) != config_digest(study(init=["scratch", "projected"], weights=str(dense_weights),
                                                      projection="fit"))
    moved = tmp_path / "elsewhere.pt"
    moved.write_bytes(dense_weights.read_bytes())
    assert config_digest(study(init=["scratch", "projected"], weights=str(moved))) == config_digest(both)
    assert comparable(both.to_dict())["weights"] == "given"
    import hashlib
    assert weights_digest(both) == "sha256:" + hashlib.sha256(dense_weights.read_bytes()).hexdigest()


def test_run_records_the_weights_and_refuses_other_ones(tmp_path, dense_weights):
    config = study(init="projected", weights=str(dense_weights))
    study_, _, queued = prepare_study(config, None, tmp_path)
    assert queued == 4 and study_.user_attrs[WEIGHTS_ATTR] == weights_digest(config)
    other = tmp_path / "other.pt"
    torch.save({k: v + 1 for k, v in torch.load(dense_weights, weights_only=True).items()}, other)
    with pytest.raises(ConfigError, match="holds other weights than study 'inits' was started with"):
        prepare_study(config.replace(weights=str(other)), None, tmp_path)


def test_weights_are_checked_against_the_dense_model_before_anything_is_queued(tmp_path, dense_weights):
    check_weights(study(init="projected", weights=str(dense_weights)))  # the right ones pass
    with pytest.raises(ConfigError, match="weights = '/no/dense.pt': no such file"):
        check_weights(study(init="projected", weights="/no/dense.pt"))
    wider = tmp_path / "wider.pt"
    torch.save(create_model("wrn-10-2", num_classes=10, in_channels=1).state_dict(), wider)
    with pytest.raises(ConfigError, match=r"inits.toml: weights = '.*wider.pt': .*shape"):
        check_weights(study(init="projected", weights=str(wider)))
    from budgetsearch.study import run_study

    with pytest.raises(ConfigError, match="shape"):
        run_study(study(init="projected", weights=str(wider)), RunOptions(runs_dir=str(tmp_path / "runs")))
    assert not (tmp_path / "runs").exists()


def test_a_study_of_both_inits_records_each_start_end_to_end(tmp_path):
    """Digits, one epoch, one budget, two families, from scratch and projected from a briefly trained dense model."""
    from budgetsearch.analysis import load_frontier
    from budgetsearch.study import run_study
    from budgetsearch.training import TrainConfig, train_trial

    dense = tmp_path / "dense.pt"
    train_trial("wrn-10-1", dataset="digits", config=TrainConfig(epochs=2, seed=0), save=str(dense))
    config = study(init=["scratch", "projected"], weights=str(dense), seeds=1)
    report = run_study(config, RunOptions(runs_dir=str(tmp_path / "runs")))
    assert report.worker_exit_codes == (0,)
    storage = open_storage(None, config.name, runs_dir=tmp_path / "runs")
    trials = {(t.user_attrs["substitute"], t.user_attrs["init"]): t.user_attrs
              for t in optuna.load_study(study_name=config.name, storage=storage).get_trials()}
    assert set(trials) == {(s, i) for s in ("generic", "tucker") for i in ("scratch", "projected")}
    for (substitute, init), record in trials.items():
        assert record["status"] == "complete" and record["epochs_run"] == 1, record["message"]
        if init == "scratch":
            assert record["projection_weight_error"] is None and record["initial_val_error"] is None
            continue
        assert 0 < record["projection_weight_error"] < 1 and 0 <= record["projection_output_error"]
        assert 0 <= record["initial_val_error"] <= 100 and record["initial_test_error"] is not None
        layers = record["projection_layers"]
        assert layers and all(0 <= layer["weight_error"] <= 1 for layer in layers)
        # the pooled error lies between the layers' smallest and largest
        assert min(l["weight_error"] for l in layers) - 1e-9 <= record["projection_weight_error"] <= \
            max(l["weight_error"] for l in layers) + 1e-9
        assert record["config"]["train"]["init"] == "projected"
    frontier = load_frontier(storage, config.name)
    assert set(frontier.gains["substitute"]) == {"generic", "tucker"}
    assert set(frontier.projection["substitute"]) == {"generic", "tucker"}
    assert set(zip(frontier.points["substitute"], frontier.points["init"])) == set(trials)


def test_status_rows_keep_each_init_of_a_cell_apart():
    import optuna

    from budgetsearch.cli._output import with_init
    from budgetsearch.study import summary_rows

    def trial(number, init, val_error):
        cell = "generic|0.1x|0" + ("" if init is None or init == "scratch" else f"|{init}")
        attrs = {"role": "student", "substitute": "generic", "budget": "0.1x", "budget_params": 100, "params": 90,
                 "setting": 0.3, "cell": cell, "status": "complete", "val_error": val_error, "test_error": val_error}
        if init is not None:  # a trial recorded before `init` existed has none: it started from scratch
            attrs["init"] = init
        made = optuna.trial.create_trial(value=val_error, user_attrs=attrs)
        made.number = number
        return made

    rows = summary_rows([trial(0, None, 9.0), trial(1, "projected", 4.0)])
    assert [(row["init"], row["val_error"], row["trials"]) for row in rows] == [("scratch", 9.0, 1),
                                                                                 ("projected", 4.0, 1)]
    columns = ["role", "substitute", "budget"]
    assert with_init(columns, rows) == ["role", "substitute", "init", "budget"]
    assert with_init(columns, rows[:1]) == columns  # one init: the table as it always was
