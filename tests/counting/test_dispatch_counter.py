"""The dispatch counter against fvcore's trace: the same rule table must give the same counts.

Independent expectation: the two backends share the rules but nothing else (a
jit trace walked by fvcore against the operators torch dispatches, module
attribution from trace scopes against forward hooks), so agreement on every
number of a count checks each against the other. Compared on every model and
substitute of the combination matrix (at 8×8 images: the same layers, less
arithmetic) and on every transformers image classifier the zoo test counts.

Two differences are not conventions but what each backend sees, named and
tested here: work that runs but that no output needs, inside one module's
forward, is dropped from the trace and counted by the dispatch counter
(``count`` documents counting what runs); and a model that branches on
``torch.jit.is_tracing()`` runs its tracing branch only under the trace
(transformers' Dinov2 interpolates its position embeddings even at the trained
size, MobileViT does its size arithmetic as tensors, Perceiver builds another
mask): on the zoo, the trace is compared taking the untraced branch.
"""

import dataclasses
import json
import sys
import warnings
from unittest.mock import patch

import pytest
import torch
from torch import nn

from budgetsearch import cli
from budgetsearch.cli._options import COUNTERS as CLI_COUNTERS
from budgetsearch.counting import COUNTERS, build_for_counting, count, counter_in_use
from budgetsearch.counting._backends import COUNTERS as BACKENDS
from budgetsearch.counting._count import DISPATCH, FALLBACK, FVCORE
from budgetsearch.counting._dispatch import dispatched_tally
from budgetsearch.errors import ConfigError
from budgetsearch.solver._search import lowest
from budgetsearch.substitutes import get_substitute, linear_substitutes, list_substitutes

import test_transformers_zoo as zoo  # skips this module without transformers, as the matrix does
from combinations import CASES

SIDE = 8
NUM_CLASSES = 10


def assert_same_count(traced, dispatched):
    assert (dispatched.params, dispatched.mult_adds) == (traced.params, traced.mult_adds)
    assert dispatched.by_operator == traced.by_operator
    assert dispatched.layers == traced.layers
    assert dispatched.reconstruction_mult_adds == traced.reconstruction_mult_adds
    assert dispatched.convention == dataclasses.replace(
        traced.convention, counter=traced.convention.counter.replace(FVCORE, DISPATCH))


