"""A torn journal: its last record cut at every offset is repaired with nothing else lost; damage elsewhere is refused."""

import shutil
from collections import Counter

import optuna
import pytest
from optuna.trial import TrialState

from budgetsearch import cli
from budgetsearch.errors import ConfigError
from budgetsearch.study import open_storage
from budgetsearch.study._journal import repair_journal

STUDY = """
name = "torn"
model = "wrn-10-1"
dataset = "digits"
substitutes = ["generic"]
budgets = ["0.1x", "0.2x"]
[training]
epochs = 1
validation_size = 60
"""
CELLS = {"generic|0.1x|0", "generic|0.2x|0"}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A two-cell study run to its end once: (study file, journal bytes, trials read from the intact journal)."""
    folder = tmp_path_factory.mktemp("finished")
    study = folder / "torn.toml"
    study.write_text(STUDY)
    assert cli.main(["run", str(study), "--runs-dir", str(folder / "runs"), "--json"]) == 0
    journal = folder / "runs" / "torn" / "journal.log"
    return study, journal.read_bytes(), snapshot(journal)


def snapshot(journal) -> dict:
    storage = open_storage(str(journal), "torn")
    trials = optuna.load_study(study_name="torn", storage=storage).get_trials(deepcopy=False)
    return {t.number: (t.state, t.user_attrs, t.values) for t in trials}


def last_record_offsets(data: bytes) -> range:
    """Every length the file can be cut to inside its last record (from its first byte to its line end, excluded)."""
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    return range(start + 1, len(data) - 1)


def test_cut_inside_the_last_record_at_every_offset_loses_only_that_record(finished, tmp_path):
    _, data, intact = finished
    offsets = last_record_offsets(data)
    assert len(offsets) > 100  # a state record: op code, worker id, trial id, state, values, completion time
    for cut in offsets:
        journal = tmp_path / f"cut-{cut}" / "journal.log"
        journal.parent.mkdir()
        journal.write_bytes(data[:cut])
        message = repair_journal(journal)
        assert message.startswith(f"{journal}: cut a torn last record ({cut - offsets.start + 1} bytes")
        copies = list(journal.parent.glob("journal.log.torn-*"))
        assert [c.read_bytes() for c in copies] == [data[:cut]]  # the file as it was, kept
        assert journal.read_bytes() == data[:offsets.start - 1]  # exactly the complete records before it
        after = snapshot(journal)
        torn = [n for n in intact if after[n] != intact[n]]
        # The last record finished the last trial: it alone changed, back to RUNNING (a dead worker's trial).
        assert torn == [max(intact)] and after[torn[0]][0] == TrialState.RUNNING
        assert repair_journal(journal) is None  # repaired once, intact since


def test_a_record_missing_only_its_line_end_is_kept(finished, tmp_path):
    _, data, intact = finished
    journal = tmp_path / "journal.log"
    journal.write_bytes(data[:-1])
    assert "the line end was added" in repair_journal(journal)
    assert journal.read_bytes() == data and snapshot(journal) == intact


def test_damage_before_the_last_record_is_an_error_that_changes_nothing(finished, tmp_path):
    _, data, _ = finished
    lines = data.split(b"\n")[:-1]
    journal = tmp_path / "journal.log"
    tried = 0
    for index in range(len(lines) - 1):  # every record but the last
        for cut in range(1, len(lines[index]), 23):  # a record torn, then later records appended after it
            damaged = b"\n".join(lines[:index] + [lines[index][:cut]] + lines[index + 1:]) + b"\n"
            journal.write_bytes(damaged)
            with pytest.raises(ConfigError, match=rf"^{journal}: line {index + 1} is not an Optuna journal record"):
                repair_journal(journal)
            assert journal.read_bytes() == damaged and not list(tmp_path.glob("*.torn-*"))
            tried += 1
    assert tried > 200


@pytest.mark.parametrize("content", [b"hello\n", b"not a journal", b"\xff\xfe\x00garbage\n", b"[1, 2]\n",
                                     b'{"op_code": "x"}\n', b"\n"])
def test_a_file_that_is_not_a_journal_is_an_error_naming_it(tmp_path, content):
    journal = tmp_path / "journal.log"
    journal.write_bytes(content)
    with pytest.raises(ConfigError, match=rf"^{journal}: line 1 is not an Optuna journal record"):
        open_storage(str(journal), "any")
    assert journal.read_bytes() == content


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_a_run_after_a_torn_record_completes_every_cell_once(finished, tmp_path, where, capsys):
    study, data, intact = finished
    offsets = last_record_offsets(data)
    cut = {"start": offsets.start, "middle": (offsets.start + offsets.stop) // 2, "end": offsets.stop - 1}[where]
    journal = tmp_path / "runs" / "torn" / "journal.log"
    journal.parent.mkdir(parents=True)
    journal.write_bytes(data[:cut])
    assert cli.main(["run", str(study), "--runs-dir", str(tmp_path / "runs"), "--json"]) == 0
    assert "cut a torn last record" in capsys.readouterr().err
    trials = optuna.load_study(study_name="torn", storage=open_storage(str(journal), "torn")).get_trials()
    recorded = [t for t in trials if t.state == TrialState.COMPLETE]
    assert Counter(t.user_attrs["cell"] for t in recorded) == Counter(CELLS)  # each cell once
    for number, (state, attrs, values) in intact.items():  # every finished trial survived untouched ...
        if number != max(intact):
            assert (trials[number].state, trials[number].user_attrs, trials[number].values) == (state, attrs, values)
    lost = trials[max(intact)]  # ... and the torn one was failed as lost and trained again
    assert lost.state == TrialState.FAIL and lost.user_attrs["lost"] is True
    assert len(trials) == len(intact) + 1
    shutil.rmtree(tmp_path / "runs")


def test_status_after_a_torn_record_reads_the_repaired_journal(finished, tmp_path, capsys):
    study, data, _ = finished
    journal = tmp_path / "runs" / "torn" / "journal.log"
    journal.parent.mkdir(parents=True)
    record_start = last_record_offsets(data).start - 1
    journal.write_bytes(data[:record_start + 5])
    assert cli.main(["status", str(study), "--runs-dir", str(tmp_path / "runs")]) == 0
    captured = capsys.readouterr()
    assert "cut a torn last record (5 bytes" in captured.err and "1 running" in captured.out
