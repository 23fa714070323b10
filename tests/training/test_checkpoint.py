"""Checkpoints round-trip by name, load with weights_only and refuse weights that do not fit."""

import pickle

import pytest
import torch

from budgetsearch.errors import CheckpointError
from budgetsearch.training import Architecture, check_checkpoint_path, load_checkpoint, save_checkpoint
from crafted import crafted_checkpoint

ARCH = Architecture("wrn-10-1", "acdc", 3, 10, (3, 32, 32))


def test_round_trip_rebuilds_the_same_function(tmp_path):
    model = ARCH.build(seed=5)
    with torch.no_grad():  # move the BN statistics away from their init, so buffers are checked too
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
    path = save_checkpoint(tmp_path / "sub" / "m.pt", model, ARCH, {"val_error": 12.5})
    loaded = load_checkpoint(path)
    assert loaded.architecture == ARCH and loaded.summary == {"val_error": 12.5}
    assert not loaded.model.training
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), loaded.model(x))
    # the file is plain data: weights_only loading accepts it
    assert torch.load(path, weights_only=True)["architecture"]["substitute"] == "acdc"


def test_building_twice_from_one_seed_gives_the_same_weights_and_keeps_global_rng(monkeypatch):
    # CUDA generators are not restored by the CPU-only fork: building must not reseed them
    reseeded = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", reseeded.append)
    state = torch.get_rng_state()
    a, b, c = ARCH.build(seed=1), ARCH.build(seed=1), ARCH.build(seed=2)
    assert torch.equal(torch.get_rng_state(), state) and reseeded == []
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters()))


def test_architecture_that_does_not_match_its_weights_is_a_clear_error(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", ARCH.build(), ARCH)
    payload = torch.load(path, weights_only=True)
    payload["architecture"]["setting"] = 5  # five ACDC factors recorded, three stored
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match=r"do not fit WideResNet: .*the architecture it records: wrn-10-1 acdc:5"):
        load_checkpoint(path)


def test_missing_corrupt_and_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "absent.pt")
    path = save_checkpoint(tmp_path / "m.pt", ARCH.build(), ARCH)
    (tmp_path / "cut.pt").write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="cut.pt: it is truncated or not a file written by torch.save"):
        load_checkpoint(tmp_path / "cut.pt")
    payload = torch.load(path, weights_only=True)
    payload["summary"] = ["not", "a", "dict"]
    torch.save(payload, tmp_path / "damaged.pt")
    with pytest.raises(CheckpointError, match="damaged: its 'summary' record should be a dict, but is list"):
        load_checkpoint(tmp_path / "damaged.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a budgetsearch checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


class Payload:  # an arbitrary class: weights_only must refuse to unpickle it
    pass


def test_pickled_objects_are_refused(tmp_path):
    with open(tmp_path / "evil.pt", "wb") as stream:
        pickle.dump({"format": "budgetsearch-checkpoint", "obj": Payload()}, stream)
    with pytest.raises(CheckpointError, match="not a file of tensors and plain data") as refused:
        load_checkpoint(tmp_path / "evil.pt")
    assert "weights_only=False" not in str(refused.value)  # torch's advice to run the file's code


def test_paths_a_checkpoint_cannot_be_written_to_are_refused_up_front(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match=r"is a directory; give a file name"):
        check_checkpoint_path(tmp_path, overwrite=True)
    with pytest.raises(CheckpointError, match=r"file is a file, not a directory"):
        check_checkpoint_path(tmp_path / "file" / "deeper" / "m.pt", overwrite=True)
    with pytest.raises(CheckpointError, match=r"already exists"):
        check_checkpoint_path(tmp_path / "file", overwrite=False)
    assert check_checkpoint_path(tmp_path / "file", overwrite=True) == tmp_path / "file"
    assert check_checkpoint_path(tmp_path / "new" / "m.pt", overwrite=False) == tmp_path / "new" / "m.pt"


def test_a_failed_write_is_a_checkpoint_error_and_leaves_no_partial_file(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()  # the final rename onto a directory fails after the data was written
    with pytest.raises(CheckpointError, match=r"cannot write checkpoint .*taken"):
        save_checkpoint(target, ARCH.build(), ARCH)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


@pytest.mark.parametrize("named, message", [
    (None, "records model 'os:system', which is not a registered model, and a checkpoint never chooses code to "
           "import: name that model"),
    ("wrn-10-1", "records model 'os:system', but 'wrn-10-1' was named for it"),
    ("os:system", "model 'os:system' names the builtin function 'system' \\(not marked as a model factory\\)"),
])
def test_a_checkpoint_naming_a_command_runs_nothing(tmp_path, named, message):
    marker = tmp_path / "ran"
    with pytest.raises(CheckpointError, match=message) as refused:
        load_checkpoint(crafted_checkpoint(tmp_path / "crafted.pt", marker), model=named)
    assert not marker.exists() and "\n" not in str(refused.value)


def test_a_crafted_teacher_runs_nothing_through_the_cli(tmp_path, capsys):
    from budgetsearch import cli

    marker = tmp_path / "ran"
    teacher = crafted_checkpoint(tmp_path / "crafted.pt", marker)
    assert cli.main(["train", "--model", "wrn-10-1", "--epochs", "1", "--teacher", teacher]) == cli.EXIT_BAD_INPUT
    assert "never chooses code to import" in capsys.readouterr().err and not marker.exists()


def test_the_caller_names_the_model_and_a_mismatch_lists_both(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", ARCH.build(), ARCH)
    with pytest.raises(CheckpointError, match="records model 'wrn-10-1', but 'vit-1-64' was named for it"):
        load_checkpoint(path, model="vit-1-64")
    assert load_checkpoint(path, model="wrn-10-1").architecture == ARCH


def test_a_checkpoint_of_a_referenced_model_loads_only_when_its_user_names_it(tmp_path):
    tinyvgg = Architecture("examples.tinyvgg:TinyVGG", "tucker", 0.5, 10, (1, 8, 8), {"in_channels": 1, "width": 4})
    path = save_checkpoint(tmp_path / "vgg.pt", tinyvgg.build(), tinyvgg)
    with pytest.raises(CheckpointError, match="--teacher-model examples.tinyvgg:TinyVGG"):
        load_checkpoint(path)
    assert load_checkpoint(path, model="examples.tinyvgg:TinyVGG").architecture == tinyvgg
