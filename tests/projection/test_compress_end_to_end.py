"""End to end on real images: a dense network trained on the CIFAR-10 subset, compressed to 0.25x with every family
that has a closed form, by the command line; projected accuracy against chance, fine-tuning against projection.

The network is a ViT: its substitution points are linears, where the SVD-based families project the dense matrix
itself. A WRN's 3×3 convs go through the depthwise-separable split first, whose error alone (0.885 of the weight's
norm on a wrn-10-1 trained for 3 epochs) leaves every depthwise family near chance before fine-tuning.
"""

import dataclasses
import json
import math
import os
from pathlib import Path

import pytest
import torch

from budgetsearch.cli import main
from budgetsearch.data import load_dataset
from budgetsearch.substitutes import get_substitute, list_substitutes
from budgetsearch.training import TrainConfig, load_checkpoint, train_trial

MODEL = "vit-1-64"
# Families fitted by least squares only (method="fit"): no closed form to test here.
NO_CLOSED_FORM = {"acdc", "butterfly", "shuffle", "blast"}
# Low rank by truncated SVD of the matrix (generic) or of each block (btt): projected accuracy well above chance.
SVD_BASED = {"generic", "btt"}
FAMILIES = [name for name in list_substitutes() if get_substitute(name).hyperparameter is not None
            and "linear" in get_substitute(name).layer_kinds and name not in NO_CLOSED_FORM]


# As tests/conftest.py's (a session fixture cannot take its function-scoped `cifar_mini`, and `from conftest`
# resolves to whichever conftest module xdist loaded first).
CIFAR_MINI = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar-10-mini" / "cifar-10-batches-py"


def _subset(data, train: int):
    return dataclasses.replace(data, train_images=data.train_images[:train], train_labels=data.train_labels[:train])


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    path = os.environ.get("BUDGETSEARCH_CIFAR_MINI", str(CIFAR_MINI))
    if not os.path.isdir(path):
        pytest.skip(f"CIFAR-10 subset not found at {path}")
    folder = tmp_path_factory.mktemp("compress")
    data = load_dataset(f"cifar10:{path}", validation_size=0, seed=0)
    config = TrainConfig(epochs=3, batch_size=64, optimizer="adamw", lr=2e-3, weight_decay=0.05, device="cpu",
                         validation_size=0)
    checkpoint = folder / "dense.ckpt"
    result = train_trial(MODEL, "conv", None, _subset(data, 2000), config, save=checkpoint)
    weights = folder / "dense.pt"
    torch.save(load_checkpoint(checkpoint).model.state_dict(), weights)  # a plain state_dict, as users save them
    return {"folder": folder, "weights": weights, "data": data, "spec": f"cifar10:{path}",
            "dense_accuracy": 100 - result.test_error}


@pytest.mark.parametrize("family", FAMILIES)
def test_compress_projects_every_closed_form_family_and_writes_a_loadable_checkpoint(trained, family, capsys):
    assert trained["dense_accuracy"] > 25  # the dense model learnt something to project
    out = trained["folder"] / f"{family}.pt"
    status = main(["compress", "--model", MODEL, "--weights", str(trained["weights"]), "--substitute", family,
                   "--budget", "0.25x", "--out", str(out), "--dataset", trained["spec"], "--device", "cpu",
                   "--validation-size", "0", "--json"])
    captured = capsys.readouterr()
    if status == 2 and "cannot meet budget" in captured.err:  # e.g. btt: its rank 1 is over 0.25x
        pytest.skip(f"{family} has no network of {MODEL} within 0.25x")
    assert status == 0, captured.err
    printed = json.loads(captured.out)
    accuracy = printed["test_accuracy"]
    assert accuracy["dense"] == pytest.approx(trained["dense_accuracy"])
    assert printed["budget"]["fill"] <= 1 and printed["params"] <= printed["budget"]["budget_params"]
    assert len(printed["projection"]["layers"]) == 4
    if family in SVD_BASED:  # above chance (10%) by more than 3 standard errors of guessing on the test set
        assert accuracy["projected"] > 10 + 3 * 100 * math.sqrt(0.1 * 0.9 / len(trained["data"].test_labels)), \
            accuracy
    # The checkpoint rebuilds the substituted network, whose accuracy is the projected one.
    loaded = load_checkpoint(out)
    data = trained["data"]
    with torch.no_grad():
        images = (data.test_images.float() / 255 - torch.tensor(data.mean)[:, None, None]) / \
            torch.tensor(data.std)[:, None, None]
        wrong = (loaded.model(images).argmax(1) != data.test_labels).float().mean().item()
    assert 100 * (1 - wrong) == pytest.approx(accuracy["projected"], abs=0.2)
    assert main(["count", "--model", MODEL, "--substitute", family, "--setting", str(printed["budget"]["setting"]),
                 "--weights", str(out)]) == 0


@pytest.mark.parametrize("family", ["generic", "tucker"])
def test_fine_tuning_with_distillation_does_not_end_below_the_projection(trained, family):
    from budgetsearch.solver import solve_budget

    solution = solve_budget(MODEL, family, "0.25x", num_classes=10, input_size=(3, 32, 32))
    config = TrainConfig(epochs=1, batch_size=64, optimizer="adamw", lr=5e-4, weight_decay=0.05, device="cpu",
                         validation_size=0, init="projected", weights=str(trained["weights"]))
    result = train_trial(MODEL, family, solution.setting, _subset(trained["data"], 2000), config)
    assert result.status == "complete", result.message
    # The default teacher: the dense model in memory, by knowledge distillation (not attention transfer, though
    # the ViT gives attention maps).
    distill = result.config["distill"]
    assert distill["teacher"] is None and (distill["alpha"], distill["beta"]) == (0.9, 0.0)
    assert result.history[0]["train_kd_loss"] > 0 and result.history[0]["train_at_loss"] == 0
    assert result.test_error <= result.initial["test_error"] + 0.5, (result.test_error, result.initial)
