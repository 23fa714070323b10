import os
from pathlib import Path

import pytest
import torch

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
