"""`budgetsearch train` through cli.main."""

import json

import pytest
from budgetsearch import cli
from budgetsearch.training import load_checkpoint


def _run_json(capsys, argv):
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_train_prints_json_saves_a_checkpoint_and_shows_progress(tmp_path, capsys):
    out = tmp_path / "teacher.pt"
    code, record, err = _run_json(capsys, [
        "train", "--model", "wrn-10-1", "--substitute", "acdc", "--setting", "2", "--dataset", "digits",
        "--epochs", "2", "--batch-size", "64", "--device", "cpu", "--save", str(out), "--json"])
    assert code == 0 and record["status"] == "complete" and record["epochs_run"] == 2
    assert record["config"]["architecture"] == {"model": "wrn-10-1", "substitute": "acdc", "setting": 2,
                                                "num_classes": 10, "input_size": [1, 8, 8]}
    assert record["checkpoint"] == str(out) and out.is_file()
    assert "2/2" in err and "img_s" in err  # the tqdm bar, on stderr
    # the saved model can teach
    code, student, _ = _run_json(capsys, [
        "train", "--model", "wrn-10-1", "--substitute", "tucker:0.5", "--epochs", "1", "--batch-size", "64",
        "--device", "cpu", "--teacher", str(out), "--json"])
    assert code == 0 and student["history"][0]["train_at_loss"] > 0
    assert student["config"]["distill"]["teacher"] == str(out)


def test_preset_and_overrides(capsys):
    code, record, _ = _run_json(capsys, [
        "train", "--model", "wrn-10-1", "--preset", "original", "--epochs", "1", "--batch-size", "256",
        "--validation-size", "100", "--no-crs-wd", "--device", "cpu", "--json"])
    assert code == 0
    config = record["config"]
    assert (config["schedule"], config["milestones"], config["crs_weight_decay"]) == ("original-steps", [60, 120, 160], False)
    assert config["val_images"] == 100 and record["history"][0]["lr"] == 0.1

    code, record, _ = _run_json(capsys, [
        "train", "--model", "wrn-10-1", "--preset", "original", "--epochs", "3", "--milestones", "1,2",
        "--gamma", "0.5", "--batch-size", "256", "--device", "cpu", "--json"])
    assert code == 0 and [m["lr"] for m in record["history"]] == [0.1, 0.05, 0.025]


def test_vit_options_reach_the_trainer(capsys):
    code, record, _ = _run_json(capsys, [
        "train", "--model", "wrn-10-1", "--epochs", "2", "--batch-size", "256", "--optimizer", "adamw",
        "--betas", "0.8,0.95", "--lr", "0.001", "--warmup-epochs", "1", "--label-smoothing", "0.1",
        "--grad-clip", "2", "--device", "cpu", "--json"])
    config = record["config"]
    assert code == 0 and (config["optimizer"], config["betas"], config["warmup_epochs"], config["label_smoothing"],
                          config["grad_clip"]) == ("adamw", [0.8, 0.95], 1.0, 0.1, 2.0)
    assert record["history"][0]["lr"] == pytest.approx(0.001)  # the last warmup step reaches lr


def test_an_infeasible_budget_is_the_solvers_one_line_error(capsys, cifar_mini):
    pytest.importorskip("budgetsearch.solver")
    code = cli.main(["train", "--model", "wrn-10-1", "--substitute", "acdc", "--budget", "1000",
                     "--dataset", f"cifar10:{cifar_mini}", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "acdc cannot meet budget" in err and len(err.strip().splitlines()) == 1


def test_budget_goes_through_the_solver(capsys):
    pytest.importorskip("budgetsearch.solver")
    code, record, _ = _run_json(capsys, [
        "train", "--model", "wrn-10-1", "--substitute", "acdc", "--budget", "0.2x", "--dataset", "digits",
        "--epochs", "1", "--batch-size", "128", "--device", "cpu", "--json"])
    assert code == 0
    budget = record["budget"]
    assert record["config"]["architecture"]["setting"] == budget["setting"]
    assert record["params"] == budget["params"] <= budget["budget_params"]
    # 0.2x of the dense 1-channel wrn-10-1 (stem 1->16): the trainer's own reference count agrees
    assert budget["budget_params"] == int(0.2 * record["reference_params"])
    assert budget["fill"] == budget["params"] / budget["budget_params"] and budget["saturated"] is False
    # The trainer counts the whole network it trained; the solver summed its sites.
    assert record["reconstruction_mult_adds"] == budget["reconstruction_mult_adds"] > 0


def test_train_with_a_budget_prints_the_setting_it_solved_and_the_fill(capsys):
    code = cli.main(["train", "--model", "wrn-10-1", "--substitute", "shuffle", "--budget", "0.2x", "--dataset", "digits",
                     "--epochs", "1", "--batch-size", "256", "--device", "cpu"])
    out = capsys.readouterr().out
    solved = next(line for line in out.splitlines() if line.startswith("budget 0.2x"))
    assert code == 0 and "shuffle groups=" in solved and "fill 0." in solved
    assert "fill" in out.splitlines()[1 + out.splitlines().index(solved)]


@pytest.mark.parametrize("option, value, message", [
    ("--epochs", "0", "TrainConfig.epochs must be an int in [1, 10000], but got 0"),
    ("--validation-size", "inf", "TrainConfig.validation_size must be an int >= 0 (a count) or a float in [0, 1)"),
    ("--validation-size", "1.5", "a float in [0, 1) (a fraction), but got 1.5"),
    ("--seed", str(10 ** 30), f"TrainConfig.seed must be an int in [0, {2 ** 64 - 1}], but got {10 ** 30}"),
    ("--alpha", "0.5", "got --alpha 0.5 without --teacher"),
    ("--milestones", "60;120", "--milestones must be comma-separated epochs such as 60,120,160, but got '60;120'"),
    ("--milestones", "120,60", "TrainConfig.milestones must be strictly increasing ints >= 1, but got (120, 60)"),
    ("--optimizer", "adam", "TrainConfig.optimizer must be one of ('sgd', 'adamw'), but got 'adam'"),
    ("--betas", "0.9", "TrainConfig.betas must be two numbers in [0, 1), but got (0.9,)"),
    ("--betas", "0.9;0.99", "--betas must be two comma-separated numbers such as 0.9,0.999, but got '0.9;0.99'"),
    ("--grad-clip", "0", "TrainConfig.grad_clip must be a finite number in (0, inf), but got 0.0"),
])
def test_bad_option_is_one_line_error(capsys, option, value, message):
    code = cli.main(["train", "--model", "wrn-10-1", option, value, "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_save_refuses_an_existing_file_before_training_unless_told_to_overwrite(tmp_path, capsys):
    out = tmp_path / "model.pt"
    out.write_text("an earlier run's checkpoint")
    argv = ["train", "--model", "wrn-10-1", "--epochs", "1", "--batch-size", "256", "--device", "cpu",
            "--save", str(out)]
    code = cli.main(argv)
    captured = capsys.readouterr()
    assert code == 2 and "already exists" in captured.err and len(captured.err.strip().splitlines()) == 1
    assert "epoch" not in captured.err and out.read_text() == "an earlier run's checkpoint"
    assert cli.main(argv + ["--overwrite"]) == 0
    assert load_checkpoint(out).architecture.model == "wrn-10-1"
