"""--weights on count and train: a file that fits loads silently, a partial load (--weights-strict false) prints
what stayed at its initialisation, and a compress checkpoint loads back into its substituted network."""

import json

import torch

from budgetsearch.cli import main
from budgetsearch.models import create_model


def test_count_loads_weights_and_a_partial_load_names_what_stayed_random(tmp_path, capsys):
    state = create_model("wrn-10-1").state_dict()
    torch.save(state, tmp_path / "full.pt")
    assert main(["count", "--model", "wrn-10-1", "--weights", str(tmp_path / "full.pt")]) == 0
    assert "every tensor loaded" in capsys.readouterr().out
    del state["fc.weight"], state["fc.bias"]
    torch.save(state, tmp_path / "partial.pt")
    assert main(["count", "--model", "wrn-10-1", "--weights", str(tmp_path / "partial.pt")]) == 2
    assert "2 missing from the file: fc.weight (10, 64), fc.bias (10)" in capsys.readouterr().err
    assert main(["count", "--model", "wrn-10-1", "--weights", str(tmp_path / "partial.pt"), "--weights-strict",
                 "false", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["left_at_init"] == ["fc.weight", "fc.bias"]


def test_train_starts_from_a_compressed_checkpoint_and_reports_a_partial_load(tmp_path, capsys):
    dense = create_model("wrn-10-1", in_channels=1)
    torch.save(dense.state_dict(), tmp_path / "dense.pt")
    common = ["--model", "wrn-10-1", "--dataset", "digits", "--device", "cpu", "--batch-size", "256"]
    assert main(["compress", *common, "--weights", str(tmp_path / "dense.pt"), "--substitute", "tucker",
                 "--budget", "0.5x", "--out", str(tmp_path / "tucker.pt"), "--json"]) == 0
    compressed = json.loads(capsys.readouterr().out)
    setting = str(compressed["budget"]["setting"])
    tucker = ["--substitute", "tucker", "--setting", setting]
    assert main(["count", "--model", "wrn-10-1", "--input-size", "1,8,8", *tucker, "--weights",
                 str(tmp_path / "tucker.pt")]) == 0
    capsys.readouterr()
    assert main(["train", *common, *tucker, "--weights", str(tmp_path / "tucker.pt"), "--epochs", "0", "--json"]) == 0
    loaded = json.loads(capsys.readouterr().out)
    # Loaded as written, the network is the projected one: its epoch-0 error is compress's projected error.
    assert loaded["initial"]["test_error"] == compressed["initial"]["test_error"]
    state = torch.load(tmp_path / "tucker.pt", weights_only=True)["state_dict"]
    del state["fc.bias"]
    torch.save(state, tmp_path / "partial.pt")
    assert main(["train", *common, *tucker, "--weights", str(tmp_path / "partial.pt"), "--weights-strict", "false",
                 "--epochs", "0"]) == 0
    assert "left at random initialisation (1 of the model's tensors, --weights-strict false): fc.bias" in \
        capsys.readouterr().out


def test_a_projected_trial_distils_by_kd_and_the_options_change_only_what_they_name(tmp_path, capsys):
    torch.save(create_model("wrn-10-1", in_channels=1).state_dict(), tmp_path / "dense.pt")
    common = ["train", "--model", "wrn-10-1", "--dataset", "digits", "--device", "cpu", "--substitute", "tucker",
              "--setting", "0.5", "--weights", str(tmp_path / "dense.pt"), "--init", "projected", "--epochs", "1",
              "--batch-size", "512", "--json"]
    for options, expected in [([], {"beta": 0.0, "alpha": 0.9}), (["--alpha", "0.5"], {"beta": 0.0, "alpha": 0.5}),
                              (["--beta", "100"], {"beta": 100.0, "alpha": 0.9})]:
        assert main([*common, *options]) == 0
        distill = json.loads(capsys.readouterr().out)["config"]["distill"]
        assert {key: distill[key] for key in expected} == expected and distill["teacher"] is None, options
