"""Fronts against measured speed: error against inference latency (less is better) and training throughput (more is
better), on trials whose speeds were chosen so that each front can be worked out by hand."""

import numpy as np
import pandas as pd
import pytest

from budgetsearch import analysis
from synthetic_study import attributes, frozen

CPU, GPU = "cpu (4 threads)", "cuda:0 (Some GPU)"
# (substitute, budget) -> val errors, latencies (ms per batch) and training images/s of its seeds, and the device
MEASURED = {
    ("tucker", "0.1M"): ([8.0, 8.0], [4.0, 6.0], [90.0, 110.0], CPU),  # means: latency 5.0, throughput 100
    ("acdc", "0.1M"): ([10.0], [3.0], [300.0], CPU),
    ("shuffle", "0.1M"): ([12.0], [4.0], [250.0], CPU),
    ("tucker", "0.2M"): ([6.0], [9.0], [50.0], CPU),
    ("acdc", "0.2M"): ([7.0], [9.5], [120.0], CPU),
    ("shuffle", "0.2M"): ([9.0], [2.0], [90.0], CPU),
    ("generic", "0.1M"): ([11.0], [0.5], [5000.0], GPU),  # fastest of all, but timed elsewhere: its own front
}
# Worked out by hand from the means: a point is off a front when another of its device has an error and a
# cost no worse, one of them better.
# Latency: shuffle 0.1M is beaten by acdc 0.1M (10 < 12, 3 < 4), acdc 0.1M by shuffle 0.2M (9 < 10, 2 < 3),
# acdc 0.2M by tucker 0.2M (6 < 7, 9 < 9.5).
LATENCY_FRONT = {("tucker", "0.2M"), ("tucker", "0.1M"), ("shuffle", "0.2M"), ("generic", "0.1M")}
# Throughput: tucker 0.1M (8, 100) and shuffle 0.2M (9, 90) are beaten by acdc 0.2M (7, 120), shuffle 0.1M by
# acdc 0.1M (10 < 12, 300 > 250).
THROUGHPUT_FRONT = {("tucker", "0.2M"), ("acdc", "0.2M"), ("acdc", "0.1M"), ("generic", "0.1M")}


def timing(device: str) -> dict:
    return {"device": device, "inference": {"batch_size": 32, "method": "median of 10 timed batches of 32"},
            "training": {"batch_size": 64, "method": "training images per second of training-loop time"}}


def measured_trials() -> pd.DataFrame:
    trials = []
    for (substitute, budget), (errors, latencies, throughputs, device) in MEASURED.items():
        for seed, (error, latency, throughput) in enumerate(zip(errors, latencies, throughputs)):
            trials.append(frozen(attributes(
                substitute=substitute, budget=budget, budget_params={"0.1M": 100_000, "0.2M": 200_000}[budget],
                params={"0.1M": 95_000, "0.2M": 190_000}[budget] + len(substitute), seed=seed, val_error=error,
                latency_ms=latency, inference_images_per_second=32_000 / latency, train_images_per_second=throughput,
                timing_device=device, timing=timing(device))))
    return analysis.trials_frame(trials)


def on_front(points: pd.DataFrame, cost: str) -> set:
    front = points[points[f"on_front_{cost}"]]
    return set(zip(front["substitute"], front["budget"]))


def test_fronts_against_latency_and_throughput_are_the_hand_computed_ones():
    frontier = analysis.study_frontier(measured_trials(), "timed")
    points = frontier.points
    assert frontier.measured_costs == ("latency_ms", "train_images_per_second")
    tucker = points[points["substitute"].eq("tucker") & points["budget"].eq("0.1M")].iloc[0]
    assert tucker["latency_ms"] == 5.0 and tucker["train_images_per_second"] == 100.0  # the means of its seeds
    assert tucker["timing_device"] == CPU
    assert on_front(points, "latency_ms") == LATENCY_FRONT
    assert on_front(points, "train_images_per_second") == THROUGHPUT_FRONT


def test_the_speed_plots_name_the_device_and_batch_in_their_title(tmp_path):
    frontier = analysis.study_frontier(measured_trials(), "timed")
    title = frontier.figure("latency_ms").axes[0].get_title()
    assert title.startswith("timed: wrn-16-2 on digits\n") and "batch 32" in title
    assert CPU in title and GPU in title  # the devices the points were timed on
    assert "batch 64" in frontier.figure("train_images_per_second").axes[0].get_title()
    paths = analysis.write_frontier(frontier, tmp_path)
    assert tuple(paths) == analysis.FRONTIER_FILES + analysis.MEASURED_FILES
    assert paths["frontier_latency_ms.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    written = pd.read_csv(paths["frontier.csv"])
    assert {"latency_ms", "train_images_per_second", "timing_device", "on_front_latency_ms"} <= set(written.columns)


def test_the_report_lists_every_measured_point_with_its_front_marks():
    report = analysis.study_frontier(measured_trials(), "timed").report()
    section = report.split("## Measured speed")[1].split("\n## ")[0]
    rows = {tuple(cell.strip() for cell in line.split("|")[1:3]): line for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| substitute")}
    assert set(rows) == set(MEASURED)
    for key, line in rows.items():
        marks = line.split("|")[9].strip()
        assert marks == ("L" if key in LATENCY_FRONT else "") + ("T" if key in THROUGHPUT_FRONT else ""), key


def test_trials_without_measurements_get_no_speed_front_plot_or_section(tmp_path):
    from synthetic_study import synthetic_trials

    frontier = analysis.study_frontier(analysis.trials_frame(synthetic_trials()), "synthetic")
    assert frontier.measured_costs == ()
    assert "on_front_latency_ms" not in frontier.points.columns and "## Measured speed" not in frontier.report()
    assert tuple(analysis.write_frontier(frontier, tmp_path)) == analysis.FRONTIER_FILES


@pytest.mark.parametrize("seed", range(5))
def test_a_throughput_front_keeps_exactly_the_points_nothing_beats(seed):
    rng = np.random.default_rng(seed)
    points = pd.DataFrame({"error": rng.integers(0, 6, 40).astype(float),
                           "throughput": rng.integers(0, 6, 40).astype(float)})
    flagged = analysis.pareto_frontier(points, "throughput", "error", larger_is_better=True)

    def beaten(p, q):  # q at least as good on both, better on one
        return q.error <= p.error and q.throughput >= p.throughput and (q.error, q.throughput) != (p.error, p.throughput)

    rows = list(points.itertuples())
    expected = [not any(beaten(p, q) for q in rows) for p in rows]
    assert flagged["on_front"].tolist() == expected
    assert any(expected) and not all(expected)
