"""Every (model, substitute, selection) combination: built, counted, solved, run forward and trained one step.

The matrix is parametrised over the registries themselves, so a family or substitute registered later is
tested in combination the day it exists. A cell that cannot apply (a conv-only substitute on linear layers, a
selection that picks no layer of the model) must give its clear error; no cell is skipped.
"""

from __future__ import annotations

import functools
import math

import pytest
import torch
from torch import nn

from budgetsearch.counting import count
from budgetsearch.data import AugmentRecipe, Dataset
from budgetsearch.errors import BudgetSearchError
from budgetsearch.models import class_scores, create_model, list_models
from budgetsearch.solver import network_counter, solve_budget
from budgetsearch.solver._search import highest, lowest
from budgetsearch.substitutes import get_substitute, linear_substitutes, list_substitutes
from budgetsearch.training import TrainConfig, train_trial

from combinations import CASES

pytest.importorskip("transformers")

NUM_CLASSES = 10
SELECTIONS = ("default", "convs", "linear", "all", "exclude")
HUGE_BUDGET = 10 ** 12  # above every reach: a refusal is about the substitute, never the budget


def _selection(case, selection: str) -> dict:
    if selection == "default":
        return {}
    if selection == "exclude":
        return {"select": "all", "exclude": (case.exclude,)}
    return {"select": selection}


def _cells() -> list:
    # Model, then selection, then substitute: consecutive cells share the solver's cached counter.
    return [pytest.param(model, selection, substitute, id=f"{model}-{selection}-{substitute}")
            for model in CASES for selection in SELECTIONS for substitute in list_substitutes()]


def _tiny_dataset(input_size: tuple) -> Dataset:
    generator = torch.Generator().manual_seed(0)

    def images(n):
        return torch.randint(0, 256, (n, *input_size), dtype=torch.uint8, generator=generator)

    def labels(n):
        return torch.arange(n) % NUM_CLASSES

    channels = input_size[0]
    return Dataset(name="tiny", source="random uint8 images", train_images=images(4), train_labels=labels(4),
                   val_images=images(2), val_labels=labels(2), test_images=images(2), test_labels=labels(2),
                   num_classes=NUM_CLASSES, class_names=tuple(str(i) for i in range(NUM_CLASSES)),
                   input_size=tuple(input_size), mean=(0.5,) * channels, std=(0.25,) * channels,
                   augmentation=AugmentRecipe(), seed=0)


def _inference_parameters(network: nn.Module) -> list:
    """The parameters that run at inference (a training-only head is not part of the network)."""
    training_only = tuple(f"{name}." for name in network.training_only_modules)  # declared by every model
    return [p for name, p in network.named_parameters() if not name.startswith(training_only)]


def _trainable_numel(network: nn.Module) -> int:
    return sum(p.numel() for p in _inference_parameters(network))


def _logits(output) -> torch.Tensor:
    """The class scores of a forward: a tensor, DARTS's (logits, auxiliary) in training, or transformers' output."""
    return class_scores(output)


def test_every_family_has_a_case():
    covered = {case.family for case in CASES.values() if case.family}
    assert covered == set(list_models())


@pytest.mark.parametrize("model", CASES)
def test_the_excluded_layer_is_a_substitution_point_kept_dense(model):
    case = CASES[model]
    every = create_model(case.model, num_classes=NUM_CLASSES, select="all", **case.options)
    kept = create_model(case.model, num_classes=NUM_CLASSES, **case.options, **_selection(case, "exclude"))
    assert case.exclude in every.substitution_points and case.exclude not in kept.substitution_points


@pytest.mark.parametrize("model, selection, substitute", _cells())
def test_combination(model, selection, substitute):
    case = CASES[model]
    chosen = _selection(case, selection)
    solve = dict(input_size=case.input_size, num_classes=NUM_CLASSES, options=case.options, **chosen)
    if selection == "linear" and nn.Linear not in _point_kinds(model):
        with pytest.raises(BudgetSearchError, match="nothing to substitute: select='linear' picks no"):
            solve_budget(case.model, substitute, HUGE_BUDGET, **solve)
        return
    applies = substitute in linear_substitutes() or not _linear_points(model, selection)
    if not applies:
        with pytest.raises(BudgetSearchError, match=substitute):
            solve_budget(case.model, substitute, HUGE_BUDGET, **solve)
        return

    budget = _budget_inside_the_reach(case, chosen, substitute)
    solution = solve_budget(case.model, substitute, budget, **solve)
    assert solution.params <= budget

    network = solution.build().eval()
    counted = count(network, case.input_size)
    assert (counted.params, counted.mult_adds) == (solution.params, solution.mult_adds)
    assert counted.params == _trainable_numel(network)
    with torch.no_grad():
        assert _logits(network(torch.zeros(2, *case.input_size))).shape == (2, NUM_CLASSES)

    if selection == "default":  # the trainer itself, once per (model, substitute)
        config = TrainConfig(epochs=1, batch_size=4, eval_batch_size=4, device="cpu", channels_last=False,
                             validation_size=0)
        result = train_trial(case.model, substitute, solution.setting, _tiny_dataset(case.input_size), config,
                             model_options=case.options, **chosen)
        assert result.status == "complete", result.message
        assert math.isfinite(result.train_loss) and result.params == solution.params
        # One count: the weight-decay ratio is the solver's (its count over its count of the reference network).
        assert result.compression_ratio == solution.ratio
    else:  # the same network's layers chosen otherwise: one SGD step on a tiny batch
        network.train()
        inputs = torch.randn(2, *case.input_size, generator=torch.Generator().manual_seed(0))
        loss = nn.functional.cross_entropy(_logits(network(inputs)), torch.tensor([0, 1]))
        loss.backward()
        assert math.isfinite(loss.item())
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in _inference_parameters(network))


def _budget_inside_the_reach(case, chosen: dict, substitute: str) -> int:
    """A twentieth of the way from the smallest to the largest network the substitute builds: inside the reach, with
    layers small enough to build and run quickly (ACDC's 1280-channel stacks at a quarter took a minute)."""
    counter = network_counter(case.model, NUM_CLASSES, case.input_size, options=case.options, **chosen)
    found = get_substitute(substitute)
    if found.hyperparameter is None:
        return counter.params(found, None)
    low, high = sorted(counter.params(found, setting) for setting in (lowest(found.hyperparameter),
                                                                       highest(found.hyperparameter)))
    return low + (high - low) // 20


@functools.lru_cache(maxsize=None)
def _point_kinds(model: str) -> set:
    """The layer types among every layer of the dense model that can be substituted (``select="all"``)."""
    case = CASES[model]
    network = create_model(case.model, num_classes=NUM_CLASSES, select="all", **case.options)
    return {type(network.get_submodule(name)) for name in network.substitution_points}


@functools.lru_cache(maxsize=None)
def _linear_points(model: str, selection: str) -> bool:
    """Whether the selection picks an ``nn.Linear`` of the dense model (shuffle has no linear form)."""
    case = CASES[model]
    network = create_model(case.model, num_classes=NUM_CLASSES, **case.options, **_selection(case, selection))
    return any(isinstance(network.get_submodule(name), nn.Linear) for name in network.substitution_points)
