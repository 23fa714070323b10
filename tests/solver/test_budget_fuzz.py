"""Budget parsing under arbitrary input: a Budget or the project's ConfigError, never another exception, quickly."""

import re
from decimal import Decimal

from hypothesis import given, settings, strategies as st

from budgetsearch.errors import ConfigError
from budgetsearch.solver import parse_budget

NUMBER = st.from_regex(r"\A[0-9]{0,30}\.?[0-9]{1,30}(e[+-]?[0-9]{1,12})?\Z", fullmatch=True)
TEXT = st.one_of(st.text(max_size=300), NUMBER, st.builds(lambda n, u: n + u, NUMBER, st.sampled_from("kKmMgGxX ")))


def parsed_or_refused(value):
    try:
        return parse_budget(value)
    except ConfigError:
        return None


@settings(max_examples=600, deadline=5000)  # deadline: a hang (a million-digit integer, backtracking) fails
@given(st.one_of(TEXT, st.integers(), st.floats(), st.booleans(), st.none(), st.lists(st.integers(), max_size=3)))
def test_any_value_is_a_budget_or_a_config_error(value):
    budget = parsed_or_refused(value)
    if budget is None:
        return
    if budget.fraction is not None:  # what is accepted is a real cap: a fraction in (0, 1], or a count >= 1
        assert 0 < budget.fraction <= 1 and str(value).strip().lower().endswith("x")
    else:
        assert 1 <= budget.absolute <= 10**15
        number = re.sub(r"[kmg]$", "", str(value).strip().lower()).strip()
        scale = {"k": 10**3, "m": 10**6, "g": 10**9}.get(str(value).strip().lower()[-1:], 1)
        assert budget.absolute == Decimal(number) * scale  # an independent reading of the same text


@settings(max_examples=200, deadline=5000)
@given(st.text(alphabet="0123456789.e+-kmgx ", min_size=40, max_size=5000))
def test_long_digit_runs_are_refused_quickly(text):
    parsed_or_refused(text)
