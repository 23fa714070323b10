from pathlib import Path

import pytest

from budgetsearch.models import create_model

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
