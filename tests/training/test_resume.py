"""A trial stopped mid-way and resumed from its training state ends exactly where the uninterrupted one does."""

import dataclasses
import logging

import pytest
import torch

from budgetsearch.data import load_dataset
from budgetsearch.errors import CheckpointError
from budgetsearch.training import TrainConfig, train_trial

TINY_DARTS = {"channels": 4, "layers": 3, "drop_path_prob": 0.2}  # drop-path: masks from the global generator


class Killed(Exception):
    """Stands for the worker dying during an epoch (after the previous epoch's state was written)."""


@pytest.fixture(scope="module")
def small_digits():
    digits = load_dataset("digits", validation_size=0.1, seed=0)
    return dataclasses.replace(digits, train_images=digits.train_images[:256], train_labels=digits.train_labels[:256])


def config(**fields) -> TrainConfig:
    # momentum and augmentation are on: the optimizer's and the data generator's state must both carry over
    return TrainConfig(**({"epochs": 3, "batch_size": 64, "device": "cpu", "seed": 3} | fields))


def weights(path) -> dict:
    return torch.load(path, weights_only=True)["state_dict"]


def trial(case, small_digits, random_cifar):
    if case == "wrn":
        return dict(model="wrn-10-1", substitute="tucker", setting=0.5, dataset=small_digits, config=config())
    return dict(model="darts", substitute="separable", setting=None, dataset=random_cifar(64),
                config=config(batch_size=32), model_options=TINY_DARTS)


@pytest.mark.parametrize("case", ["wrn", "darts"])
@pytest.mark.parametrize("killed_in_epoch", [2, 3])
def test_a_resumed_trial_ends_with_the_uninterrupted_ones_weights(case, killed_in_epoch, small_digits, random_cifar,
                                                                  tmp_path):
    args = trial(case, small_digits, random_cifar)
    whole = train_trial(**args, save=tmp_path / "whole.pt", resume=tmp_path / "whole-state.pt")
    assert whole.resumed_from_epoch is None

    def die(epoch, metrics):
        if epoch == killed_in_epoch:
            raise Killed  # raised after the epoch ran but before its state was written: that epoch is lost
        return False

    state = tmp_path / "state.pt"
    with pytest.raises(Killed):
        train_trial(**args, on_epoch=die, resume=state)
    seen = []
    resumed = train_trial(**args, save=tmp_path / "resumed.pt", resume=state,
                          on_epoch=lambda epoch, metrics: seen.append(epoch))
    assert resumed.status == "complete" and resumed.resumed_from_epoch == killed_in_epoch - 1
    assert seen == [1, 2, 3]  # restored epochs are reported to the new attempt too
    ours, theirs = weights(tmp_path / "resumed.pt"), weights(tmp_path / "whole.pt")
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[name], theirs[name]) for name in ours), "resumed weights differ"
    strip = ("images_per_second", "epoch_time")
    assert [{k: v for k, v in m.items() if k not in strip} for m in resumed.history] == \
        [{k: v for k, v in m.items() if k not in strip} for m in whole.history]
    assert resumed.test_error == whole.test_error


def test_a_torn_state_file_restarts_from_epoch_0_with_a_warning(small_digits, tmp_path, caplog):
    args = trial("wrn", small_digits, None) | {"config": config(epochs=2)}
    state = tmp_path / "state.pt"
    whole = train_trial(**args, resume=state)
    state.write_bytes(state.read_bytes()[:1000])  # what a disk that filled up mid-write would leave
    with caplog.at_level(logging.WARNING, logger="budgetsearch"):
        again = train_trial(**args, resume=state)
    assert again.resumed_from_epoch is None
    assert [m["val_loss"] for m in again.history] == [m["val_loss"] for m in whole.history]  # from epoch 0
    assert any("cannot resume from" in r.getMessage() and "training from epoch 0" in r.getMessage()
               for r in caplog.records)


def test_a_state_of_other_settings_is_not_resumed(small_digits, tmp_path, caplog):
    args = trial("wrn", small_digits, None) | {"config": config(epochs=2)}
    state = tmp_path / "state.pt"
    train_trial(**args, resume=state)
    with caplog.at_level(logging.WARNING, logger="budgetsearch"):
        other = train_trial(**(args | {"config": config(epochs=2, lr=0.05)}), resume=state)
    assert other.resumed_from_epoch is None and len(other.history) == 2
    assert any("other settings" in r.getMessage() for r in caplog.records)


def test_a_state_of_this_trial_that_does_not_fit_it_is_an_error(small_digits, tmp_path):
    args = trial("wrn", small_digits, None) | {"config": config(epochs=2)}
    state = tmp_path / "state.pt"
    train_trial(**args, resume=state)
    payload = torch.load(state, weights_only=True)
    payload["model"].pop(next(iter(payload["model"])))  # a weight gone missing
    torch.save(payload, state)
    with pytest.raises(CheckpointError, match="records this trial but does not fit it"):
        train_trial(**args, resume=state)
