"""train_trial takes a callable model and records it as the reference it is importable by."""

import pytest

from budgetsearch.errors import ConfigError
from budgetsearch.training import TrainConfig, train_trial
from budgetsearch.training._architecture import resolve_architecture
from examples.tinyvgg import TinyVGG


def test_a_callable_trains_like_its_reference_and_is_recorded_as_it():
    config = TrainConfig(epochs=1, batch_size=64, validation_size=0.2, seed=3)
    options = {"in_channels": 1, "width": 8}
    by_callable = train_trial(TinyVGG, "tucker", 0.5, "digits", config, model_options=options)
    by_reference = train_trial("examples.tinyvgg:TinyVGG", "tucker", 0.5, "digits", config, model_options=options)
    assert (by_callable.params, by_callable.train_loss, by_callable.val_error) == (
        by_reference.params, by_reference.train_loss, by_reference.val_error)
    recorded = resolve_architecture(TinyVGG, "tucker", 0.5, 10, (1, 8, 8), options)
    assert recorded.to_dict()["model"] == "examples.tinyvgg:TinyVGG"


@pytest.mark.parametrize("model", [lambda: None, TinyVGG(in_channels=1)], ids=["lambda", "module"])
def test_a_model_no_reference_can_name_is_refused(model):
    with pytest.raises(ConfigError, match="recorded by reference"):
        train_trial(model, "tucker", 0.5, "digits", TrainConfig(epochs=1))
