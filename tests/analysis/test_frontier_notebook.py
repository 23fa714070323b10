"""notebooks/frontier.ipynb runs top to bottom against a small study built here (no training)."""

from pathlib import Path

import pytest

from synthetic_study import journal_study

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "frontier.ipynb"


def test_notebook_runs_without_a_cell_error(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="notebook test extra: pip install -e .[test]")
    nbclient = pytest.importorskip("nbclient", reason="notebook test extra: pip install -e .[test]")
    pytest.importorskip("ipykernel", reason="notebook test extra: pip install -e .[test]")
    # The notebook's default route: a study file (here one in tmp_path) read from a given storage.
    study_file = tmp_path / "nb.toml"
    study_file.write_text('name = "nb-study"\n')
    journal = tmp_path / "journal.log"
    journal_study(journal, name="nb-study")
    monkeypatch.setenv("BUDGETSEARCH_STUDY_FILE", str(study_file))
    monkeypatch.setenv("BUDGETSEARCH_STORAGE", str(journal))
    monkeypatch.delenv("BUDGETSEARCH_STUDY_NAME", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend (Agg-rendered PNGs)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "study 'nb-study': 21 trials" in text
    tables = "".join(o.get("data", {}).get("text/plain", "") for o in outputs)
    assert "9.25" in tables  # the shuffle 0.2M mean over its two complete seeds
    assert "RuntimeError: worker lost" in tables  # the failed trial is listed
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 1  # the two plots, one figure
