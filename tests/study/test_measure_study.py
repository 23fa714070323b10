"""`measure = true`: a study's trials time their trained network's inference, and the frontier plots error against it."""

import pytest

from budgetsearch import analysis
from budgetsearch.errors import ConfigError
from budgetsearch.study import RunOptions, open_storage, parse_study, run_study
from budgetsearch.timing import TimingSettings

TINY = {"name": "timed", "model": "wrn-10-1", "dataset": "digits", "substitutes": ["tucker"],
        "budgets": ["0.4x"], "seeds": 1, "min_fill": 0.0,
        # one epoch on a tenth of the digits (the rest validates)
        "training": {"epochs": 1, "batch_size": 32, "validation_size": 0.9}}


def test_a_measured_study_records_latency_and_draws_it_against_error(tmp_path):
    config = parse_study(TINY | {"measure": {"batch_size": 4, "warmup": 1, "repeats": 3}})
    report = run_study(config, RunOptions(runs_dir=str(tmp_path), threads=2))
    assert report.worker_exit_codes == (0,)
    trials = analysis.load_trials(open_storage(None, config.name, runs_dir=tmp_path), config.name)
    assert trials["status"].tolist() == ["complete"]
    for _, trial in trials.iterrows():
        assert trial["latency_ms"] > 0 and trial["train_images_per_second"] > 0
        # images per second of a batch of 4 taking latency_ms milliseconds
        assert trial["inference_images_per_second"] == pytest.approx(4 * 1000 / trial["latency_ms"])
        assert trial["timing_device"] == "cpu (2 threads)"  # the worker's device and its torch threads
        inference, training = trial["timing"]["inference"], trial["timing"]["training"]
        assert (inference["batch_size"], inference["warmup"], inference["repeats"]) == (4, 1, 3)
        assert training["batch_size"] == 32 and training["epochs_timed"] == 1  # one epoch: it is the one timed

    frontier = analysis.load_frontier(open_storage(None, config.name, runs_dir=tmp_path), config.name)
    assert frontier.figure("latency_ms").axes[0].get_title() == \
        "timed: wrn-10-1 on digits\ninference latency (ms per batch) at batch 4 on cpu (2 threads)"
    paths = analysis.write_frontier(frontier, tmp_path / "frontier")
    assert paths["frontier_latency_ms.png"].is_file() and paths["frontier_train_images_per_second.png"].is_file()
    assert frontier.points["on_front_latency_ms"].any()


@pytest.mark.parametrize("value, expected", [
    (True, TimingSettings()), (False, None), ({"repeats": 5}, TimingSettings(repeats=5)),
])
def test_measure_is_a_switch_or_a_table_and_round_trips(value, expected):
    config = parse_study(TINY | {"measure": value})
    assert config.measure == expected
    assert parse_study(config.to_dict()) == config


@pytest.mark.parametrize("value, message", [
    ({"batch_size": 0}, "measure.batch_size must be an integer in \\[1, 4096\\], but got 0"),
    ({"repeat": 3}, "unknown key 'measure.repeat' = 3 in \\[measure\\]; allowed keys: batch_size, repeats, warmup"),
    ("yes", "measure = 'yes' is not allowed; allowed: true, false or a table"),
])
def test_bad_measure_settings_name_the_key_and_value(value, message):
    with pytest.raises(ConfigError, match=message):
        parse_study(TINY | {"measure": value}, "study.toml")
