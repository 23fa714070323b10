"""Options that several commands share, and the argparse types that check a value where it is typed.

A value refused here is named by its flag (argparse prefixes ``argument --flag:``);
the library checks the same settings again by their own names for Python callers.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable, Optional

from budgetsearch.errors import ConfigError

MAX_CHANNELS, MAX_SIDE = 64, 1024  # an image counted with a forward pass: beyond this it cannot be allocated
MAX_CLASSES = 100_000
MAX_SHOWN = 100  # characters of a refused value quoted back: a pasted file must not fill the terminal


def shown(text: str) -> str:
    return repr(str(text)[:MAX_SHOWN])


def whole_number(low: int, high: Optional[int] = None) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high] (no upper bound when ``high`` is None)."""
    allowed = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high:,}]"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {allowed}, but got {shown(text)}")
        return value

    return parse


def library_value(parse: Callable[[str], object]) -> Callable[[str], object]:
    """An argparse type: ``parse(text)`` of the library, whose error is told under the option's flag."""
    def checked(text: str):
        try:
            return parse(text)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return checked


def parse_input_size(text: str) -> tuple:
    try:
        size = tuple(int(part) for part in text.split(","))
    except ValueError:
        size = ()
    if len(size) != 3 or not (1 <= size[0] <= MAX_CHANNELS and all(1 <= side <= MAX_SIDE for side in size[1:])):
        raise argparse.ArgumentTypeError(f"must be C,H,W (e.g. 3,32,32) with C in [1, {MAX_CHANNELS}] and H, W in "
                                         f"[1, {MAX_SIDE}], but got {shown(text)}")
    return size


def output_folder(path, flag: str) -> Path:
    """The folder ``path`` given with ``flag``, created if missing; a one-line error if it cannot be one."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"{flag} {str(path)!r} cannot be used as an output folder: "
                          f"{error.strerror or error}") from None
    return folder


def parse_model_option(text: str) -> tuple:
    """``KEY=VALUE`` with VALUE read as a TOML value (``width=64``, ``act='gelu'``, ``dims=[2, 2]``)."""
    import tomllib

    key, equals, value = text.partition("=")
    if not equals or not key.strip().isidentifier():
        raise ConfigError(f"--model-option must be KEY=VALUE (e.g. width=64), but got {text!r}")
    try:
        return key.strip(), tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        raise ConfigError(f"--model-option {key.strip()}: the value must be a TOML value (a number, true/false, "
                          f"'quoted text', [a, list]), but got {value!r}") from None


def add_model_selection(parser: argparse.ArgumentParser) -> None:
    """How any model is built and which of its layers are substituted."""
    parser.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE",
                        help="keyword argument for a package.module:callable model (VALUE read as TOML; repeatable)")
    parser.add_argument("--select", default=None, help="layers to substitute: spatial, pointwise, convs, linear or all "
                        "(default: a registered family's own points; spatial for other models)")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="keep the modules whose qualified names match GLOB dense (repeatable)")


def model_selection(args) -> dict:
    """The model's keyword arguments and the selection of its layers, as the solver and counter take them.

    The model is resolved and its options checked against its signature here, before any work starts.
    """
    from budgetsearch.models import check_model_options

    options = dict(parse_model_option(text) for text in args.model_option)
    check_model_options(args.model, options)
    return {"options": options, "select": args.select, "exclude": tuple(args.exclude)}


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="wrn-28-10",
                        help="registered model name or package.module:callable (default: wrn-28-10)")
    parser.add_argument("--input-size", type=parse_input_size, default=None,
                        help="C,H,W (default: the model's; required for a model that is not registered)")
    parser.add_argument("--num-classes", type=whole_number(2, MAX_CLASSES), default=None,
                        help="classes of the head (default: the model's)")
    add_model_selection(parser)


def add_runs_dir(parser: argparse.ArgumentParser, holding: str) -> None:
    """``--runs-dir``: the folder that holds each study's own folder (``<runs-dir>/<study>/``) with ``holding``."""
    parser.add_argument("--runs-dir", default="runs", help=f"folder of {holding} (default: runs)")


def add_compat_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--compat", default=None, metavar="MODE",
                        help="build and count with another code's conventions: deficient-efficient")


COUNTERS = ("fvcore", "dispatch")  # budgetsearch.counting.COUNTERS, named here so that --help need not import torch


def add_counter_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--counter", choices=COUNTERS, default=None,
                        help="how mult-adds are counted: fvcore (default; a torch.jit trace) or dispatch (every "
                             "operator torch dispatches); both apply budgetsearch's rules and agree")
