"""Sizes that cannot work, through the CLI: one line naming the model, the value and the bound, exit status 2."""

import pytest

from budgetsearch import cli

LIMITS = "at most 1,000,000,000 parameters and 5,000 modules (set BUDGETSEARCH_MAX_PARAMS or BUDGETSEARCH_MAX_MODULES"
CASES = [
    (["count", "--model", "vit-1-6400000"], "shape (19200000, 6400000)"),
    (["solve", "--model", "vit-1-6400000", "--budget", "0.5x"], "shape (19200000, 6400000)"),
    (["count", "--model", "vit-100000-64"], "more than 5,000 modules"),
    (["count", "--model", "wrn-100000000-1"], "more than 5,000 modules"),
    (["count", "--model", "wrn-10-100000"], "shape (1600000, 1600000, 3, 3)"),
    (["count", "--model", "darts", "--model-option", "layers=100000"], "more than 5,000 modules"),
    (["count", "--model", "vit-6-256", "--input-size", "3,30,30"], "input size 3,30,30: it needs square images"),
    (["solve", "--model", "vit-6-256", "--input-size", "3,30,30", "--budget", "0.5x"], "e.g. 3,28,28 or 3,32,32"),
    (["count", "--model", "darts", "--model-option", "layers=0"], "layers=0"),
    (["train", "--model", "vit-1-64", "--dataset", "digits", "--epochs", "1", "--model-option", "image_size=32"],
     "does not run at input size 1,8,8"),
    (["train", "--model", "vit-100000-64", "--dataset", "digits", "--epochs", "1"], "more than 5,000 modules"),
]


@pytest.mark.parametrize("argv, expected", CASES, ids=[" ".join(argv[:3]) for argv, _ in CASES])
def test_a_size_that_cannot_work_is_one_line_and_exit_status_2(capsys, tmp_path, monkeypatch, argv, expected):
    monkeypatch.chdir(tmp_path)
    status = cli.main(argv)
    lines = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert status == cli.EXIT_BAD_INPUT == 2
    assert len(lines) == 1 and lines[0].startswith(f"budgetsearch {argv[0]}: error: "), lines
    assert expected in lines[0], lines[0]
    if "too large" in lines[0]:
        assert f"model {argv[2]!r} is too large to build" in lines[0] and LIMITS in lines[0], lines[0]
