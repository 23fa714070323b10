"""Two `run`s started at once on an empty database: both create Optuna's tables and the study, and both succeed."""

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from budgetsearch.study import load_study_config, prepare_study
from budgetsearch.study._cells import trial_key

STUDY = 'name = "{name}"\nmodel = "wrn-10-1"\nsubstitutes = ["generic"]\nbudgets = ["0.1x", "0.2x"]\n'
ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def race(config, url: str, runs: int = 2):
    """``runs`` threads prepare the study on ``url`` at the same moment; returns how many trials each key has."""
    start = threading.Barrier(runs, timeout=60)

    def one_run(_):
        start.wait()
        return prepare_study(config, url)

    with ThreadPoolExecutor(runs) as pool:
        results = list(pool.map(one_run, range(runs)))  # any exception of either run fails the test here
    study = results[0][0]
    return sum(queued for _, _, queued in results), Counter(trial_key(t.user_attrs) for t in study.get_trials())


@pytest.fixture
def study_config(tmp_path):
    def make():
        name = f"race-{uuid.uuid4().hex[:8]}"
        path = tmp_path / f"{name}.toml"
        path.write_text(STUDY.format(name=name))
        return load_study_config(path)

    return make


def test_two_runs_on_an_empty_sqlite_file(tmp_path, study_config):
    for attempt in range(5):  # the race is a matter of timing: try it on several fresh files
        queued, per_key = race(study_config(), f"sqlite:///{tmp_path / f'empty-{attempt}.db'}")
        assert queued == 2 and set(per_key.values()) == {1}


@pytest.fixture
def empty_postgres_database():
    """A database of its own, created empty for the test and dropped afterwards (other tests share the server)."""
    psycopg = pytest.importorskip("psycopg")
    name = f"budgetsearch_race_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL at {ADMIN}: {error}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.mark.parametrize("attempt", range(3))
def test_two_runs_on_an_empty_postgres_database(empty_postgres_database, study_config, attempt):
    queued, per_key = race(study_config(), empty_postgres_database)
    assert queued == 2 and set(per_key.values()) == {1}
