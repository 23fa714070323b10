"""Registry lookups answer truthfully, and an unknown name's error lists the close matches."""

import pytest
from torch import nn

from budgetsearch.errors import ConfigError, UnknownNameError
from budgetsearch.models import create_model, find_model, is_registered, list_models, model_defaults, substitute
from budgetsearch.substitutes import get_substitute, list_substitutes, parse_substitute


@pytest.mark.parametrize("name", list_models() + ["wrn-16-4", "vit-2-128"])
def test_every_registered_name_is_registered(name):
    assert is_registered(name) and find_model(name)


@pytest.mark.parametrize("model", ["no-such-model", "wrn-16", "vit-6-256-x", "", "examples.tinyvgg:TinyVGG",
                                   nn.Linear(2, 2), nn.Linear])
def test_anything_else_is_not(model):
    assert is_registered(model) is False


# (what was typed, the registered name it is close to)
MODEL_TYPOS = [("wrn-28-1O", "wrn-28-10"), ("mobilenet-v2", "mobilenetv2"), ("dart", "darts"),
               ("vit6-256", "vit-6-256")]


@pytest.mark.parametrize("typed, meant", MODEL_TYPOS)
@pytest.mark.parametrize("lookup", [find_model, create_model, model_defaults], ids=lambda f: f.__name__)
def test_an_unknown_model_names_the_close_registered_one(lookup, typed, meant):
    with pytest.raises(UnknownNameError, match=rf"unknown model '{typed}' \(did you mean '{meant}'\?\); registered"):
        lookup(typed)


def test_a_name_close_to_nothing_suggests_nothing_but_lists_the_families():
    with pytest.raises(UnknownNameError) as info:
        create_model("no-such-model")
    assert "did you mean" not in str(info.value)
    assert all(example in str(info.value) for example in list_models())


@pytest.mark.parametrize("typed, meant", [("tuker", "tucker"), ("Tuckr", "tucker"), ("lowrnak", "lowrank"),
                                          ("SepHashd", "SepHashed"), ("tensor-trian", "tensor-train")])
@pytest.mark.parametrize("lookup", [get_substitute, parse_substitute], ids=lambda f: f.__name__)
def test_an_unknown_substitute_names_the_close_registered_one(lookup, typed, meant):
    with pytest.raises(UnknownNameError, match=rf"unknown substitute '{typed}' \(did you mean '{meant}'"):
        lookup(typed)
    assert get_substitute(meant)


def test_an_unknown_selection_names_the_close_one():
    with pytest.raises(ConfigError, match=r"select='conv' \(did you mean 'convs'\?\)"):
        substitute(nn.Sequential(nn.Conv2d(2, 2, 3)), "tucker", 0.5, select="conv")


def test_every_registered_substitute_is_found_by_both_its_names():
    for name in list_substitutes():
        found = get_substitute(name)
        assert get_substitute(found.original_name) is found
