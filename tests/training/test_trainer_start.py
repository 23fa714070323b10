"""train_trial from weights: loaded as they are, or projected from the dense model and measured at epoch 0."""

import pytest
import torch

from budgetsearch.errors import ConfigError, WeightsError
from budgetsearch.training import Architecture, DistillConfig, TrainConfig, evaluate, train_trial

DENSE = Architecture("wrn-10-1", "conv", None, 10, (3, 32, 32))


def config(weights, init="projected", **changes):
    return TrainConfig(**({"epochs": 1, "batch_size": 16, "device": "cpu", "init": init, "weights": str(weights),
                          "calibration_images": 8} | changes))


@pytest.fixture
def dense_weights(tmp_path):
    """A dense wrn-10-1 whose BN statistics and weights differ from any fresh build's, saved as a state_dict."""
    model = DENSE.build(seed=3)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "dense.pt"
    torch.save(model.state_dict(), path)
    return model.eval(), path


def test_each_value_of_init_is_checked_against_weights():
    with pytest.raises(ConfigError, match="TrainConfig.init must be one of"):
        TrainConfig(init="pretrained", weights="w.pt")
    with pytest.raises(ConfigError, match="refused by 'scratch'"):
        TrainConfig(weights="w.pt")
    with pytest.raises(ConfigError, match="needed by init 'loaded' and 'projected'"):
        TrainConfig(init="projected")
    with pytest.raises(ConfigError, match="TrainConfig.projection must be one of"):
        TrainConfig(init="projected", weights="w.pt", projection="svd")
    with pytest.raises(ConfigError, match="dense original of a projected trial"):
        TrainConfig(distill=DistillConfig(None))
    with pytest.raises(ConfigError, match=r"epochs must be an int in \[1, "):
        TrainConfig(epochs=0)
    assert TrainConfig(init="loaded", weights="w.pt", epochs=0).epochs == 0


def test_projecting_onto_dense_layers_starts_at_the_dense_models_error(dense_weights, random_cifar):
    model, path = dense_weights
    data = random_cifar(48, 40)
    result = train_trial("wrn-10-1", "conv", None, data, config(path, epochs=0))
    expected = evaluate(model, data.test_images, data.test_labels, torch.tensor(data.mean), torch.tensor(data.std),
                        500, torch.device("cpu")).top1_error
    assert result.initial["test_error"] == pytest.approx(expected)
    assert result.initial["dense_test_error"] == pytest.approx(expected)
    assert result.test_error == pytest.approx(expected)  # no epoch ran: the weights as projected
    assert result.projection["weight_error"] == pytest.approx(0.0, abs=1e-6)
    assert [layer["name"] for layer in result.projection["layers"]] == list(model.substitution_points)


def test_a_projected_trial_records_its_errors_and_distils_from_the_dense_original(dense_weights, random_cifar):
    _, path = dense_weights
    data = random_cifar(48, 16)
    first, second = (train_trial("wrn-10-1", "tucker", 0.5, data, config(path)) for _ in range(2))
    assert first.status == "complete", first.message
    # The default teacher: the dense model in memory, by knowledge distillation (not attention transfer, which
    # the WRN's maps would allow).
    assert first.config["distill"] | {"temperature": None} == {"teacher": None, "beta": 0.0, "alpha": 0.9,
                                                                "temperature": None, "teacher_model": None}
    assert first.history[0]["train_kd_loss"] > 0 and first.history[0]["train_at_loss"] == 0
    assert first.projection["batch_norms_reestimated"] == 7
    layers = first.projection["layers"]
    assert all(0 < layer["weight_error"] < 1 and layer["output_error"] is not None for layer in layers)
    assert first.projection == second.projection and first.initial == second.initial  # calibration by seed


def test_loaded_weights_are_this_networks_own_and_a_partial_load_is_recorded(tmp_path, random_cifar):
    student = Architecture("wrn-10-1", "tucker", 0.5, 10, (3, 32, 32)).build(seed=7).eval()
    state = student.state_dict()
    torch.save(state, tmp_path / "student.pt")
    data = random_cifar(48, 40)
    result = train_trial("wrn-10-1", "tucker", 0.5, data, config(tmp_path / "student.pt", "loaded", epochs=0))
    expected = evaluate(student, data.test_images, data.test_labels, torch.tensor(data.mean),
                        torch.tensor(data.std), 500, torch.device("cpu")).top1_error
    assert result.initial["test_error"] == pytest.approx(expected) and result.initial["left_at_init"] == []
    del state["fc.weight"]
    torch.save(state, tmp_path / "partial.pt")
    with pytest.raises(WeightsError, match=r"1 missing from the file: fc.weight \(10, 64\)"):
        train_trial("wrn-10-1", "tucker", 0.5, data, config(tmp_path / "partial.pt", "loaded", epochs=0))
    partial = train_trial("wrn-10-1", "tucker", 0.5, data,
                          config(tmp_path / "partial.pt", "loaded", epochs=0, weights_strict=False))
    assert partial.initial["left_at_init"] == ["fc.weight"]


def test_weights_with_nan_are_refused_before_projection(dense_weights, tmp_path, random_cifar):
    model, _ = dense_weights
    state = model.state_dict()
    state["groups.0.0.conv1.weight"][0, 0, 0, 0] = float("nan")
    torch.save(state, tmp_path / "nan.pt")
    with pytest.raises(WeightsError, match="NaN or infinite values .*groups.0.0.conv1.weight"):
        train_trial("wrn-10-1", "generic", 0.5, random_cifar(16, 8), config(tmp_path / "nan.pt"))
