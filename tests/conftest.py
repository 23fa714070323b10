import os
import uuid
from pathlib import Path

import pytest
import torch

# Every test counts afresh: the on-disk count cache stays off unless a test turns it on in a temporary directory.
os.environ["BUDGETSEARCH_NO_CACHE"] = "1"

CIFAR_MINI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar-10-mini" / "cifar-10-batches-py"


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _one_thread():
    """Run every test on one intra-op thread, then restore the setting.

    The suite runs one pytest-xdist worker per core: a second OpenMP thread per worker
    oversubscribes the cores, and its spin-waits made small steps 10-50x slower (a wrn-10-1
    step on digits 18 ms against 917 ms; BiT's count 3 s against 17 s; an ACDC cell of the
    combination matrix 0.95 s against 27.7 s).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def cifar_mini() -> Path:
    path = Path(os.environ.get("BUDGETSEARCH_CIFAR_MINI", CIFAR_MINI))
    if not path.is_dir():
        pytest.skip(f"CIFAR-10 subset not found at {path}")
    return path


POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture
def postgres_database():
    """The URL of a fresh database on the local PostgreSQL server, dropped afterwards.

    Without a server (or its driver) the test skips, unless BUDGETSEARCH_REQUIRE_POSTGRES=1 (as in CI).
    """
    try:
        import psycopg  # the driver SQLAlchemy 2 uses for postgresql:// URLs

        admin = psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", connect_timeout=3,
                                autocommit=True)
    except Exception as error:  # no driver or no server
        if os.environ.get("BUDGETSEARCH_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"BUDGETSEARCH_REQUIRE_POSTGRES=1 but PostgreSQL on 127.0.0.1 is unreachable: {error}")
        pytest.skip(f"no PostgreSQL server reachable on 127.0.0.1: {error}")
    name = f"budgetsearch_test_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
