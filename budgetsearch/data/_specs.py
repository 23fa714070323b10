"""Data set specs (``cifar10:PATH``, ``cifar100:PATH``, ``digits``) and validation sizes, checked without loading
anything (a study file is validated by commands that never train)."""

from __future__ import annotations

from typing import Tuple

from ..errors import ConfigError
from ._cifar import CIFAR_LAYOUTS

SPEC_FORMS = ("cifar10:PATH", "cifar100:PATH", "digits")

# Held out of the training set for model selection, so the test set is only read
# at the end. 10 % is CIFAR's customary 5,000 of 50,000 images.
DEFAULT_VALIDATION_SIZE = 0.1


def check_validation_size(validation_size, name: str = "validation_size") -> None:
    """Raise ConfigError unless ``validation_size`` is a count (int >= 0) or a fraction (float in [0, 1))."""
    size = validation_size
    if (isinstance(size, bool) or not isinstance(size, (int, float))
            or (isinstance(size, float) and not 0.0 <= size < 1.0) or (isinstance(size, int) and size < 0)):
        raise ConfigError(f"{name} must be an int >= 0 (a count) or a float in [0, 1) (a fraction), "
                          f"but got {size!r}")


def parse_dataset_spec(spec: str) -> Tuple[str, str]:
    """``"cifar10:PATH"`` -> ``("cifar10", "PATH")``, ``"digits"`` -> ``("digits", "")``; anything else is refused."""
    forms = ", ".join(repr(form) for form in SPEC_FORMS)
    if not isinstance(spec, str):
        raise ConfigError(f"data set spec must be a string, one of {forms}, but got {spec!r}")
    name, _, path = spec.strip().partition(":")  # first colon only: a path may hold colons
    if name == "digits" and not path:
        return name, ""
    if name in CIFAR_LAYOUTS and path.strip():
        return name, path.strip()
    if name in CIFAR_LAYOUTS:
        raise ConfigError(f"data set spec {spec!r} needs the data folder after the colon, e.g. '{name}:data/"
                          f"{CIFAR_LAYOUTS[name].folder}'; accepted forms: {forms}")
    raise ConfigError(f"unknown data set spec {spec!r}; accepted forms: {forms}")
