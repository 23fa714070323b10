import os
from pathlib import Path

import pytest
import torch

CIFAR_MINI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar-10-mini" / "cifar-10-batches-py"


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


@pytest.fixture
def cifar_mini() -> Path:
    path = Path(os.environ.get("BUDGETSEARCH_CIFAR_MINI", CIFAR_MINI))
    if not path.is_dir():
        pytest.skip(f"CIFAR-10 subset not found at {path}")
    return path
