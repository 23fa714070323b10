"""The study-file loader under arbitrary input: a StudyConfig or the project's ConfigError, never another exception."""

import dataclasses

from hypothesis import HealthCheck, given, settings, strategies as st

from budgetsearch.errors import BudgetSearchError
from budgetsearch.study import StudyConfig, load_study_config, parse_study

KEYS = [f.name for f in dataclasses.fields(StudyConfig) if f.name != "source"] + ["preset", "epochs", "lr", "teacher",
                                                                                  "pruner", "trials", "url", "low"]
SCALARS = st.one_of(st.integers(), st.floats(), st.booleans(), st.text(max_size=30),
                    st.sampled_from(["digits", "wrn-10-1", "0.1x", "1e999999", "all", "cosine", "train", "inf"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
                      max_leaves=20)
TOML_PIECES = st.sampled_from(['name = "x"\n', "seeds = 9223372036854775807\n", 'budgets = ["1e999999"]\n',
                               "[training]\n", "epochs = 1e9\n", "lr = inf\n", "lr = nan\n", "[[a]]\n", "x = [[[[\n",
                               '"\\u0000" = 1\n', "substitutes = 'all'\n", "[tuning.lr]\n", "low = 0\n", "\xff"])


def loaded_or_refused(load):
    try:
        config = load()
    except BudgetSearchError:
        return None
    assert isinstance(config, StudyConfig)
    assert parse_study(config.to_dict(), config.source) == config  # what is accepted round-trips
    return config


@settings(max_examples=300, deadline=10000)
@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6))
def test_any_parsed_table_is_a_study_or_a_config_error(data):
    loaded_or_refused(lambda: parse_study({"name": "fuzz"} | data, "fuzz.toml"))  # a name, so later keys are reached


@settings(max_examples=300, deadline=10000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=2000), st.lists(TOML_PIECES, max_size=12).map(lambda p: "".join(p).encode(
    "utf-8", "surrogateescape"))))
def test_any_file_content_is_a_study_or_a_config_error(tmp_path, content):
    path = tmp_path / "fuzz.toml"
    path.write_bytes(content)
    loaded_or_refused(lambda: load_study_config(path))


def test_deeply_nested_toml_is_a_config_error(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert loaded_or_refused(lambda: load_study_config(path)) is None
