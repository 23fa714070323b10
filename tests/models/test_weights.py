"""load_weights: a state_dict, a .safetensors file or a checkpoint into the model the caller built; every key fits."""

import pickle

import pytest
import torch

from budgetsearch.errors import CheckpointError, WeightsError
from budgetsearch.models import create_model, load_weights
from budgetsearch.training import Architecture, save_checkpoint

safetensors_torch = pytest.importorskip("safetensors.torch")  # the test extra installs it


def _trained(name="wrn-10-1", seed=1):
    """A model whose every parameter and buffer differs from a fresh build's."""
    torch.manual_seed(seed)
    model = create_model(name)
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.uniform_(0.5, 1.5)
    return model


def _equal(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("kind", ["torch.save", "safetensors", "checkpoint"])
def test_each_format_loads_every_tensor(tmp_path, kind):
    source = _trained()
    if kind == "torch.save":
        path = tmp_path / "w.pt"
        torch.save(source.state_dict(), path)
    elif kind == "safetensors":
        path = tmp_path / "w.safetensors"
        safetensors_torch.save_file(source.state_dict(), path)
    else:
        path = save_checkpoint(tmp_path / "c.pt", source, Architecture("wrn-10-1", "conv", None, 10, (3, 32, 32)))
    target = create_model("wrn-10-1")
    assert not _equal(source, target)
    assert load_weights(target, path) == []
    assert _equal(source, target)


def test_another_architecture_lists_missing_unexpected_and_misshaped_keys_with_shapes(tmp_path):
    torch.save(create_model("wrn-10-2").state_dict(), tmp_path / "wide.pt")
    with pytest.raises(WeightsError) as refused:
        load_weights(create_model("wrn-10-1"), tmp_path / "wide.pt")
    text = str(refused.value)
    assert "\n" not in text
    # wrn-10-1's first block conv is 16 -> 16 channels, wrn-10-2's 16 -> 32.
    assert "shaped differently" in text and "(model (16, 16, 3, 3), file (32, 16, 3, 3))" in text
    assert "weights for another architecture" not in text  # the stem still fits: the strict error lists the keys

    state = create_model("wrn-10-1").state_dict()
    state["extra.weight"] = torch.zeros(2, 3)
    dropped = state.pop("fc.weight")
    torch.save(state, tmp_path / "edited.pt")
    with pytest.raises(WeightsError, match=r"1 missing from the file: fc.weight \(10, 64\); "
                                           r"1 not in the model: extra.weight \(2, 3\)$"):
        load_weights(create_model("wrn-10-1"), tmp_path / "edited.pt")
    assert dropped.shape == (10, 64)


def test_a_partial_load_returns_exactly_what_stayed_at_its_initialisation(tmp_path):
    source = _trained()
    state = source.state_dict()
    for key in ("fc.weight", "fc.bias"):
        state.pop(key)
    state["stem.weight"] = torch.zeros(1, 3, 3, 3)  # mis-shaped: stays at init too
    torch.save(state, tmp_path / "partial.pt")
    target = create_model("wrn-10-1")
    fresh = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(WeightsError, match="missing from the file"):
        load_weights(target, tmp_path / "partial.pt")
    left = load_weights(target, tmp_path / "partial.pt", strict=False)
    assert sorted(left) == ["fc.bias", "fc.weight", "stem.weight"]
    loaded = target.state_dict()
    for key, value in loaded.items():
        expected = fresh[key] if key in left else source.state_dict()[key]
        assert torch.equal(value, expected), key


def test_weights_of_which_nothing_fits_are_refused_even_when_partial_loads_are_allowed(tmp_path):
    torch.save({"encoder.weight": torch.zeros(3, 3)}, tmp_path / "other.pt")
    with pytest.raises(WeightsError, match="none of the 1 tensors .* fits WideResNet.*another architecture"):
        load_weights(create_model("wrn-10-1"), tmp_path / "other.pt", strict=False)


class Payload:  # an arbitrary class: weights_only must refuse to unpickle it
    pass


def test_files_that_are_not_weights_are_one_line_each(tmp_path):
    model = create_model("wrn-10-1")
    torch.save(model.state_dict(), tmp_path / "w.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "w.pt").read_bytes()[:2000])
    safetensors_torch.save_file(model.state_dict(), tmp_path / "w.safetensors")
    (tmp_path / "cut.safetensors").write_bytes((tmp_path / "w.safetensors").read_bytes()[:2000])
    torch.save({"weights": "not a tensor", "step": 3}, tmp_path / "text.pt")
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with open(tmp_path / "code.pt", "wb") as stream:
        pickle.dump({"weight": Payload()}, stream)
    cases = {
        "cut.pt": "it is truncated or not a file written by torch.save",
        "cut.safetensors": "it is truncated or not a .safetensors file",
        "text.pt": r"not a state_dict: 2 of its entries are not tensors, e.g. weights \(str\), step \(int\)",
        "list.pt": "holds a list, not tensors by name",
        "code.pt": "not a file of tensors and plain data",
        "absent.pt": "no weights file at",
        ".": "is a folder, not a file; a transformers model folder loads through a model reference",
    }
    for name, message in cases.items():
        with pytest.raises(WeightsError, match=message) as refused:
            load_weights(model, tmp_path / name)
        assert "\n" not in str(refused.value) and "weights_only=False" not in str(refused.value)


def test_a_damaged_checkpoint_is_a_checkpoint_error(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", create_model("wrn-10-1"),
                           Architecture("wrn-10-1", "conv", None, 10, (3, 32, 32)))
    payload = torch.load(path, weights_only=True)
    payload["version"] = 99
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="format version 99"):
        load_weights(create_model("wrn-10-1"), path)


def test_a_transformers_model_folder_loads_through_a_model_reference(tmp_path):
    transformers = pytest.importorskip("transformers")
    config = transformers.ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], num_labels=10)
    torch.manual_seed(0)
    saved = transformers.ResNetForImageClassification(config)
    saved.save_pretrained(tmp_path / "tiny")  # a config-only model with random weights: nothing downloaded
    model = create_model("examples.pretrained:image_classifier", path=str(tmp_path / "tiny"))
    assert model.substitution_points  # its 3x3 convs, each kept with its saved weights
    assert _equal(saved, model)
    with pytest.raises(WeightsError, match="is a folder"):
        load_weights(model, tmp_path / "tiny")
