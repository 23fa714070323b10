"""Measured speed: the median of the timed repeats, in eval and in train mode, and how it was measured."""

from __future__ import annotations

import json
import time

import pytest
from torch import nn

from budgetsearch import cli
from budgetsearch.cli._count import MAX_BATCH as CLI_MAX_BATCH
from budgetsearch.errors import ConfigError
from budgetsearch.timing import MAX_BATCH, measure

PAUSE = 0.02


class Sleepy(nn.Module):
    """A classifier whose forward takes at least PAUSE seconds and counts its calls by mode."""

    def __init__(self):
        super().__init__()
        self.head = nn.Linear(3, 4)
        self.calls = {"train": 0, "eval": 0}

    def forward(self, x):
        self.calls["train" if self.training else "eval"] += 1
        time.sleep(PAUSE)
        return self.head(x.mean((2, 3)))


def test_each_mode_runs_warmup_and_repeats_and_the_median_covers_the_forward():
    model = Sleepy().eval()
    timing = measure(model, (3, 4, 4), batch_size=2, warmup=2, repeats=3)
    assert model.calls == {"train": 5, "eval": 5}
    assert timing.forward_seconds >= PAUSE and timing.train_step_seconds >= PAUSE
    assert timing.inference_images_per_second == pytest.approx(2 / timing.forward_seconds)
    assert not model.training and all(p.grad is None for p in model.parameters())  # left as it was found
    assert timing.to_dict()["timing_method"] == "median of 3 timed batches of 2 after 2 warm-up, on cpu (1 thread)"


@pytest.mark.parametrize("options, message", [
    ({"batch_size": 0}, "batch_size must be an integer in \\[1, 4096\\], but got 0"),
    ({"repeats": True}, "repeats must be an integer in \\[1, 1000\\], but got True"),
    ({"device": "gpu"}, "timing device must be 'cpu', 'cuda' or 'cuda:N', but got 'gpu'"),
])
def test_bad_settings_are_refused_naming_them(options, message):
    with pytest.raises(ConfigError, match=message):
        measure(Sleepy(), (3, 4, 4), **options)


def test_count_measure_reports_throughput_beside_the_counts(capsys):
    assert CLI_MAX_BATCH == MAX_BATCH
    argv = ["count", "--model", "wrn-10-1", "--input-size", "3,8,8", "--substitute", "tucker:0.5", "--measure",
            "--batch-size", "4", "--repeats", "2"]
    assert cli.main(argv + ["--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    timing = printed["timing"]
    assert printed["params"] > 0 and timing["batch_size"] == 4 and timing["repeats"] == 2
    assert timing["train_images_per_second"] == pytest.approx(4 / timing["train_step_seconds"])
    assert cli.main(argv) == 0
    assert "measured: median of 2 timed batches of 4 after 3 warm-up, on cpu" in capsys.readouterr().out
