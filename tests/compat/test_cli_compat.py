"""``budgetsearch count --compat``: the original's conventions from the command line."""

import json

import pytest

from budgetsearch import cli

TABLE = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def run_json(capsys, *argv):
    assert cli.main(["count", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def mobilenet_pointwise():
    """(C_i, C_o) of every substitution point of MobileNetV2, classifier last."""
    points, channels = [], 32
    for t, c, n, _ in TABLE:
        for _ in range(n):
            if t != 1:
                points.append((channels, channels * t))
            points.append((channels * t, c))
            channels = c
    return points + [(320, 1280), (1280, 1000)]


def test_mobilenetv2_sep_hashed_in_compat_mode(capsys):
    out = run_json(capsys, "--model", "mobilenetv2", "--substitute", "SepHashed_0.2", "--compat", "deficient-efficient")
    # Every 1×1 becomes a hashed 1×1 with int(0.2·C_i·C_o) shared values and the original's forced C_o bias.
    points = mobilenet_pointwise()
    dense_params = 3_504_872
    replaced = sum(c_in * c_out for c_in, c_out in points) + 1000  # the classifier's own bias goes too
    assert out["params"] == dense_params - replaced + sum(int(0.2 * (i * o)) + o for i, o in points)
    assert out["mult_adds"] == 300_774_272  # hashed 1×1s cost dense 1×1s; ReLU6, BN and pooling are free
    assert out["compat"] == out["convention"]["compat"] == "deficient-efficient"


def test_compat_option_changes_the_count_of_a_quirked_substitute(capsys):
    clean = run_json(capsys, "--model", "wrn-10-1", "--substitute", "ACDC_4")
    quirked = run_json(capsys, "--model", "wrn-10-1", "--substitute", "ACDC_4", "--compat", "deficient-efficient")
    # wrn-10-1 has one block per group: 6 ACDC convs; the original builds 3 factors instead of 4.
    widths = [(16, 16), (16, 16), (16, 32), (32, 32), (32, 64), (64, 64)]
    assert clean["params"] - quirked["params"] == sum(2 * max(w) for w in widths)
    assert clean["convention"]["compat"] is None


def test_original_fixed_settings_are_accepted_in_compat_mode(capsys):
    out = run_json(capsys, "--model", "wrn-10-1", "--substitute", "HashedDecimate", "--compat", "deficient-efficient")
    assert out["substitute"] == "hashed" and out["setting"] == 0.1


def test_unknown_mode_is_a_one_line_error(capsys):
    assert cli.main(["count", "--model", "wrn-10-1", "--compat", "tf-slim"]) == 2
    assert "deficient-efficient" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["darts", "wrn-50-2"])
def test_the_issue_commands_print_their_totals(capsys, model):
    out = run_json(capsys, "--model", model, "--substitute", "SepHashed_0.2", "--compat", "deficient-efficient")
    separable = run_json(capsys, "--model", model, "--substitute", "Sep", "--compat", "deficient-efficient")
    # The original counts a hashed 1×1 as the dense 1×1 it stands for, so the cost is the separable network's.
    assert out["mult_adds"] == separable["mult_adds"]
    assert 0 < out["params"] < separable["params"]
