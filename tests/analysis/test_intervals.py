"""Seed intervals against scipy and a hand computation; the bootstrap against its exact distribution; front neighbours."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from budgetsearch.analysis import aggregate_seeds, frontier_table, load_trials, seed_interval
from budgetsearch.analysis._intervals import indistinct_neighbours
from budgetsearch.errors import ConfigError


@pytest.mark.parametrize("values", [[8.0, 9.0, 10.0], [9.0, 9.5], [3.1, 4.7, 2.2, 5.9, 4.4], [7.0, 7.0, 7.0]])
@pytest.mark.parametrize("level", [0.95, 0.9])
def test_t_interval_is_scipys(values, level):
    sem = stats.sem(values) if np.std(values) else 0.0
    expected = (np.mean(values), np.mean(values)) if sem == 0 else stats.t.interval(
        level, len(values) - 1, loc=np.mean(values), scale=sem)
    assert seed_interval(values, "t", level) == pytest.approx(expected)


def test_t_interval_by_hand():
    # 8, 9, 10: mean 9, s = 1, n = 3; t(0.975, 2) = 4.302653 (tables)
    low, high = seed_interval([8.0, 9.0, 10.0])
    assert (low, high) == pytest.approx((9 - 4.302653 / math.sqrt(3), 9 + 4.302653 / math.sqrt(3)), abs=1e-5)


def test_one_seed_or_none_has_no_interval_and_missing_values_are_left_out():
    for values in ([5.0], [], [5.0, float("nan")]):
        for method in ("t", "bootstrap"):
            assert all(math.isnan(v) for v in seed_interval(values, method))
    assert seed_interval([8.0, float("nan"), 9.0, 10.0]) == pytest.approx(seed_interval([8.0, 9.0, 10.0]))


def test_bootstrap_matches_its_exact_distribution():
    values = np.array([3.0, 4.0, 6.0, 9.0, 15.0])
    # Every one of the 5^5 resamples is equally likely: the exact bootstrap distribution of the mean.
    exact = np.array([np.mean(values[list(i)]) for i in itertools.product(range(5), repeat=5)])
    expected = np.quantile(exact, [0.025, 0.975])
    low, high = seed_interval(values, "bootstrap")
    spread = values.max() - values.min()
    assert abs(low - expected[0]) < 0.03 * spread and abs(high - expected[1]) < 0.03 * spread
    assert seed_interval(values, "bootstrap") == (low, high)  # a fixed seed: the same interval every time
    t_low, t_high = seed_interval(values, "t")
    assert t_low < low and high < t_high  # five seeds: the bootstrap is the narrower


def test_bad_kind_or_level_is_refused():
    with pytest.raises(ConfigError, match=r"interval must be one of \['t', 'bootstrap'\], but got 'normal'"):
        seed_interval([1.0, 2.0], "normal")
    with pytest.raises(ConfigError, match="level must be a fraction in \\(0, 1\\).*got 95"):
        seed_interval([1.0, 2.0], "t", 95)


def test_aggregates_carry_the_interval_of_each_points_seeds(study):
    trials = load_trials(study)
    for method in ("t", "bootstrap"):
        points = aggregate_seeds(trials, interval=method).set_index(["substitute", "budget"])
        # synthetic_study.POINTS: acdc 0.1M seeds 10, 10, 13; shuffle 0.2M seeds 9, 9.5 (the third failed)
        for key, values in {("acdc", "0.1M"): [10.0, 10.0, 13.0], ("shuffle", "0.2M"): [9.0, 9.5]}.items():
            row = points.loc[key]
            assert (row["val_error_low"], row["val_error_high"]) == pytest.approx(seed_interval(values, method))
            assert row["interval"] == f"95% {method}"
    assert aggregate_seeds(trials, level=0.5)["interval"].iloc[0] == "50% t"


def brute_force_neighbours(points, cost):
    """Straight from the definition: sort by cost, compare each point's interval with the next one's."""
    rows = sorted(points.to_dict("records"), key=lambda r: r[cost])
    found = {r["name"]: [] for r in rows}
    for a, b in zip(rows, rows[1:]):
        if a["low"] <= b["high"] and b["low"] <= a["high"]:
            found[a["name"]].append(b["name"])
            found[b["name"]].append(a["name"])
    return found


def test_neighbours_against_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(100):
        n = int(rng.integers(1, 8))
        mean = rng.random(n) * 10
        half = rng.random(n) * 2
        points = pd.DataFrame({"substitute": [f"s{i}" for i in range(n)], "budget": "b", "cost": rng.permutation(n),
                               "low": mean - half, "high": mean + half})
        points["name"] = points["substitute"] + " b"
        got = indistinct_neighbours(points, "cost", "low", "high")
        expected = brute_force_neighbours(points, "cost")
        for index, row in points.iterrows():
            assert sorted(filter(None, got[index].split("; "))) == sorted(expected[row["name"]])


def test_front_points_that_the_intervals_cannot_order(study):
    points = frontier_table(aggregate_seeds(load_trials(study))).set_index(["substitute", "budget"])
    # The params front by cost (synthetic_study.POINTS): shuffle 0.1M [12, 12], tucker 0.1M 9 ± 2.48,
    # acdc 0.2M 7.5 ± 1.24, tucker 0.2M 6.5 ± 1.24: only shuffle stands apart from its neighbour.
    assert points.loc[("shuffle", "0.1M"), "indistinct_params"] == ""
    assert points.loc[("tucker", "0.1M"), "indistinct_params"] == "acdc 0.2M"
    assert points.loc[("acdc", "0.2M"), "indistinct_params"] == "tucker 0.1M; tucker 0.2M"
    assert points.loc[("acdc", "0.1M"), "indistinct_params"] is None  # off the front
