"""The frontier pipeline called from Python: the numbers worked out from the synthetic study, and the CLI's same table."""

import json
import statistics

import pandas as pd
import pytest

from budgetsearch import analysis, cli
from budgetsearch.errors import ConfigError
from synthetic_study import POINTS, build_study, journal_study, synthetic_trials


def seed_means() -> dict:
    """(substitute, budget) -> (mean, sample std, seeds) of the complete seeds' validation errors (None: failed)."""
    out = {}
    for key, (_, _, _, errors) in POINTS.items():
        done = [e for e in errors if e is not None]
        out[key] = (statistics.mean(done), statistics.stdev(done), len(done))
    return out


def test_points_are_the_seed_means_and_the_teacher_is_the_reference():
    frontier = analysis.study_frontier(analysis.trials_frame(synthetic_trials()), "synthetic")
    got = {(r.substitute, r.budget): (r.val_error_mean, r.val_error_std, r.seeds)
           for r in frontier.points.itertuples()}
    assert got.keys() == seed_means().keys()
    for key, (mean, std, seeds) in seed_means().items():
        assert got[key] == (pytest.approx(mean), pytest.approx(std), seeds), key
    assert frontier.reference == pytest.approx(statistics.mean([4.0, 5.0]))  # the two teacher seeds
    # the failed shuffle seed and the pruned tucker seed; every cell still has a point
    assert sorted(frontier.problems["status"]) == ["failed", "pruned"] and frontier.missing == {}
    assert frontier.title == "synthetic: wrn-16-2 on digits"


def test_python_and_the_cli_give_the_same_table(journal, tmp_path, capsys):
    frontier = analysis.load_frontier(str(journal), "synthetic")
    out = tmp_path / "out"
    assert cli.main(["frontier", "--storage", str(journal), "--study", "synthetic", "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(frontier.front.to_json(orient="records"))
    pd.testing.assert_frame_equal(pd.read_csv(out / "frontier.csv"),
                                  pd.read_csv(analysis.write_frontier(frontier, tmp_path / "py")["frontier.csv"]))
    assert (out / "report.md").read_text() == frontier.report()


def test_load_frontier_takes_a_study_object():
    frontier = analysis.load_frontier(build_study(None, name="in-memory"))
    assert frontier.name == "in-memory" and len(frontier.trials) == len(synthetic_trials())


def test_a_study_file_is_read_from_its_runs_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text('name = "moved"\n')
    runs = tmp_path / "elsewhere"
    (runs / "moved").mkdir(parents=True)
    journal_study(runs / "moved" / "journal.log", name="moved")
    with pytest.raises(ConfigError, match="has no trials yet"):
        analysis.load_study_file_frontier("s.toml")  # the default runs/ holds nothing
    frontier = analysis.load_study_file_frontier("s.toml", runs_dir=runs)
    assert frontier.name == "moved" and len(frontier.trials) == len(synthetic_trials())
    assert not (tmp_path / "runs").exists()


def test_write_frontier_writes_every_file(tmp_path):
    frontier = analysis.study_frontier(analysis.trials_frame(synthetic_trials()), "synthetic")
    paths = analysis.write_frontier(frontier, tmp_path / "new" / "folder")
    assert tuple(paths) == analysis.FRONTIER_FILES and all(p.parent == tmp_path / "new" / "folder"
                                                            for p in paths.values())
    assert len(pd.read_csv(paths["trials.csv"])) == len(synthetic_trials())
    for cost in analysis.COSTS:
        assert paths[f"frontier_{cost}.png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths["report.md"].read_text().startswith("# Frontier report: synthetic: wrn-16-2 on digits")


def test_an_output_folder_that_cannot_be_one_names_the_argument(tmp_path):
    frontier = analysis.study_frontier(analysis.trials_frame(synthetic_trials()), "synthetic")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"^out '.*file' cannot be used as an output folder"):
        analysis.write_frontier(frontier, tmp_path / "file")


def test_an_unknown_metric_is_refused_by_name():
    with pytest.raises(ConfigError, match=r"metric must be one of .*, but got 'top1'"):
        analysis.study_frontier(analysis.trials_frame(synthetic_trials()), metric="top1")
