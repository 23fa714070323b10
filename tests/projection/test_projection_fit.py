"""The least-squares fit: it projects the families without a closed form, refines the others, and is deterministic."""

import copy

import pytest
import torch
from torch import nn

from budgetsearch.projection import effective_weight, geometry_of, project_layer
from budgetsearch.substitutes import get_substitute

STEPS = 60
NO_CLOSED_FORM = [("acdc", 2), ("butterfly", 1), ("shuffle", 2)]


def output_error(layer, dense, inputs):
    with torch.no_grad():
        reference = dense(inputs)
        return ((layer(inputs) - reference).norm() / reference.norm()).item()


def conv_case(name, setting):
    dense = nn.Conv2d(8, 12, 3, padding=1, bias=True)
    layer = get_substitute(name).factory(setting)(8, 12, 3, padding=1, bias=True)
    return dense, layer, torch.randn(4, 8, 6, 6)


@pytest.mark.parametrize("name, setting", NO_CLOSED_FORM)
def test_fit_projects_a_family_without_a_closed_form(name, setting):
    dense, layer, inputs = conv_case(name, setting)
    start = copy.deepcopy(layer)
    # No steps: where the fit starts (the depthwise split, the dense bias, the family's own init).
    started = project_layer("layer", dense, start, "fit", inputs, steps=0)
    if name != "shuffle":  # behind a depthwise k×k the fit starts from the separable split: unit-norm kernels
        norms = start.depthwise.weight.flatten(1).norm(dim=1)
        torch.testing.assert_close(norms, torch.ones_like(norms))
    record = project_layer("layer", dense, layer, "fit", inputs, steps=STEPS)
    assert record.method == "fit"
    assert record.output_error == pytest.approx(output_error(layer, dense, inputs), rel=1e-5)
    assert record.output_error < 0.95 * started.output_error


@pytest.mark.parametrize("name, setting", [("generic", 0.25), ("kronecker", 2), ("tucker", 0.4), ("lowrank", 0.3)])
def test_fit_never_ends_worse_than_the_closed_form_it_starts_from(name, setting):
    dense, closed_layer, inputs = conv_case(name, setting)
    fitted_layer = copy.deepcopy(closed_layer)
    closed = project_layer("layer", dense, closed_layer, "closed", inputs)
    fitted = project_layer("layer", dense, fitted_layer, "fit", inputs, steps=STEPS)
    assert fitted.output_error <= closed.output_error + 1e-7


def test_without_calibration_the_fit_lowers_the_weight_error():
    dense = nn.Linear(12, 10, bias=False)
    layer = get_substitute("acdc").factory(2).linear(12, 10, bias=False)
    start = (effective_weight(layer, geometry_of(dense)) - dense.weight).norm().item() / dense.weight.norm().item()
    record = project_layer("layer", dense, layer, "fit", steps=STEPS)
    assert record.output_error is None
    assert record.weight_error < start


def test_the_fit_is_deterministic():
    dense, layer, inputs = conv_case("butterfly", 1)
    twin = copy.deepcopy(layer)
    project_layer("layer", dense, layer, "fit", inputs, steps=STEPS)
    project_layer("layer", dense, twin, "fit", inputs, steps=STEPS)
    for mine, theirs in zip(layer.parameters(), twin.parameters()):
        assert torch.equal(mine, theirs)
