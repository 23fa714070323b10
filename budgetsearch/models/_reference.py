"""Any model: a reference ``package.module:callable``, a callable returning an ``nn.Module``, or a module.

A reference is imported with importlib from ``sys.path``, with the working
directory searched the way ``python -m`` searches it but appended last, so
installed and standard modules come first and a stray ``json.py`` shadows
nothing. A study records the ``sys.path`` entry its module was found under
(:func:`reference_path_entry`) and its workers append that entry
(:func:`add_search_path`), so every process imports the same file. A path is
never executed.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import os
import re
import sys
from pathlib import Path
from typing import Callable, Optional, Union

import torch
from torch import nn

from ..errors import ConfigError

ModelSpec = Union[str, Callable[..., nn.Module], nn.Module]

_DOTTED = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_REFERENCE = re.compile(rf"({_DOTTED}):({_DOTTED})")


def is_reference(model) -> bool:
    """Whether ``model`` names a callable (``package.module:callable``) rather than a registered family."""
    return isinstance(model, str) and ":" in model


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def add_search_path(entry: str) -> None:
    """Append ``entry`` to ``sys.path`` (after everything installed) unless it is there already."""
    if entry not in sys.path:
        sys.path.append(entry)


def load_reference(reference: str) -> Callable:
    """The callable ``reference`` names; a :class:`ConfigError` naming the reference and what failed."""
    match = _REFERENCE.fullmatch(reference.strip())
    if match is None:
        raise ConfigError(f"model {reference!r} is not a reference: expected package.module:callable "
                          f"(dotted names on both sides of one colon)")
    module_name, attribute = match.groups()
    add_search_path(os.getcwd())
    try:
        target = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name is not None and module_name.startswith(error.name):
            raise ConfigError(f"model {reference!r}: no module named {error.name!r} on sys.path "
                              f"(the working directory is searched last)") from None
        raise ConfigError(f"model {reference!r}: importing {module_name!r} raised {_first_line(error)}") from None
    except Exception as error:  # the user's module failed at import: say how, in one line
        raise ConfigError(f"model {reference!r}: importing {module_name!r} raised {_first_line(error)}") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"model {reference!r}: {getattr(target, '__name__', module_name)!r} has no "
                              f"attribute {part!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(f"model {reference!r}: {attribute!r} is a {type(target).__name__}, not callable")
    return target


def reference_path_entry(reference: str) -> Optional[str]:
    """The ``sys.path`` entry the reference's top-level package was imported from (None for a built-in one)."""
    load_reference(reference)
    top = sys.modules[_REFERENCE.fullmatch(reference.strip()).group(1).split(".")[0]]
    origin = getattr(top.__spec__, "origin", None)
    if origin is None or not os.path.isfile(origin):
        return None
    path = Path(origin).resolve().parent
    return str(path.parent if top.__spec__.submodule_search_locations else path)


def accepts(make: Callable, keyword: str) -> bool:
    try:
        parameters = inspect.signature(make).parameters
    except (TypeError, ValueError):  # a builtin without a signature: assume not
        return False
    return keyword in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def default_num_classes(model: ModelSpec) -> Optional[int]:
    """The callable's own default for ``num_classes``, if it declares one."""
    if isinstance(model, nn.Module):
        return None
    make = load_reference(model) if isinstance(model, str) else model
    try:
        default = inspect.signature(make).parameters["num_classes"].default
    except (TypeError, ValueError, KeyError):
        return None
    return default if isinstance(default, int) else None


def model_label(model: ModelSpec) -> str:
    if isinstance(model, str):
        return model
    if isinstance(model, nn.Module):
        return type(model).__name__
    return f"{getattr(model, '__module__', '?')}:{getattr(model, '__qualname__', repr(model))}"


def build_any(model: ModelSpec, num_classes: Optional[int] = None, **options) -> nn.Module:
    """A fresh ``nn.Module`` from ``model``: a module is copied (never modified), a callable or reference called
    with ``options`` and with ``num_classes`` where it accepts it."""
    label = model_label(model)
    if isinstance(model, nn.Module):
        if options:
            raise ConfigError(f"model {label!r} is an nn.Module already, so it takes no options, "
                              f"but got {sorted(options)}")
        return copy.deepcopy(model)
    make = load_reference(model) if isinstance(model, str) else model
    if not callable(make):
        raise ConfigError(f"model must be a registered name, a package.module:callable reference, a callable "
                          f"or an nn.Module, but got {model!r}")
    if num_classes is not None and accepts(make, "num_classes"):
        options = {**options, "num_classes": num_classes}
    try:
        built = make(**options)
    except Exception as error:  # the user's constructor: its own message, first line
        raise ConfigError(f"model {label!r} raised {_first_line(error)}") from None
    if not isinstance(built, nn.Module):
        raise ConfigError(f"model {label!r} returned a {type(built).__name__}, not an nn.Module")
    return built


def check_forward(network: nn.Module, label: str, input_size: tuple) -> None:
    """Run one image of ``input_size`` through ``network``; a failure names the model and the size."""
    was_training = network.training
    try:
        with torch.no_grad():
            network.eval()(torch.zeros(1, *input_size))
    except Exception as error:  # the user's forward: its own message, first line
        raise ConfigError(f"model {label!r}: its forward fails at input size {tuple(input_size)}: "
                          f"{_first_line(error)}") from None
    finally:
        network.train(was_training)


def reference_of(model) -> str:
    """``package.module:callable`` for a callable importable under that name; else a ConfigError."""
    reference = model_label(model)
    importable = callable(model) and not isinstance(model, nn.Module) and "<" not in reference
    try:
        importable = importable and load_reference(reference) is model
    except ConfigError:
        importable = False
    if not importable:
        raise ConfigError(f"model must be a registered name, a package.module:callable reference or a callable "
                          f"importable by one (a trial is recorded by reference, so another process can rebuild "
                          f"it), but got {model!r}")
    return reference
