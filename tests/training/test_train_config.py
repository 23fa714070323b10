"""TrainConfig validation, presets and the learning-rate schedules (the original WRN protocol: x0.2 at epochs 60, 120, 160)."""

import math

import pytest

from budgetsearch.errors import ConfigError
from budgetsearch.training import PRESETS, DistillConfig, TrainConfig, learning_rate


@pytest.mark.parametrize("field, value", [
    ("epochs", 0), ("epochs", 2.0), ("batch_size", 0), ("lr", 0.0), ("lr", math.nan), ("momentum", 1.5),
    ("weight_decay", -1e-4), ("schedule", "step"), ("milestones", (120, 60)), ("validation_size", 1.0),
    ("validation_size", -1), ("validation_size", math.inf), ("seed", -1), ("seed", 2 ** 64), ("device", "gpu"),
    ("crs_weight_decay", 1), ("distill", "t.pt"),
])
def test_bad_values_are_refused_naming_field_and_value(field, value):
    with pytest.raises(ConfigError) as info:
        TrainConfig(**{field: value})
    assert f"TrainConfig.{field}" in str(info.value) and repr(value) in str(info.value)


@pytest.mark.parametrize("field, value", [("alpha", 1.5), ("beta", -1.0), ("temperature", 0.0), ("teacher", "")])
def test_bad_distill_values_are_refused(field, value):
    arguments = {"teacher": "t.pt", field: value}
    with pytest.raises(ConfigError, match=f"DistillConfig.{field}"):
        DistillConfig(**arguments)


def test_short_defaults_are_the_issue_recipe():
    config = PRESETS["short"]
    assert (config.lr, config.momentum, config.batch_size, config.weight_decay, config.schedule) == \
        (0.1, 0.9, 128, 5e-4, "cosine")
    assert config.crs_weight_decay


def test_original_steps_preset_reproduces_the_reference_rates():
    # The original protocol: lr 0.1 for epochs 0-59, 0.02 for 60-119, 0.004 for 120-159, 0.0008 for 160-199,
    # changed at the start of the epoch (so epoch 60 already runs at 0.02, every step of it).
    config = PRESETS["original"]
    assert config.epochs == 200
    expected = {0: 0.1, 59: 0.1, 60: 0.02, 119: 0.02, 120: 0.004, 159: 0.004, 160: 0.0008, 199: 0.0008}
    for epoch, rate in expected.items():
        for step in (0, 390):
            assert learning_rate(config, epoch, step, 391) == pytest.approx(rate, rel=1e-12)


def test_cosine_anneals_over_every_step_of_the_trial():
    config = TrainConfig(epochs=4, lr=0.2)
    steps = 10
    assert learning_rate(config, 0, 0, steps) == pytest.approx(0.2)
    assert learning_rate(config, 2, 0, steps) == pytest.approx(0.1)  # halfway: cos(pi/2) = 0
    assert learning_rate(config, 1, 0, steps) == pytest.approx(0.1 * (1 + math.sqrt(0.5)))  # a quarter: cos(pi/4)
    rates = [learning_rate(config, e, s, steps) for e in range(4) for s in range(steps)]
    assert all(a > b for a, b in zip(rates, rates[1:])) and rates[-1] > 0


def test_to_dict_is_plain_data():
    config = TrainConfig(distill=DistillConfig("teacher.pt", alpha=0.5))
    record = config.to_dict()
    assert record["distill"] == {"teacher": "teacher.pt", "beta": 1e3, "alpha": 0.5, "temperature": 4.0,
                                 "teacher_model": None}
    assert record["milestones"] == [60, 120, 160]
