"""The searches against brute force and plain bisection on random monotone step functions."""

import math
import random

import pytest

from budgetsearch.solver._search import first_at_least, first_true, last_at_most, last_true
from budgetsearch.substitutes import Hyperparameter

INTS = Hyperparameter("n", int, 1, 300)
FLOATS = Hyperparameter("h", float, 0.0, 1.0, low_open=True)


def step_function(rng: random.Random):
    """A non-decreasing integer function: a sum of int()/round() steps like a network's layer counts."""
    terms = [(rng.randint(1, 5000), rng.randint(1, 400), rng.choice((int, round))) for _ in range(rng.randint(1, 6))]
    return lambda x: sum(weight * max(1, rounding(x * size)) for weight, size, rounding in terms)


@pytest.mark.parametrize("seed", range(40))
def test_interpolating_search_matches_brute_force_on_integers(seed):
    rng = random.Random(seed)
    count = step_function(rng)
    values = {n: count(n / 300) for n in range(1, 301)}
    scaled = lambda n: values[n]  # noqa: E731
    for cap in rng.sample(range(values[1], values[300] + 1), 5):
        expected = max(n for n in values if values[n] <= cap)
        assert last_at_most(INTS, 1, 300, scaled, cap) == expected
        best = values[expected]
        assert first_at_least(INTS, 1, expected, scaled, best) == min(n for n in values if values[n] >= best)


@pytest.mark.parametrize("seed", range(40))
def test_interpolating_search_matches_bisection_on_floats(seed):
    rng = random.Random(seed)
    count = step_function(rng)
    low, high = math.nextafter(0, 1), 1.0
    for cap in sorted(rng.sample(range(count(low), count(high) + 1), 5)):
        edge = last_at_most(FLOATS, low, high, count, cap)
        assert edge == last_true(FLOATS, low, high, lambda x: count(x) <= cap)
        assert count(edge) <= cap and (edge == high or count(math.nextafter(edge, 2)) > cap)
        best = count(edge)
        start = first_at_least(FLOATS, low, edge, count, best)
        assert start == first_true(FLOATS, low, edge, lambda x: count(x) >= best)
