"""Why a study's trials failed, in a few words: how many, and the reasons most of them give."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Optional

from ._progress import final_trials

REASON_CHARS = 200  # a reason is the message's first line, cut here: a traceback's last line can be a page long


@dataclass(frozen=True)
class FailureSummary:
    failed: int  # trials whose attempt that stands for them (final_trials) is recorded as failed
    total: int  # trials of the study, one per cell and tuning index
    reasons: tuple  # (reason, trials giving it), most common first


def failure_summary(trials) -> Optional[FailureSummary]:
    """How many of a study's trials failed and why; None when none did.

    ``trials``: the study's Optuna ``FrozenTrial`` objects. A failed trial
    retried later (``RunOptions(retry_failed=True)``) counts by its latest
    attempt, as :func:`final_trials` chooses it. A reason is the first line of
    the recorded message, at most ``REASON_CHARS`` characters.
    """
    chosen = final_trials(trials).values()
    failed = [t for t in chosen if t.user_attrs.get("status") == "failed"]
    if not failed:
        return None
    reasons = Counter(_first_line(t.user_attrs.get("message")) for t in failed)
    return FailureSummary(failed=len(failed), total=len(chosen), reasons=tuple(reasons.most_common()))


def _first_line(message) -> str:
    lines = str(message).splitlines() if message else []
    return lines[0][:REASON_CHARS] if lines else "no message recorded"
