"""Paired comparisons at equal budget against scipy's ttest_rel, and what the report says when the data cannot tell."""

import math

import numpy as np
import pytest
from scipy import stats

from budgetsearch.analysis import (aggregate_seeds, frontier_table, load_trials, paired_comparisons, paired_t,
                                   render_report, trials_frame)

from synthetic_study import POINTS, attributes, frozen


def test_paired_t_is_scipys_ttest_rel():
    rng = np.random.default_rng(5)
    for n in (2, 3, 5, 9):
        a, b = rng.normal(10, 1, n), rng.normal(10.5, 1, n)
        got = paired_t(a, b)
        expected = stats.ttest_rel(a, b)
        low, high = expected.confidence_interval(0.95)
        assert (got["t"], got["p_value"]) == (pytest.approx(expected.statistic), pytest.approx(expected.pvalue))
        assert (got["difference_low"], got["difference_high"]) == (pytest.approx(low), pytest.approx(high))
        assert got["difference"] == pytest.approx(np.mean(a - b))


def test_equal_differences_are_certain_and_zero_ones_are_not():
    same = paired_t([6.0, 6.5, 7.0], [7.0, 7.5, 8.0])  # every seed 1 lower: scipy gives NaN here
    assert same["t"] == -math.inf and same["p_value"] == 0.0
    none = paired_t([6.0, 6.5], [6.0, 6.5])
    assert none["t"] == 0.0 and none["p_value"] == 1.0
    assert math.isnan(paired_t([6.0], [7.0])["p_value"])


def seeds(substitute, budget):
    return POINTS[(substitute, budget)][3]


def test_each_pair_at_each_budget_over_the_seeds_both_completed(study):
    pairs = paired_comparisons(load_trials(study)).set_index(["budget", "substitute_a", "substitute_b"])
    assert len(pairs) == 6  # three substitutes: three pairs at each of two budgets
    # tucker vs acdc at 0.1M: 8, 9, 10 against 10, 10, 13
    row = pairs.loc[("0.1M", "acdc", "tucker")]
    expected = stats.ttest_rel(seeds("acdc", "0.1M"), seeds("tucker", "0.1M"))
    assert row["seeds"] == 3 and row["p_value"] == pytest.approx(expected.pvalue)
    assert not row["separated"] and row["verdict"] == f"cannot separate at 95% (p = {expected.pvalue:.2g})"
    # shuffle's seed 2 failed at 0.2M: two matching seeds, 9 - 6 and 9.5 - 6.5, the same difference
    row = pairs.loc[("0.2M", "shuffle", "tucker")]
    assert row["seeds"] == 2 and row["difference"] == 3.0 and row["p_value"] == 0.0 and row["separated"]
    # acdc is 1 point worse than tucker on every seed at 0.2M
    row = pairs.loc[("0.2M", "acdc", "tucker")]
    assert row["separated"] and row["difference"] == pytest.approx(1.0)
    assert row["verdict"] == "tucker lower than acdc by 1.00 (p = 0)"


def test_too_few_matching_seeds_cannot_separate():
    trials = trials_frame([frozen(attributes(substitute="tucker", seed=0, val_error=5.0)),
                           frozen(attributes(substitute="tucker", seed=1, val_error=5.5)),
                           frozen(attributes(substitute="acdc", setting=8, seed=1, val_error=9.0)),
                           frozen(attributes(substitute="acdc", setting=8, seed=2, val_error=9.5))])
    row = paired_comparisons(trials).iloc[0]
    assert row["seeds"] == 1 and not row["separated"]
    assert row["verdict"] == "cannot separate: 1 matching seed(s), a paired test needs 2"


def test_the_report_compares_each_budgets_best_with_the_others(study):
    trials = load_trials(study)
    points = frontier_table(aggregate_seeds(trials))
    report = render_report(trials, points, pairs=paired_comparisons(trials))
    section = report[report.index("## Paired comparisons at equal budget"):]
    p = stats.ttest_rel(seeds("acdc", "0.1M"), seeds("tucker", "0.1M")).pvalue
    # tucker has the lowest mean at both budgets; differences are other − best
    assert "| 0.1M | tucker | acdc | 3 | +2.00 |" in section and f"cannot separate at 95% (p = {p:.2g}) |" in section
    assert "| 0.2M | tucker | acdc | 3 | +1.00 | [1.00, 1.00] | 0 | tucker lower than acdc by 1.00 (p = 0) |" in section
    assert section.count("| 0.1M | tucker |") == 2  # against acdc and shuffle; acdc against shuffle is not shown
