"""Every registered family, every geometry: what a projection says it wrote is what the layer computes.

The layer's effective weight is read off by running it on impulses (an
independent route through its forward), so a parameter written in the wrong
layout shows up as a mismatch.
"""

import pytest
import torch
from torch import nn

from budgetsearch.errors import ConfigError
from budgetsearch.projection import (NoClosedFormError, check_closed_forms, effective_weight, geometry_of,
                                    project_closed)
from budgetsearch.substitutes import get_substitute, list_substitutes

# The families without a closed form; every other registered family must have one.
FIT_ONLY = {"shuffle", "acdc", "butterfly", "blast"}

# (C_i, C_o, kernel, stride, padding, dilation): square and not, prime and non-divisible widths,
# k = 1 with stride and padding, k > 1 with dilation, a rectangular kernel.
GEOMETRIES = [
    (12, 20, 3, 2, 1, 1),
    (20, 12, 1, 1, 0, 1),
    (7, 10, 3, 1, 1, 1),
    (16, 16, 1, 2, 1, 1),
    (9, 15, (3, 1), (2, 1), (2, 0), (2, 1)),
]
LINEARS = [(15, 8), (8, 15), (13, 13)]


def setting_of(name):
    hyperparameter = get_substitute(name).hyperparameter
    if hyperparameter is None:
        return None
    return 0.3 if hyperparameter.type is float else int(hyperparameter.low) + 1


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's, on the asymmetric case
@pytest.mark.parametrize("geometry", [
    dict(kernel_size=3, padding=1, stride=2), dict(kernel_size=(3, 5), padding=(2, 0), stride=(1, 3), dilation=(2, 1)),
    dict(kernel_size=3, padding="same", dilation=2), dict(kernel_size=1, padding=1, stride=2),
    dict(kernel_size=2, padding="same"),
])
def test_effective_weight_of_a_conv_is_its_weight(geometry):
    conv = nn.Conv2d(5, 7, bias=True, **geometry)
    torch.testing.assert_close(effective_weight(conv, geometry_of(conv)), conv.weight)


def test_effective_weight_of_a_linear_is_its_weight():
    linear = nn.Linear(6, 4)
    torch.testing.assert_close(effective_weight(linear, geometry_of(linear)), linear.weight)


@pytest.mark.parametrize("name", list_substitutes())
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
def test_conv_projection_is_what_the_layer_computes(name, geometry):
    c_in, c_out, k, s, p, d = geometry
    dense = nn.Conv2d(c_in, c_out, k, s, p, d, bias=False)
    layer = get_substitute(name).factory(setting_of(name))(c_in, c_out, k, stride=s, padding=p, dilation=d, bias=False)
    if name in FIT_ONLY:
        with pytest.raises(NoClosedFormError, match=repr(name)):
            project_closed(dense, layer)
        return
    approximation = project_closed(dense, layer)
    assert approximation.shape == dense.weight.shape
    torch.testing.assert_close(effective_weight(layer, geometry_of(dense)).double(), approximation,
                               atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("name", [n for n in list_substitutes() if get_substitute(n).linear is not None])
@pytest.mark.parametrize("features", LINEARS, ids=str)
def test_linear_projection_is_what_the_layer_computes(name, features):
    dense = nn.Linear(*features)
    layer = get_substitute(name).factory(setting_of(name)).linear(*features)
    if name in FIT_ONLY:
        with pytest.raises(NoClosedFormError, match=repr(name)):
            project_closed(dense, layer)
        return
    approximation = project_closed(dense, layer)
    torch.testing.assert_close(effective_weight(layer, geometry_of(dense)).double(), approximation,
                               atol=1e-6, rtol=1e-5)


def test_the_dense_families_copy_exactly():
    dense = nn.Conv2d(6, 9, 3, padding=1, bias=False)
    layer = get_substitute("conv").factory()(6, 9, 3, padding=1, bias=False)
    project_closed(dense, layer)
    torch.testing.assert_close(layer.weight, dense.weight)


def test_a_grouped_conv_is_no_dense_layer_to_project():
    dense = nn.Conv2d(4, 4, 3, groups=2)
    layer = get_substitute("separable").factory()(4, 4, 3)
    with pytest.raises(ConfigError, match="groups=1"):
        project_closed(dense, layer)


@pytest.mark.parametrize("name", list_substitutes())
def test_the_up_front_check_agrees_with_the_built_layer(name):
    # check_closed_forms answers from the registry before anything is built; the built layer is the truth
    dense = nn.Conv2d(12, 20, 3, padding=1, bias=False)
    layer = get_substitute(name).factory(setting_of(name))(12, 20, 3, padding=1, bias=False)
    try:
        project_closed(dense, layer)
        projected = True
    except NoClosedFormError:
        projected = False
    try:
        check_closed_forms([name], "closed")
        allowed = True
    except NoClosedFormError as error:
        allowed = False
        assert str(error).startswith(f"{name} has no closed-form projection"), error
    assert allowed == projected
    check_closed_forms([name], "fit")  # fit projects every family
