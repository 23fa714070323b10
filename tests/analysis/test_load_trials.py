"""load_trials: one row per trial with every recorded attribute, from a Study, a journal file or a URL."""

import json

import optuna
import pandas as pd
import pytest

from budgetsearch.analysis import TRIAL_ATTRIBUTES, load_trials, trials_frame, trials_to_csv
from budgetsearch.errors import ConfigError

from synthetic_study import attributes, build_study, frozen


def test_every_attribute_is_a_column_and_values_are_as_recorded(study):
    trials = load_trials(study)
    assert len(trials) == 21 and trials["number"].tolist() == list(range(21))
    assert set(TRIAL_ATTRIBUTES) <= set(trials.columns)
    recorded = study.trials[0].user_attrs
    row = trials.iloc[0]
    for key in TRIAL_ATTRIBUTES:
        value = row[key]
        assert pd.isna(value) if recorded[key] is None else value == recorded[key], key  # a float's gap is NaN
    assert row["state"] == "COMPLETE" and row["value"] == recorded["val_error"]


def test_large_counts_stay_exact_and_missing_numbers_stay_missing():
    big = 2**53 + 1  # float64 cannot hold it
    trials = trials_frame([frozen(attributes(mult_adds=big)), frozen(attributes(mult_adds=None, params=5.0))])
    assert str(trials["mult_adds"].dtype) == "Int64"
    assert trials["mult_adds"][0] == big and trials["mult_adds"][1] is pd.NA and trials["params"][1] == 5


def test_a_number_of_the_wrong_kind_is_an_error_not_a_silent_gap():
    with pytest.raises(ConfigError, match="params='many'"):
        trials_frame([frozen(attributes(params="many"))])
    with pytest.raises(ConfigError, match="params=1.5"):
        trials_frame([frozen(attributes(params=1.5))])
    with pytest.raises(ConfigError, match="val_error='low'"):
        trials_frame([frozen(attributes(val_error="low", status="failed"))])


def test_unknown_attributes_are_kept_after_the_agreed_ones():
    trials = trials_frame([frozen(attributes(zz_note="hello"))])
    assert trials.columns[-1] == "zz_note" and trials["zz_note"][0] == "hello"


def test_a_running_trial_without_attributes_is_a_row_of_missing_values():
    running = optuna.trial.create_trial(state=optuna.trial.TrialState.RUNNING)
    trials = trials_frame([running])
    assert trials["state"][0] == "RUNNING" and trials["status"][0] is None and trials["params"][0] is pd.NA


def test_from_a_journal_file_and_from_an_rdb_url(journal, tmp_path):
    from_file = load_trials(str(journal), "synthetic")
    assert len(from_file) == 21 and from_file["val_error"].notna().sum() == 20  # the failed trial has none
    url = f"sqlite:///{tmp_path / 'study.db'}"
    build_study(url, "on-sqlite")
    from_url = load_trials(url, "on-sqlite")
    pd.testing.assert_frame_equal(from_file.drop(columns=["datetime_start", "datetime_complete"]),
                                  from_url.drop(columns=["datetime_start", "datetime_complete"]))


def test_bad_storage_or_name_is_an_error(journal, tmp_path):
    with pytest.raises(ConfigError, match="'synthetic'"):
        load_trials(str(journal), "nope")  # lists the studies the storage holds
    with pytest.raises(ConfigError, match="study_name"):
        load_trials(str(journal))
    with pytest.raises(ConfigError, match="neither a URL"):
        load_trials(str(tmp_path / "missing.log"), "synthetic")


def test_csv_writes_dicts_as_json(study, tmp_path):
    trials = load_trials(study)
    trials_to_csv(trials, tmp_path / "trials.csv")
    back = pd.read_csv(tmp_path / "trials.csv")
    assert len(back) == 21 and list(back.columns) == list(trials.columns)
    assert json.loads(back["config"][0]) == study.trials[0].user_attrs["config"]
    assert back["params"][0] == study.trials[0].user_attrs["params"]
