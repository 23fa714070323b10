"""budgetsearch frontier: the files it writes and the rows it prints."""

import json

import pandas as pd
import pytest

from budgetsearch import cli


def test_writes_every_output_and_prints_the_front(journal, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["frontier", "--storage", str(journal), "--study", "synthetic", "--out", str(out), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    # on the params front or the mult-adds front: everything but acdc 0.1M (see test_pareto)
    assert sorted((r["substitute"], r["budget"]) for r in rows) == [
        ("acdc", "0.2M"), ("shuffle", "0.1M"), ("shuffle", "0.2M"), ("tucker", "0.1M"), ("tucker", "0.2M")]
    shuffle = next(r for r in rows if (r["substitute"], r["budget"]) == ("shuffle", "0.2M"))
    assert shuffle["on_front_params"] is False and shuffle["on_front_mult_adds"] is True
    assert shuffle["val_error_mean"] == pytest.approx(9.25) and shuffle["seeds"] == 2
    assert len(pd.read_csv(out / "trials.csv")) == 21
    assert len(pd.read_csv(out / "frontier.csv")) == 6
    for name in ("frontier_params.png", "frontier_mult_adds.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.md").read_text()
    assert "## Budget 0.1M" in report and "## Failed or incomplete trials (2)" in report


def test_table_output_mentions_the_problem_trials(journal, tmp_path, capsys):
    assert cli.main(["frontier", "--storage", str(journal), "--study", "synthetic", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "2 failed or incomplete trial(s)" in printed and "9.25" in printed


def test_default_out_is_runs_study_name(journal, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["frontier", "--storage", str(journal), "--study", "synthetic", "--json"]) == 0
    assert (tmp_path / "runs" / "synthetic" / "report.md").is_file()


@pytest.mark.parametrize("argv, message", [
    (["frontier"], "needs STUDY.toml"),
    (["frontier", "--storage", "x.log"], "needs STUDY.toml"),
    (["frontier", "s.toml", "--study", "other"], "not both"),
])
def test_missing_or_conflicting_arguments_exit_2(argv, message, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_unknown_study_exits_2(journal, capsys):
    assert cli.main(["frontier", "--storage", str(journal), "--study", "nope"]) == 2
    assert "'nope'" in capsys.readouterr().err


def test_from_a_study_file_with_its_default_journal(tmp_path, monkeypatch, capsys):
    from synthetic_study import journal_study

    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text('name = "tomlstudy"\nmodel = "wrn-10-1"\ndataset = "digits"\n')
    assert cli.main(["frontier", "s.toml", "--json"]) == 2
    assert "has no trials yet" in capsys.readouterr().err and not (tmp_path / "runs").exists()
    (tmp_path / "runs" / "tomlstudy").mkdir(parents=True)
    journal_study(tmp_path / "runs" / "tomlstudy" / "journal.log", name="tomlstudy")
    assert cli.main(["frontier", "s.toml", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 5
    assert (tmp_path / "runs" / "tomlstudy" / "frontier.csv").is_file()


def test_a_study_file_read_from_another_storage(tmp_path, capsys):
    from synthetic_study import journal_study

    (tmp_path / "s.toml").write_text('name = "elsewhere"\n')
    journal_study(tmp_path / "other.log", name="elsewhere")
    out = tmp_path / "out"
    argv = ["frontier", str(tmp_path / "s.toml"), "--storage", str(tmp_path / "other.log"), "--out", str(out)]
    assert cli.main(argv) == 0
    assert "synthetic" not in (out / "report.md").read_text() and "# Frontier report: elsewhere" in \
        (out / "report.md").read_text()


def test_runs_dir_holds_the_study_files_journal_and_the_default_out(tmp_path, monkeypatch, capsys):
    from synthetic_study import journal_study

    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.toml").write_text('name = "moved"\n')
    runs = tmp_path / "my-runs"
    (runs / "moved").mkdir(parents=True)
    journal_study(runs / "moved" / "journal.log", name="moved")
    assert cli.main(["frontier", "s.toml", "--json"]) == 2  # run with --runs-dir my-runs: nothing under runs/
    assert "has no trials yet" in capsys.readouterr().err
    assert cli.main(["frontier", "s.toml", "--runs-dir", str(runs), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 5
    assert (runs / "moved" / "report.md").is_file() and not (tmp_path / "runs").exists()


def test_runs_dir_is_the_default_out_of_a_storage_and_study(journal, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["frontier", "--storage", str(journal), "--study", "synthetic", "--runs-dir", "r", "--json"]
    assert cli.main(argv) == 0
    assert (tmp_path / "r" / "synthetic" / "frontier.csv").is_file() and not (tmp_path / "runs").exists()


def test_interval_bootstrap_on_request(journal, tmp_path, capsys):
    from budgetsearch.analysis import seed_interval

    out = tmp_path / "out"
    argv = ["frontier", "--storage", str(journal), "--study", "synthetic", "--out", str(out), "--interval", "bootstrap"]
    assert cli.main(argv) == 0
    table = pd.read_csv(out / "frontier.csv").set_index(["substitute", "budget"])
    row = table.loc[("acdc", "0.1M")]  # seeds 10, 10, 13
    assert row["interval"] == "95% bootstrap"
    assert (row["val_error_low"], row["val_error_high"]) == pytest.approx(seed_interval([10, 10, 13], "bootstrap"))
    assert "95% bootstrap interval of the mean" in (out / "report.md").read_text()
