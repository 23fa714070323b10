"""Sizes that cannot work, refused before anything is allocated: a model built by name is built on meta first.

A registered name is a size (``vit-1-6400000``: one block 6,400,000 wide), and
some sizes cannot be built: that one asks for a 491 TB layer, ``vit-100000-64``
for minutes of creating a million modules. :func:`check_buildable` builds the
family once on the meta device (no memory, no initialisation) under limits
that stop the build the moment it asks for a tensor larger than the parameter
limit, or registers more parameters or modules than the limits allow, so a
refusal costs at most the modules under the limit (about a second).

The limits are read from the environment at every build, so a user raises them
for one command:

- ``BUDGETSEARCH_MAX_PARAMS`` (default 1,000,000,000 parameters: 4 GB of
  float32, which counting zero-fills and training holds several times over);
- ``BUDGETSEARCH_MAX_MODULES`` (default 5,000: counting traces every module,
  about 25 ms each, so a count at the limit takes about two minutes).

:func:`check_runs_at` runs a network built on the meta device on an input of
the given size, so a shape that does not fit fails as one line without a
tensor allocated.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from typing import Callable, Optional

import torch
from torch import nn
from torch.nn.modules import module as module_hooks
from torch.overrides import TorchFunctionMode

from ..errors import ConfigError
from ..substitutes import get_substitute, shape_only

MAX_PARAMS_VARIABLE, DEFAULT_MAX_PARAMS = "BUDGETSEARCH_MAX_PARAMS", 1_000_000_000
MAX_MODULES_VARIABLE, DEFAULT_MAX_MODULES = "BUDGETSEARCH_MAX_MODULES", 5_000
_SIZED_FACTORIES = frozenset({torch.empty, torch.zeros, torch.ones, torch.full, torch.rand, torch.randn})


def size_limit(variable: str, default: int) -> int:
    """The limit ``variable`` sets in the environment, or ``default``."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{variable} must be a whole number >= 1 (e.g. {default}), but got {text!r}")
    return value


class _Limits:
    def __init__(self, label: str):
        self.label = label
        self.max_params = size_limit(MAX_PARAMS_VARIABLE, DEFAULT_MAX_PARAMS)
        self.max_modules = size_limit(MAX_MODULES_VARIABLE, DEFAULT_MAX_MODULES)
        self.params = self.modules = 0

    def refuse(self, what: str) -> ConfigError:
        return ConfigError(f"model {self.label!r} is too large to build: {what}; a model built by name may have at "
                           f"most {self.max_params:,} parameters and {self.max_modules:,} modules "
                           f"(set {MAX_PARAMS_VARIABLE} or {MAX_MODULES_VARIABLE} to raise them)")

    def tensor(self, shape: tuple) -> None:
        elements = math.prod(shape)
        if elements > self.max_params:
            raise self.refuse(f"it asks for a tensor of shape {shape} ({elements:,} elements)")

    def parameter(self, module, name, parameter) -> None:
        self.params += parameter.numel()
        if self.params > self.max_params:
            raise self.refuse(f"it has over {self.params:,} parameters (reached at {type(module).__name__}.{name} "
                              f"of shape {tuple(parameter.shape)})")

    def module(self) -> None:
        self.modules += 1
        if self.modules > self.max_modules:
            raise self.refuse(f"it builds more than {self.max_modules:,} modules")


# The limits of the build running in each thread. torch's registration hooks are global and it iterates them
# unlocked, so adding and removing hooks per build could break another thread's build: they are added once.
_building = threading.local()
_hooks: list = []  # the two hooks' handles, once added
_hooks_lock = threading.Lock()


def _on_parameter(module, name, parameter) -> None:
    limits = getattr(_building, "limits", None)
    if limits is not None and parameter is not None:
        limits.parameter(module, name, parameter)


def _on_module(parent, name, child) -> None:
    limits = getattr(_building, "limits", None)
    if limits is not None and child is not None:
        limits.module()


def _add_hooks_once() -> None:
    with _hooks_lock:
        if not _hooks:
            _hooks.extend((module_hooks.register_module_parameter_registration_hook(_on_parameter),
                           module_hooks.register_module_module_registration_hook(_on_module)))


class _RefuseHugeTensors(TorchFunctionMode):
    """Checks the shape a tensor factory is asked for before it is called (a Python int past int64 included)."""

    def __init__(self, limits: _Limits):
        super().__init__()
        self.limits = limits

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _SIZED_FACTORIES:
            size = kwargs.get("size", args[0] if args and isinstance(args[0], (tuple, list)) else args)
            if all(isinstance(s, int) for s in size):
                self.limits.tensor(tuple(size))
        return func(*args, **kwargs)


@contextlib.contextmanager
def size_limits(label: str):
    """Modules built inside stay under the limits, or the build stops with a :class:`ConfigError` naming ``label``."""
    _add_hooks_once()
    limits, outer = _Limits(label), getattr(_building, "limits", None)
    _building.limits = limits
    try:
        with _RefuseHugeTensors(limits):
            yield
    finally:
        _building.limits = outer


def check_buildable(label: str, build: Callable[..., nn.Module], input_size: Optional[tuple] = None,
                    runs_at: Optional[tuple] = None, training: bool = False) -> None:
    """``build(conv)`` with dense convs on the meta device, under the size limits, then run at ``input_size``
    (where given; an error quotes ``runs_at``, a size it runs at; in training mode too, with ``training``):
    what cannot work is refused before it is built.

    Dense convs are the family's largest, need no setting and run on the meta device whatever a substitute's
    forward does; the random state is left as it was.
    """
    with torch.random.fork_rng(devices=[]), shape_only():
        with size_limits(label):
            network = build(get_substitute("conv").factory())
        if input_size is not None:
            check_runs_at(network, label, tuple(input_size), ",".join(map(str, runs_at)), training)


def check_runs_at(network: nn.Module, label: str, input_size: tuple, fits: str, training: bool = False) -> None:
    """One image of ``input_size`` through ``network`` (built on the meta device) in eval mode, and with
    ``training`` a batch of two in training mode (a training-only head); a shape that does not fit is a
    :class:`ConfigError` naming the model, the size and ``fits``, a size it runs at."""
    was_training = network.training
    try:
        with torch.no_grad():
            network.eval()(torch.zeros(1, *input_size, device="meta"))
            if training:  # two images: batch norm needs more than one value per channel
                network.train()(torch.zeros(2, *input_size, device="meta"))
    except ConfigError:
        raise
    except Exception as error:  # a shape mismatch inside forward: its first line says where
        first = (str(error).strip().splitlines() or [""])[0]
        raise ConfigError(f"model {label!r} does not run at input size {','.join(map(str, input_size))} "
                          f"({type(error).__name__}: {first}); it runs at {fits}") from None
    finally:
        network.train(was_training)


def sizes_near(input_size: tuple, multiple: int, square: bool = False) -> str:
    """Input sizes near ``input_size`` whose sides are multiples of ``multiple`` (equal, if ``square``), to quote
    in an error: ``3,28,28 or 3,32,32`` for ``3,30,30`` and 4."""
    channels, *sides = input_size

    def rounded(side, up):
        return max(multiple, (-(-side // multiple) if up else side // multiple) * multiple)

    if square:
        candidates = {(rounded(side, up),) * 2 for side in sides for up in (False, True)}
    else:
        candidates = {tuple(rounded(side, up) for side in sides) for up in (False, True)}
    return " or ".join(",".join(map(str, (channels, *c))) for c in sorted(candidates))
