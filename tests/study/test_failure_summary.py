"""failure_summary: how many of a study's trials failed and why, counted by the attempt that stands for each."""

import optuna
from optuna.trial import TrialState, create_trial

from budgetsearch.study import failure_summary
from budgetsearch.study._failures import REASON_CHARS


def trial(cell: str, status: str, message=None, number: int = 0):
    state = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED}.get(status, TrialState.FAIL)
    made = create_trial(state=state, value=1.0 if state == TrialState.COMPLETE else None,
                        user_attrs={"cell": cell, "tuning_trial": None, "status": status, "message": message})
    made.number = number  # create_trial leaves it 0: final_trials orders attempts by it
    return made


def test_none_when_no_trial_failed():
    assert failure_summary([trial("a|0.1x|0", "complete"), trial("b|0.1x|0", "pruned", number=1)]) is None
    assert failure_summary([]) is None


def test_counts_failed_cells_and_their_first_lines_most_common_first():
    trials = [
        trial("a|0.1x|0", "failed", "RuntimeError: out of data\n  File x.py, line 3", 0),
        trial("a|0.1x|1", "failed", "RuntimeError: out of data\n  File y.py, line 9", 1),
        trial("b|0.1x|0", "failed", "ValueError: bad width", 2),
        trial("c|0.1x|0", "complete", None, 3),
    ]
    summary = failure_summary(trials)
    assert (summary.failed, summary.total) == (3, 4)
    assert summary.reasons == (("RuntimeError: out of data", 2), ("ValueError: bad width", 1))


def test_a_failed_cell_retried_to_completion_no_longer_counts():
    # run --retry-failed queues a fresh attempt of the cell; the complete one stands for it
    trials = [trial("a|0.1x|0", "failed", "OSError: disk full", 0), trial("b|0.1x|0", "failed", "OSError: x", 1),
              trial("a|0.1x|0", "complete", None, 2)]
    summary = failure_summary(trials)
    assert (summary.failed, summary.total, summary.reasons) == (1, 2, (("OSError: x", 1),))


def test_a_long_or_missing_message_is_cut_or_named():
    long = "E" * (REASON_CHARS + 50) + "\nsecond line"
    summary = failure_summary([trial("a|0.1x|0", "failed", long, 0), trial("b|0.1x|0", "failed", "", 1),
                               trial("c|0.1x|0", "failed", None, 2)])
    assert summary.reasons == (("no message recorded", 2), ("E" * REASON_CHARS, 1))


def test_reads_the_trials_a_storage_holds():
    study = optuna.create_study(study_name="s")
    for made in (trial("a|0.1x|0", "failed", "KeyError: 'w'"), trial("b|0.1x|0", "complete")):
        study.add_trial(made)
    summary = failure_summary(study.get_trials(deepcopy=False))
    assert (summary.failed, summary.total, summary.reasons) == (1, 2, (("KeyError: 'w'", 1),))
