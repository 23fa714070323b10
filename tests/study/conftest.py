import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import optuna
import pytest

from budgetsearch.models import create_model
from budgetsearch.study import open_storage
from budgetsearch.study._cells import trial_key
from budgetsearch.study._queue import enqueue_missing
from budgetsearch.study._storage import queue_lock

# Tiny trials: wrn-10-1 on digits, few validation images (seconds per epoch on a free core).
TINY = """
name = "{name}"
model = "wrn-10-1"
dataset = "digits"
substitutes = {substitutes}
budgets = {budgets}
seeds = 1

[training]
epochs = {epochs}
batch_size = 128
validation_size = 60
{extra}
"""


def toml_list(values) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


@pytest.fixture
def write_study(tmp_path):
    def write(name="tiny", substitutes=("generic", "tucker"), budgets=("0.1x", "0.2x"), epochs=1, extra=""):
        path = tmp_path / f"{name}.toml"
        path.write_text(TINY.format(name=name, substitutes=toml_list(substitutes), budgets=toml_list(budgets),
                                    epochs=epochs, extra=extra))
        return path

    return write


@pytest.fixture
def runs_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)  # anything written to a relative runs/ lands in the test's folder
    return tmp_path / "runs"


@pytest.fixture(scope="session")
def dense_wrn_10_1_digits() -> int:
    """Dense wrn-10-1 parameters on 1-channel digits, counted directly (not by the solver)."""
    model = create_model("wrn-10-1", num_classes=10, in_channels=1)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.fixture
def race_to_queue(runs_dir):
    """``race(url, study_name, cells, runs)``: ``runs`` threads open one study and queue the same ``cells``
    rows at the same moment, each under queue_lock as `run` does. Returns how many trials each queued
    and how many trials each key has in the end."""

    def race(url, study_name: str, cells: int = 40, runs: int = 2):
        rows = [{"cell": f"cell-{i}", "tuning_trial": 0} for i in range(cells)]
        start = threading.Barrier(runs, timeout=60)  # a thread that fails before it breaks the barrier

        # The study exists first (two processes creating a fresh database's tables at once is Optuna's race).
        optuna.create_study(study_name=study_name, storage=open_storage(url, study_name, runs_dir=runs_dir))

        def one_run(_):
            storage = open_storage(url, study_name, runs_dir=runs_dir)
            study = optuna.load_study(study_name=study_name, storage=storage)
            start.wait()
            with queue_lock(url, study_name, runs_dir):
                return enqueue_missing(study, rows)

        with ThreadPoolExecutor(runs) as pool:
            queued = list(pool.map(one_run, range(runs)))
        study = optuna.load_study(study_name=study_name, storage=open_storage(url, study_name, runs_dir=runs_dir))
        return queued, Counter(trial_key(t.user_attrs) for t in study.get_trials(deepcopy=False))

    return race
