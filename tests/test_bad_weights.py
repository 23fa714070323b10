"""Bad weights and projections through `budgetsearch compress`: one line each, exit 2, nothing written to --out."""

import dataclasses
import pickle

import pytest
import torch

from budgetsearch import cli
from budgetsearch.data import load_dataset
from budgetsearch.errors import ConfigError
from budgetsearch.models import create_model
from budgetsearch.training import TrainConfig, train_trial


class Payload:  # an arbitrary class: weights_only must refuse to unpickle it
    def __reduce__(self):
        return (print, ("unpickled code ran",))


def digits_weights(folder, name="wrn-10-1", edit=None):
    """A dense ``name`` for the digits data set (one input channel), saved as a state_dict after ``edit``."""
    state = create_model(name, num_classes=10, in_channels=1).state_dict()
    if edit is not None:
        edit(state)
    path = folder / "w.pt"
    torch.save(state, path)
    return path


def _nan(state):
    state["groups.1.0.conv1.weight"][0, 0, 0, 0] = float("nan")


def _truncated(folder):
    path = digits_weights(folder)
    path.write_bytes(path.read_bytes()[:3000])
    return path


def _text(folder):
    path = folder / "w.pt"
    torch.save({"weights": "not tensors"}, path)
    return path


def _code(folder):
    path = folder / "w.pt"
    with open(path, "wb") as stream:
        pickle.dump({"stem.weight": Payload()}, stream)
    return path


CASES = [
    ("another-architecture", lambda t: digits_weights(t, "wrn-10-2"), "shaped differently"),
    ("truncated", _truncated, "truncated or not a file written by torch.save"),
    ("not-tensors", _text, "not a state_dict"),
    ("pickle-with-code", _code, "not a file of tensors and plain data"),
    ("nan-weights", lambda t: digits_weights(t, edit=_nan), "NaN or infinite values"),
]


@pytest.mark.parametrize("case, make, message", CASES, ids=[case[0] for case in CASES])
def test_bad_weights_are_one_line_and_nothing_is_written(tmp_path, capsys, case, make, message):
    weights, out = make(tmp_path), tmp_path / "out.pt"
    status = cli.main(["compress", "--model", "wrn-10-1", "--weights", str(weights), "--substitute", "generic",
                       "--budget", "0.25x", "--out", str(out), "--dataset", "digits", "--device", "cpu"])
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if "error" in line]
    assert status == 2 and len(lines) == 1 and message in lines[0], captured.err
    assert "Traceback" not in captured.err and "unpickled code ran" not in captured.out
    assert not out.exists() and list(tmp_path.glob("out.pt*")) == []


def test_a_calibration_batch_with_nan_is_refused(tmp_path):
    data = load_dataset("digits", validation_size=0.1)
    data = dataclasses.replace(data, std=(0.0,))  # normalising by a zero std: NaN and infinite inputs
    config = TrainConfig(epochs=0, device="cpu", init="projected", weights=str(digits_weights(tmp_path)))
    with pytest.raises(ConfigError, match="the calibration batch holds NaN or infinite values"):
        train_trial("wrn-10-1", "generic", 0.5, data, config, save=tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()
