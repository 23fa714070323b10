"""Pareto fronts against a brute-force dominance check, ties and duplicates included."""

import numpy as np
import pandas as pd
import pytest

from budgetsearch.analysis import aggregate_seeds, frontier_table, pareto_frontier, pareto_mask
from budgetsearch.errors import ConfigError


def brute_force(error, cost):
    """O(n^2) straight from the definition: dominated if another point is <= in both and < in one."""
    n = len(error)
    front = []
    for i in range(n):
        if np.isnan(error[i]) or np.isnan(cost[i]):
            front.append(False)
            continue
        dominated = any(
            error[j] <= error[i] and cost[j] <= cost[i] and (error[j] < error[i] or cost[j] < cost[i])
            for j in range(n) if j != i and not (np.isnan(error[j]) or np.isnan(cost[j])))
        front.append(not dominated)
    return np.array(front, dtype=bool)


@pytest.mark.parametrize("values", [4, 30, None])  # few distinct values: many ties; None: continuous
def test_matches_brute_force_on_random_point_sets(values):
    rng = np.random.default_rng(values or 1)
    for _ in range(300):
        n = int(rng.integers(0, 25))
        if values:
            error = rng.integers(0, values, n).astype(float)
            cost = rng.integers(0, values, n).astype(float)
        else:
            error, cost = rng.random(n) * 20, 10 ** (rng.random(n) * 6)
        np.testing.assert_array_equal(pareto_mask(error, cost), brute_force(error, cost))


def test_random_point_sets_with_missing_values():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(1, 15))
        error = rng.integers(0, 5, n).astype(float)
        cost = rng.integers(0, 5, n).astype(float)
        error[rng.random(n) < 0.2] = np.nan
        cost[rng.random(n) < 0.2] = np.nan
        np.testing.assert_array_equal(pareto_mask(error, cost), brute_force(error, cost))


def test_hand_example_with_duplicates_and_ties():
    error = [1, 1, 2, 2, 3, 0, 0]
    cost = [5, 5, 4, 6, 4, 9, 10]
    # (1,5) twice: both on. (2,4) on. (2,6) dominated by (1,5). (3,4) dominated by (2,4) (tie in cost).
    # (0,9) on; (0,10) dominated by (0,9) (tie in error).
    assert pareto_mask(error, cost).tolist() == [True, True, True, False, False, True, False]


def test_shape_mismatch_is_an_error():
    with pytest.raises(ConfigError, match="equal length"):
        pareto_mask([1, 2], [1])


def test_pareto_frontier_per_group_and_missing_column():
    points = pd.DataFrame({"substitute": ["a", "a", "b", "b"], "err": [1.0, 2.0, 3.0, 4.0],
                           "params": [10, 5, 1, 20]})
    overall = pareto_frontier(points, "params", "err")
    assert overall["on_front"].tolist() == [True, True, True, False]
    per = pareto_frontier(points, "params", "err", by="substitute", flag="own")
    assert per["own"].tolist() == [True, True, True, False]  # (4, 20) is dominated by (3, 1) within b
    assert "on_front" not in per and points.columns.tolist() == ["substitute", "err", "params"]  # input untouched
    with pytest.raises(ConfigError, match="mult_adds"):
        pareto_frontier(points, "mult_adds", "err")


def test_frontier_table_on_the_synthetic_study_means(study):
    from budgetsearch.analysis import load_trials

    points = frontier_table(aggregate_seeds(load_trials(study)))
    flags = {(r.substitute, r.budget): (r.on_front_params, r.on_front_mult_adds) for r in points.itertuples()}
    # Worked out by hand from the means in conftest.POINTS (see the comments there).
    assert flags == {
        ("tucker", "0.1M"): (True, True), ("tucker", "0.2M"): (True, True),
        ("acdc", "0.1M"): (False, False),  # (11, 99k, 20M) dominated by tucker (9, 96k) and shuffle 0.2M (9.25, 18M)
        ("acdc", "0.2M"): (True, True),
        ("shuffle", "0.1M"): (True, True),
        ("shuffle", "0.2M"): (False, True),  # (9.25, 150k) dominated by tucker 0.1M (9, 96k) in params only
    }
    # Within one substitute the larger budget has the lower error here, so both points are on its own front.
    assert points["on_substitute_front_params"].all() and points["on_substitute_front_mult_adds"].all()
