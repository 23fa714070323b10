"""Sizes that cannot work are refused before they are built: the limits on parameters and modules, and the input
sizes each family runs at, against counts and sizes worked out here."""

import threading

import pytest
import torch
from torch import nn

from budgetsearch.counting import count_model
from budgetsearch.errors import ConfigError
from budgetsearch.models import DARTS, ImageNetResNet, check_model, create_model, input_options
from budgetsearch.models._size_check import size_limits


def vit_params(depth, width, side=32, channels=3, classes=10):
    """Dense ``vit-depth-width`` at ``side``×``side``: one position embedding per 4×4 patch."""
    tokens = (side // 4) ** 2
    block = 12 * width * width + 13 * width  # two norms, qkv, attention output, the MLP's two linears
    return channels * 16 * width + width + tokens * width + depth * block + 2 * width + width * classes + classes


def wrn_modules(depth):
    """Modules a ``wrn-depth-1`` registers: stem, group list, 3 groups, n blocks of 4 per group, 2 projection
    shortcuts, final BN and FC."""
    n = (depth - 4) // 6
    return 1 + 1 + 3 + 3 * n * 5 + 2 + 2


def test_a_layer_wider_than_the_parameter_limit_is_refused_naming_its_shape():
    width = 6_400_000
    with pytest.raises(ConfigError) as error:
        create_model(f"vit-1-{width}")  # without the limit: a 491 TB allocation
    message = str(error.value)
    assert f"'vit-1-{width}'" in message and f"shape ({3 * width}, {width})" in message
    assert "at most 1,000,000,000 parameters" in message and "BUDGETSEARCH_MAX_PARAMS" in message


def test_a_number_past_int64_is_refused_as_too_large_not_as_an_overflow():
    width = 10 ** 40
    with pytest.raises(ConfigError, match=f"shape \\({width}, 3, 4, 4\\)"):
        create_model(f"vit-1-{width}")


def test_too_many_modules_are_refused_while_building():
    with pytest.raises(ConfigError, match="'vit-100000-64' is too large to build: it builds more than 5,000 modules"):
        create_model("vit-100000-64")  # without the limit: minutes creating 900,000 modules


@pytest.mark.parametrize("depth", [10, 16])
def test_the_module_limit_is_the_count_it_names(monkeypatch, depth):
    monkeypatch.setenv("BUDGETSEARCH_MAX_MODULES", str(wrn_modules(depth)))
    create_model(f"wrn-{depth}-1")
    monkeypatch.setenv("BUDGETSEARCH_MAX_MODULES", str(wrn_modules(depth) - 1))
    with pytest.raises(ConfigError, match=f"more than {wrn_modules(depth) - 1:,} modules"):
        create_model(f"wrn-{depth}-1")


@pytest.mark.parametrize("depth, width", [(1, 64), (2, 128)])
def test_the_parameter_limit_is_the_count_it_names(monkeypatch, depth, width):
    monkeypatch.setenv("BUDGETSEARCH_MAX_PARAMS", str(vit_params(depth, width)))
    create_model(f"vit-{depth}-{width}")
    monkeypatch.setenv("BUDGETSEARCH_MAX_PARAMS", str(vit_params(depth, width) - 1))
    with pytest.raises(ConfigError, match=f"at most {vit_params(depth, width) - 1:,} parameters"):
        create_model(f"vit-{depth}-{width}")


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5"])
def test_a_limit_that_is_not_a_whole_number_is_refused_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("BUDGETSEARCH_MAX_MODULES", value)
    with pytest.raises(ConfigError, match=f"BUDGETSEARCH_MAX_MODULES must be a whole number >= 1.*'{value}'"):
        create_model("wrn-10-1")


def test_modules_another_thread_builds_meanwhile_do_not_count(monkeypatch):
    monkeypatch.setenv("BUDGETSEARCH_MAX_MODULES", "1")
    built = []
    with size_limits("two layers"):
        worker = threading.Thread(target=lambda: built.append(nn.Sequential(nn.Linear(1, 1), nn.ReLU())))
        worker.start()
        worker.join()
        with pytest.raises(ConfigError, match="'two layers' is too large to build: it builds more than 1 modules"):
            nn.Sequential(nn.Linear(1, 1), nn.ReLU())
    assert len(built) == 1
    nn.Sequential(nn.Linear(1, 1), nn.ReLU())  # outside the block nothing is limited


def test_the_check_leaves_the_random_state_as_it_was():
    torch.manual_seed(0)
    state = torch.get_rng_state()
    check_model("wrn-10-1", input_size=(3, 32, 32), training=True)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("size, near", [((3, 30, 30), "3,28,28 or 3,32,32"), ((3, 32, 64), "3,32,32 or 3,64,64"),
                                        ((1, 2, 2), "1,4,4")])
def test_a_vit_input_off_the_patch_grid_names_the_size_and_sizes_that_fit(size, near):
    shown = ",".join(map(str, size))
    with pytest.raises(ConfigError, match=f"'vit-6-256' does not run at input size {shown}: it needs square images "
                                          f"whose side is a multiple of its patch size 4 \\(e.g. {near}\\)"):
        input_options("vit-6-256", size)


@pytest.mark.parametrize("side", [8, 16, 64])
def test_a_vit_takes_its_image_size_from_the_input(side):
    counted = count_model("vit-1-64", input_size=(3, side, side))
    assert counted.params == vit_params(1, 64, side)


def test_a_vit_trains_on_digits_sized_images():
    network = create_model("vit-1-64", num_classes=10, **input_options("vit-1-64", (1, 8, 8)))
    assert network(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_darts_input_sides_must_survive_its_two_halvings():
    with pytest.raises(ConfigError, match="'darts' does not run at input size 3,30,31: .*multiples of 4.*"
                                          "\\(e.g. 3,28,28 or 3,32,32\\)"):
        input_options("darts", (3, 30, 31))


def test_a_shape_no_rule_foresees_is_refused_on_the_meta_device_naming_a_size_that_runs():
    # The original's fixed 7×7 pooling needs the 7×7 last stage of a 224×224 input.
    with pytest.raises(ConfigError, match="'wrn-50-2' does not run at input size 3,64,64 .*; it runs at 3,224,224"):
        count_model("wrn-50-2", input_size=(3, 64, 64), compat="deficient-efficient")


@pytest.mark.parametrize("side, branch", [(8, 2), (64, 16)])  # the head branches off after two halvings
def test_a_training_only_head_is_checked_in_training_mode(side, branch):
    check_model("darts", input_size=(1, side, side), in_channels=1)  # counted in eval mode: the head never runs
    with pytest.raises(ConfigError, match=f"auxiliary head needs a feature map of at least 8×8 and at most 10×10 "
                                          f".* but got {branch}×{branch}"):
        check_model("darts", input_size=(1, side, side), training=True, in_channels=1)


@pytest.mark.parametrize("options, named", [({"layers": 1}, "layers=1"), ({"layers": 0}, "layers=0"),
                                            ({"channels": 0}, "channels=0")])
def test_darts_sizes_that_cannot_work(options, named):
    with pytest.raises(ConfigError, match=named):
        DARTS(**options)


@pytest.mark.parametrize("options, named", [({"widen": 0}, "widen=0"), ({"expansion": -1}, "expansion=-1"),
                                            ({"blocks": []}, "blocks=[]"), ({"blocks": [3, 0]}, "blocks=[3, 0]")])
def test_imagenet_resnet_sizes_that_cannot_work(options, named):
    with pytest.raises(ConfigError, match=named.replace("[", "\\[").replace("]", "\\]")):
        ImageNetResNet(**options)
