"""A journal written by budgetsearch 0.1.0 (the version before the trial record was declared once) still reads.

``data/journal-v0.1.log`` was written by ``budgetsearch run data/journal-v0.1.toml`` at commit 7bb81c3:
tucker at 0.2x and 0.4x and shuffle at 0.2x on wrn-10-1 and digits, one epoch each.
"""

from pathlib import Path

import pandas as pd
import pytest

from budgetsearch.analysis import aggregate_seeds, load_trials
from budgetsearch.study import RESULT_ATTRIBUTES, TRIAL_ATTRIBUTES, TrialRecord, load_study_config

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def trials():
    return load_trials(DATA / "journal-v0.1.log", "journal-v0.1")


def test_every_recorded_trial_reads_with_the_declared_record(trials):
    assert list(trials["cell"]) == ["tucker|0.2x|0", "shuffle|0.2x|0", "tucker|0.4x|0"]
    assert set(TRIAL_ATTRIBUTES) <= set(trials.columns)
    assert (trials["status"] == "complete").all() and trials["val_error"].between(0, 100).all()  # percent
    # the counts the solver recorded then (its table printed 14,757 / 9,074 / 15,962 params)
    assert list(trials["params"]) == [14757, 9074, 15962]
    assert str(trials["params"].dtype) == "Int64"  # counts stay exact integers


def test_each_trial_rebuilds_as_a_trial_record(trials):
    for _, row in trials.iterrows():
        record = TrialRecord(**{name: _plain(row[name]) for name in TRIAL_ATTRIBUTES})
        assert record.cell == row["cell"] and record.status == "complete"
        assert all(getattr(record, name) is not None for name in ("val_error", "test_error", "wall_time", "config"))
    assert "config" in RESULT_ATTRIBUTES and "cell" not in RESULT_ATTRIBUTES


def test_its_study_file_still_loads_and_its_trials_aggregate(trials):
    config = load_study_config(DATA / "journal-v0.1.toml")
    assert config.training.epochs == 1 and config.training.batch_size == 64
    points = aggregate_seeds(trials)
    assert sorted(points["budget"]) == ["0.2x", "0.2x", "0.4x"]


def _plain(value):
    """A table cell as the stored attribute: NA back to None, numpy scalars to Python numbers."""
    if isinstance(value, (dict, list, str)):
        return value
    return None if pd.isna(value) else value.item() if hasattr(value, "item") else value


def test_running_it_again_with_this_version_finds_every_cell_done(tmp_path, capsys):
    import json
    import shutil

    from budgetsearch import cli

    (tmp_path / "journal-v0.1").mkdir()
    shutil.copy(DATA / "journal-v0.1.log", tmp_path / "journal-v0.1" / "journal.log")
    status = cli.main(["run", str(DATA / "journal-v0.1.toml"), "--runs-dir", str(tmp_path), "--json"])
    printed = json.loads(capsys.readouterr().out)
    assert status == 0 and printed["queued"] == 0  # the stored settings are this file's: nothing to train again
