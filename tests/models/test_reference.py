"""Models named by reference (``package.module:callable``): import order, options and one-line errors."""

from __future__ import annotations

import sys

import pytest
from torch import nn

from budgetsearch.errors import ConfigError
from budgetsearch.models import build_any, check_forward, create_model, default_input_size, load_reference
from budgetsearch.models._reference import reference_path_entry

USER_MODULE = '''
from torch import nn
from budgetsearch import model_factory

@model_factory
def Tiny(num_classes=7, width=4):
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.Flatten(), nn.LazyLinear(num_classes))

@model_factory
def Fixed(width: int = 4):
    return nn.Sequential(nn.Conv2d(3, width, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 2))

@model_factory
def Broken():
    raise RuntimeError("no weights here\\nsecond line")

@model_factory
def NotAModule():
    return 3

def unmarked(path="marker"):
    open(path, "w").close()
    return nn.Identity()

class Net(nn.Module):
    def __init__(self, width: int = 4, num_classes: int = 10):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3)

NUMBER = 5
'''


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    """A working directory holding a user's module, a package, and a stray ``json.py``."""
    (tmp_path / "usernets.py").write_text(USER_MODULE)
    (tmp_path / "userpkg").mkdir()
    (tmp_path / "userpkg" / "__init__.py").write_text("")
    (tmp_path / "userpkg" / "nets.py").write_text(USER_MODULE)
    (tmp_path / "json.py").write_text("raise RuntimeError('the stray json.py was imported')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    for name in ("usernets", "userpkg", "userpkg.nets"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return tmp_path


def test_a_reference_is_found_in_the_working_directory_searched_last(user_dir):
    make = load_reference("userpkg.nets:Tiny")
    assert make.__module__ == "userpkg.nets"
    assert sys.path[-1] == str(user_dir)
    import importlib

    import json
    assert importlib.reload(json).__file__ != str(user_dir / "json.py")
    assert reference_path_entry("userpkg.nets:Tiny") == str(user_dir.resolve())
    assert reference_path_entry("usernets:Tiny") == str(user_dir.resolve())


def test_options_and_num_classes_reach_the_callable(user_dir):
    network = create_model("usernets:Fixed", num_classes=3, width=6)  # Fixed takes no num_classes
    assert network[0].out_channels == 6 and network[3].out_features == 2
    tiny = build_any("usernets:Tiny", num_classes=5, width=2)
    assert tiny[0].out_channels == 2 and tiny[2].out_features == 5


def test_an_nn_module_is_copied_never_modified():
    module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3))
    built = create_model(module, substitute="separable")
    assert [type(m).__name__ for m in module] == ["Conv2d", "Conv2d"]
    assert type(built[0]).__name__ != "Conv2d" and built.substitution_points == ("0", "1")


@pytest.mark.parametrize("reference, message", [
    ("nosuchmodule_xyz:Net", "model 'nosuchmodule_xyz:Net': no module named 'nosuchmodule_xyz' on sys.path"),
    ("usernets:Missing", "model 'usernets:Missing': 'usernets' has no attribute 'Missing'"),
    ("usernets:NUMBER", "model 'usernets:NUMBER' names a int \\(not callable\\), which is not a model"),
    ("usernets:Broken", "model 'usernets:Broken' raised RuntimeError: no weights here$"),
    ("usernets:NotAModule", "model 'usernets:NotAModule' returned a int, not an nn.Module"),
    ("path/to/usernets.py:Tiny", "is not a reference: expected package.module:callable"),
])
def test_bad_references_say_what_failed_in_one_line(user_dir, reference, message):
    with pytest.raises(ConfigError, match=message) as error:
        build_any(reference)
    assert "\n" not in str(error.value)


def test_a_model_that_is_not_registered_needs_its_input_size(user_dir):
    with pytest.raises(ConfigError, match="model 'usernets:Tiny' is not registered, so its input size must be given"):
        default_input_size("usernets:Tiny")


def test_a_forward_that_fails_names_the_model_and_input_size(user_dir):
    with pytest.raises(ConfigError, match=r"model 'usernets:Fixed': its forward fails at input size \(3, 2, 2\): "
                                          r"RuntimeError: .*Kernel size"):
        check_forward(build_any("usernets:Fixed"), "usernets:Fixed", (3, 2, 2))


@pytest.mark.parametrize("reference, named", [
    ("os:system", "the builtin function 'system' \\(not marked as a model factory\\)"),
    ("builtins:eval", "the builtin function 'eval' \\(not marked as a model factory\\)"),
    ("subprocess:run", "the function 'run' \\(not marked as a model factory\\)"),
    ("pathlib:Path", "the class 'Path' \\(not an nn.Module subclass\\)"),
    ("usernets:unmarked", "the function 'unmarked' \\(not marked as a model factory\\)"),
])
def test_a_reference_to_anything_but_a_model_is_refused_before_it_is_called(user_dir, reference, named):
    with pytest.raises(ConfigError, match=f"model '{reference}' names {named}, which is not a model; .*"
                                          f"@budgetsearch.model_factory") as error:
        create_model(reference, path=str(user_dir / "marker"))
    assert "\n" not in str(error.value)
    assert not (user_dir / "marker").exists()


def test_a_function_declared_as_an_entry_point_may_be_named(user_dir, monkeypatch):
    from importlib.metadata import EntryPoint

    from budgetsearch import _factories

    declared = EntryPoint("unmarked", "usernets:unmarked", _factories.ENTRY_POINT_GROUP)
    monkeypatch.setattr(_factories, "entry_points", lambda group: [declared] if group == declared.group else [])
    assert isinstance(build_any("usernets:unmarked", path=str(user_dir / "marker")), nn.Identity)
    assert (user_dir / "marker").exists()


@pytest.mark.parametrize("model, options, message", [
    ("usernets:Net", {"bogus": 1}, "model 'usernets:Net' takes no option 'bogus' \\(got bogus=1\\); accepted "
                                   "options: width$"),
    ("usernets:Net", {"width": "wide"}, "model 'usernets:Net': option 'width' must be int, but got 'wide' \\(str\\)"),
    ("usernets:Fixed", {"width": 2.5}, "option 'width' must be int, but got 2.5"),
    ("wrn-16-4", {"width": 3}, "model 'wrn-16-4': option 'width' is set by the model's name or by budgetsearch"),
    ("wrn-16-4", {"bogus": True}, "model 'wrn-16-4' takes no option 'bogus' \\(got bogus=True\\); accepted options: "
                                  "in_channels$"),
    ("vit-1-64", {"in_channels": True}, "option 'in_channels' must be int, but got True \\(bool\\)"),
])
def test_options_are_checked_against_the_signature_before_the_call(user_dir, model, options, message):
    with pytest.raises(ConfigError, match=message):
        create_model(model, num_classes=10, **options)


def test_model_factory_marks_functions_only():
    from budgetsearch import model_factory

    with pytest.raises(TypeError, match="an nn.Module subclass needs no mark"):
        model_factory(nn.Linear)