def counted(model, size, counter, **options):
    """``count`` with every warning an error: a counter must not warn (the known fvcore one is silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return count(model, size, counter=counter, **options)


def _matrix_cells():
    return [pytest.param(model, substitute, id=f"{model}-{substitute}") for model in CASES
            for substitute in list_substitutes()]


@pytest.mark.parametrize("model, substitute", _matrix_cells())
def test_both_counters_agree_on_the_combination_matrix(model, substitute):
    case = CASES[model]
    size = (case.input_size[0], SIDE, SIDE)
    found = get_substitute(substitute)
    setting = None if found.hyperparameter is None else lowest(found.hyperparameter)
    select = "all" if substitute in linear_substitutes() else "convs"  # every layer the substitute can take
    network = build_for_counting(case.model, substitute, setting, num_classes=NUM_CLASSES, input_size=size,
                                 select=select, **case.options)
    assert_same_count(counted(network, size, "fvcore"), counted(network, size, "dispatch"))


@pytest.mark.parametrize("model_type, class_name", [pytest.param(*c, id=c[1]) for c in zoo.CLASSIFIERS
                                                    if c[1] not in zoo.NOT_COUNTED])
def test_both_counters_agree_on_the_transformers_zoo(model_type, class_name, monkeypatch):
    model, size = zoo.build_on_meta(model_type, class_name)
    model = zoo.zero_filled(model)
    dispatched = counted(model, size, "dispatch")
    # The trace takes the branch the model runs untraced (see test_a_model_branching_on_tracing_...).
    monkeypatch.setattr(torch.jit, "is_tracing", lambda: False)
    assert_same_count(counted(model, size, "fvcore"), dispatched)


class ExtraWorkWhenTraced(nn.Module):
    """As transformers' Dinov2 and MobileViT: other code under ``torch.jit.is_tracing()`` (an interpolation at the
    trained size, size arithmetic as tensors)."""

    def forward(self, x):
        if torch.jit.is_tracing():
            x = x * 2
        return x + 1


def test_a_model_branching_on_tracing_is_counted_as_it_runs_untraced_by_dispatch_only():
    size = (3, 4, 5)
    elements = 3 * 4 * 5
    traced, dispatched = (count(ExtraWorkWhenTraced(), size, counter=c) for c in ("fvcore", "dispatch"))
    assert traced.by_operator == {"add": elements, "mul": elements}
    assert dispatched.by_operator == {"add": elements}


class DiscardsAProduct(nn.Module):
    def forward(self, x):
        x * 2  # runs, and nothing reads it
        return x + 1


def test_work_no_output_needs_is_counted_by_dispatch_and_dropped_by_the_trace():
    size = (3, 4, 5)
    elements = 3 * 4 * 5
    traced, dispatched = (count(DiscardsAProduct(), size, counter=c) for c in ("fvcore", "dispatch"))
    assert traced.by_operator == {"add": elements}
    assert dispatched.by_operator == {"add": elements, "mul": elements}


def test_the_counter_is_recorded_and_fvcore_is_the_default():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    assert count(model, (3, 8, 8)).convention.counter == FVCORE
    assert count(model, (3, 8, 8), counter="dispatch").convention.counter == DISPATCH
    with counter_in_use("dispatch"):
        assert count(model, (3, 8, 8)).convention.counter == DISPATCH
        assert count(model, (3, 8, 8), counter="fvcore").convention.counter == FVCORE
    assert count(model, (3, 8, 8), compat="deficient-efficient", counter="dispatch").convention.counter.startswith(
        f"{DISPATCH} (")


def test_an_unknown_counter_is_refused_naming_the_choices():
    with pytest.raises(ConfigError, match="fvcore, dispatch.*'jit'"):
        count(nn.ReLU(), (3, 4, 4), counter="jit")


def _without_the_tracer(monkeypatch):
    monkeypatch.delattr(torch.jit, "_get_trace_graph")


def _forget_fvcore_nn(monkeypatch):
    """The next ``import fvcore.nn`` imports it again, as in a fresh process (the modules come back after the test)."""
    for name in [n for n in sys.modules if n == "fvcore.nn" or n.startswith("fvcore.nn.")]:
        monkeypatch.delitem(sys.modules, name)


def _without_fvcore(monkeypatch):
    """As when torch.jit.script is gone: importing fvcore.nn fails."""
    _forget_fvcore_nn(monkeypatch)
    monkeypatch.setitem(sys.modules, "fvcore.nn", None)


@pytest.mark.parametrize("lose_tracing", [_without_the_tracer, _without_fvcore])
def test_without_jit_tracing_count_falls_back_to_dispatch_and_says_so(lose_tracing, monkeypatch):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    traced = count(model, (3, 8, 8))
    lose_tracing(monkeypatch)
    fallen_back = count(model, (3, 8, 8))
    assert fallen_back.convention.counter == DISPATCH + FALLBACK
    assert (fallen_back.params, fallen_back.mult_adds, fallen_back.layers) == (
        traced.params, traced.mult_adds, traced.layers)


@pytest.mark.parametrize("counter", ["fvcore", "dispatch"])
def test_counting_raises_no_warning(counter, monkeypatch):
    """The one known deprecation (fvcore scripting its losses at import) is silenced; any other fails here."""
    _forget_fvcore_nn(monkeypatch)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    counted(model, (3, 8, 8), counter)


def test_the_command_line_offers_the_library_counters():
    assert set(CLI_COUNTERS) == set(COUNTERS)


def test_count_counts_with_the_counter_asked_for(capsys):
    arguments = ["count", "--model", "wrn-10-1", "--input-size", "3,8,8", "--substitute", "lowrank:0.5", "--json"]
    results = {}
    for counter in COUNTERS:
        assert cli.main([*arguments, "--counter", counter]) == 0
        results[counter] = json.loads(capsys.readouterr().out)
    assert results["fvcore"]["convention"]["counter"] == FVCORE
    assert results["dispatch"]["convention"]["counter"] == DISPATCH
    assert without_convention(results["dispatch"]) == without_convention(results["fvcore"])


def test_solve_counts_with_the_counter_asked_for(capsys):
    """In one process: the solver remembers its counts per counter, so the second solve counts again."""
    arguments = ["solve", "--model", "wrn-10-1", "--input-size", "3,8,8", "--budget", "0.1x", "--substitute",
                 "lowrank", "--json"]
    assert cli.main(arguments) == 0
    traced = json.loads(capsys.readouterr().out)[0]
    calls = []

    def dispatched(*args, **kwargs):
        calls.append(args)
        return dispatched_tally(*args, **kwargs)

    with patch.dict(BACKENDS, {"dispatch": dispatched}):
        assert cli.main([*arguments, "--counter", "dispatch"]) == 0
    assert calls  # counted again, not read from the fvcore counts the first solve remembered
    dispatched = json.loads(capsys.readouterr().out)[0]
    assert dispatched["convention"]["counter"] == DISPATCH
    assert without_convention(dispatched) == without_convention(traced)


def without_convention(result: dict) -> dict:
    return {key: value for key, value in result.items() if key != "convention"}


@pytest.mark.parametrize("substitute, setting", [("conv", None), ("acdc", None), ("lowrank", 0.5), ("hashed", 0.5),
                                                 ("tensor-train", 0.5), ("butterfly", 2)])
def test_both_counters_agree_in_the_compatibility_mode(substitute, setting):
    """Its operator rules and its module rules (ACDC's and the tied low rank's own formulas) replace traced counts."""
    size = (3, SIDE, SIDE)
    network = build_for_counting(CASES["wrn"].model, substitute, setting, num_classes=NUM_CLASSES, input_size=size,
                                 compat="deficient-efficient")
    traced, dispatched = (counted(network, size, c, compat="deficient-efficient") for c in COUNTERS)
    assert dispatched.exact_mult_adds == traced.exact_mult_adds
    assert_same_count(traced, dispatched)
