"""Any model: a reference ``package.module:callable``, a callable returning an ``nn.Module``, or a module.

A reference is imported with importlib from ``sys.path``, with the working
directory searched the way ``python -m`` searches it but appended last, so
installed and standard modules come first and a stray ``json.py`` shadows
nothing. A path is never executed, and a reference names a model or nothing:
an ``nn.Module`` subclass, or a function marked with
:func:`budgetsearch.model_factory` (or declared in the
``budgetsearch.model_factories`` entry-point group); ``os:system`` is refused
before it is called. Options are checked against the callable's signature
before it is called, so a misspelt one is named rather than raised deep inside.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import os
import sys
from pathlib import Path
from typing import Callable, Optional, Union

import torch
from torch import nn

from .._factories import ENTRY_POINT_GROUP, is_declared, is_marked
from ..errors import ConfigError
from ._names import split_reference

ModelSpec = Union[str, Callable[..., nn.Module], nn.Module]


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def add_search_path(entry: str) -> None:
    """Append ``entry`` to ``sys.path`` (after everything installed) unless it is there already."""
    if entry not in sys.path:
        sys.path.append(entry)


def load_reference(reference: str) -> Callable:
    """The callable ``reference`` names; a :class:`ConfigError` naming the reference and what failed."""
    module_name, attribute = split_reference(reference)
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
    if not _names_a_model(target, f"{module_name}:{attribute}"):
        raise ConfigError(f"model {reference!r} names {_described(target)}, which is not a model; a reference must "
                          f"name an nn.Module subclass or a function marked as a model factory (decorate it with "
                          f"@budgetsearch.model_factory, or declare it in the {ENTRY_POINT_GROUP!r} entry-point group)")
    return target


def _names_a_model(target, reference: str) -> bool:
    if isinstance(target, type):
        return issubclass(target, nn.Module)
    return is_marked(target) or is_declared(reference)


def _described(target) -> str:
    if isinstance(target, type):
        return f"the class {target.__qualname__!r} (not an nn.Module subclass)"
    kind = type(target).__name__.replace("_or_method", "").replace("_", " ")
    if callable(target):
        return f"the {kind} {getattr(target, '__qualname__', '?')!r} (not marked as a model factory)"
    return f"a {kind} (not callable)"


def reference_path_entry(reference: str) -> Optional[str]:
    """The ``sys.path`` entry the reference's top-level package was imported from (None for a built-in one)."""
    load_reference(reference)
    top = sys.modules[split_reference(reference)[0].split(".")[0]]
    origin = getattr(top.__spec__, "origin", None)
    if origin is None or not os.path.isfile(origin):
        return None
    path = Path(origin).resolve().parent
    return str(path.parent if top.__spec__.submodule_search_locations else path)


_PLAIN_TYPES = {kind.__name__: kind for kind in (int, float, bool, str)}


def check_options(make: Callable, options: dict, label: str, fixed: tuple = ()) -> None:
    """Refuse, before ``make`` is called, an option it does not take, one ``fixed`` already (given by the model's
    name or by budgetsearch), or one whose value is not of a plain annotated type (int, float, bool, str)."""
    try:
        parameters = inspect.signature(make).parameters
    except (TypeError, ValueError):  # a builtin without a signature: its own call says
        return
    named = {name: p for name, p in parameters.items()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name not in fixed}
    open_ended = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    accepted = ", ".join(named) or "none"
    for key, value in options.items():
        if key in fixed:
            raise ConfigError(f"model {label!r}: option {key!r} is set by the model's name or by budgetsearch, so it "
                              f"cannot be given (got {key}={value!r}); accepted options: {accepted}")
        if key not in named:
            if open_ended:
                continue
            raise ConfigError(f"model {label!r} takes no option {key!r} (got {key}={value!r}); accepted options: "
                              f"{accepted}")
        annotation = named[key].annotation
        kind = _PLAIN_TYPES.get(annotation) if isinstance(annotation, str) else annotation
        if kind in _PLAIN_TYPES.values() and not _is_instance(value, kind):
            raise ConfigError(f"model {label!r}: option {key!r} must be {kind.__name__}, but got {value!r} "
                              f"({type(value).__name__})")


def _is_instance(value, kind: type) -> bool:
    if isinstance(value, bool):
        return kind is bool
    return isinstance(value, (int, float) if kind is float else kind)


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
    check_options(make, options, label, fixed=("num_classes",) if num_classes is not None else ())
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
