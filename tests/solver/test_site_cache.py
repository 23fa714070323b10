"""The solver's remembered counts: within a process, and on disk for the next one."""

from __future__ import annotations

import json

import pytest

from budgetsearch.counting import count_model
from budgetsearch.errors import InfeasibleBudgetError
from budgetsearch.solver import _network, solve_budget
from budgetsearch.solver import _site_cache
from budgetsearch.solver._site_cache import cache_dir

MODEL, SIZE = "wrn-10-1", (3, 8, 8)


def _solve(substitute="tucker", budget="0.3x"):
    return solve_budget(MODEL, substitute, budget, input_size=SIZE)


def _new_process():
    """What a fresh process starts with: nothing remembered in memory."""
    _network.forget_counts()


@pytest.fixture
def disk(tmp_path, monkeypatch):
    monkeypatch.delenv("BUDGETSEARCH_NO_CACHE", raising=False)
    monkeypatch.setenv("BUDGETSEARCH_CACHE_DIR", str(tmp_path))
    _new_process()
    yield tmp_path
    _new_process()


def _no_tracing(monkeypatch):
    """From here on, any fvcore trace by the solver fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("the solver traced a count it should have read from the cache")

    monkeypatch.setattr(_network, "count", refuse)
    monkeypatch.setattr(_network, "reconstruction_mult_adds", refuse)


def test_a_second_process_reads_every_count_from_disk_and_solves_the_same(disk, monkeypatch):
    first = [_solve(name) for name in ("tucker", "acdc", "shuffle")]
    assert list(disk.glob("counts-*.json"))
    _new_process()
    _no_tracing(monkeypatch)
    assert [_solve(name) for name in ("tucker", "acdc", "shuffle")] == first


def test_a_network_sharing_the_sites_traces_only_its_own_fixed_part(monkeypatch):
    _new_process()
    _solve()
    traced = []
    original = _network.count
    monkeypatch.setattr(_network, "count", lambda model, *args, **kwargs: traced.append(model) or original(
        model, *args, **kwargs))
    other = solve_budget(MODEL, "tucker", "0.3x", input_size=SIZE, num_classes=100)  # another head, the same sites
    assert len(traced) == 1 and other.num_classes == 100  # the whole network, once, for its fixed part
    counted = count_model(MODEL, "tucker", other.setting, num_classes=100, input_size=SIZE)
    assert (counted.params, counted.mult_adds) == (other.params, other.mult_adds)


def test_a_torn_or_foreign_cache_file_is_ignored_and_replaced(disk, monkeypatch):
    expected = _solve()
    [path] = disk.glob("counts-*.json")
    for text in (path.read_text()[:100], "[1, 2]", json.dumps({"format": 999})):
        path.write_text(text)
        _new_process()
        assert _solve() == expected
        assert json.loads(path.read_text())["format"] == 1


def test_an_unwritable_cache_directory_is_no_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.delenv("BUDGETSEARCH_NO_CACHE", raising=False)
    monkeypatch.setenv("BUDGETSEARCH_CACHE_DIR", str(blocker / "below-a-file"))
    _new_process()
    solution = _solve()
    assert solution.params <= solution.budget_params


def test_counts_of_an_infeasible_budget_are_kept_too(disk, monkeypatch):
    with pytest.raises(InfeasibleBudgetError):
        _solve(budget=10)
    _new_process()
    _no_tracing(monkeypatch)
    with pytest.raises(InfeasibleBudgetError):
        _solve(budget=10)


def test_the_cache_is_off_when_asked_and_in_the_users_cache_dir_otherwise(monkeypatch, tmp_path):
    monkeypatch.setenv("BUDGETSEARCH_NO_CACHE", "1")
    assert cache_dir() is None
    monkeypatch.setenv("BUDGETSEARCH_NO_CACHE", "0")
    monkeypatch.delenv("BUDGETSEARCH_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "budgetsearch"


def test_rules_and_unregistered_substitutes_stay_off_disk(disk):
    from budgetsearch.counting import default_rules

    solve_budget(MODEL, "tucker", "0.3x", input_size=SIZE, rules=default_rules())
    assert not list(disk.glob("counts-*.json"))


def test_a_changed_source_file_or_torch_version_is_another_cache(tmp_path, monkeypatch):
    source = tmp_path / "layer.py"
    source.write_text("x = 1\n")
    monkeypatch.setattr(_site_cache, "PACKAGE_ROOT", tmp_path)
    first = _site_cache.code_key.__wrapped__()
    source.write_text("x = 22\n")
    edited = _site_cache.code_key.__wrapped__()
    monkeypatch.setattr("torch.__version__", "0.0.0")
    assert len({first, edited, _site_cache.code_key.__wrapped__()}) == 3
