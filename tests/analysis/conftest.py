"""Fixtures: the synthetic study of synthetic_study.py, in memory or in a journal file."""

import pytest

from synthetic_study import build_study, journal_study


@pytest.fixture
def study():
    return build_study(None)


@pytest.fixture
def journal(tmp_path):
    path = tmp_path / "journal.log"
    journal_study(path)
    return path

