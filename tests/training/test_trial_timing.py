"""A trial's measured speed: training throughput always, the trained network's inference latency when asked for."""

import pytest

from budgetsearch.errors import ConfigError
from budgetsearch.timing import TimingSettings
from budgetsearch.training import TrainConfig, train_trial

ONE_EPOCH = TrainConfig(epochs=1, batch_size=32, validation_size=0.9)


def test_without_timing_a_trial_records_its_throughput_and_no_latency():
    result = train_trial("wrn-10-1", "tucker", 0.5, "digits", ONE_EPOCH)
    assert result.latency_ms is None and result.inference_images_per_second is None
    assert result.images_per_second > 0 and result.timing_device.startswith("cpu (")
    assert result.timing["inference"] is None
    assert result.timing["training"] | {"method": None} == {
        "batch_size": 32, "precision": "float32", "compiled": False, "epochs_timed": 1, "first_epoch_left_out": False,
        "method": None}


def test_with_timing_the_trained_network_is_timed_at_the_stated_batch():
    result = train_trial("wrn-10-1", "tucker", 0.5, "digits", ONE_EPOCH, timing=TimingSettings(batch_size=3, repeats=2))
    assert result.latency_ms > 0
    assert result.inference_images_per_second == pytest.approx(3 * 1000 / result.latency_ms)
    assert result.timing["inference"]["batch_size"] == 3 and result.timing["inference"]["repeats"] == 2


def test_timing_must_be_timing_settings():
    with pytest.raises(ConfigError, match="timing must be a budgetsearch.timing.TimingSettings or None, but got 5"):
        train_trial("wrn-10-1", "tucker", 0.5, "digits", ONE_EPOCH, timing=5)
