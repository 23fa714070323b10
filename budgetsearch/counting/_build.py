"""Build a model for counting: for a registered family, real modules of the right shapes, no initialisation.

A count reads shapes, never values (the rebuilt weights are stood in for by
zeros, see ``count``), so the network is built on the meta device, where
initialisation is skipped (:func:`~budgetsearch.substitutes.shape_only`; ACDC's
calibration alone rebuilds its whole product), then given zero-filled CPU
storage to trace. Zeros keep every index table in range and every value finite.
Any other model (a reference, a callable, a module) is the user's code, which
the meta device may not run, so it is built for real.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..models import ModelSpec, check_forward, create_model, input_options, is_registered, model_defaults, model_label
from ..substitutes import shape_only
from ._count import Count, count


def zero_filled(module: nn.Module) -> nn.Module:
    """``module`` (built on the meta device) moved to the CPU with every parameter and buffer zero."""
    module.to_empty(device="cpu")
    with torch.no_grad():
        for tensor in (*module.parameters(), *module.buffers()):
            tensor.zero_()
    return module


def build_for_counting(model: ModelSpec, substitute="conv", setting=None, *, num_classes: Optional[int] = None,
                       input_size: tuple, compat: Optional[str] = None, select=None, exclude=(),
                       **options) -> nn.Module:
    """``create_model(model, ...)`` as a count sees it (see the module docstring)."""
    build = dict(num_classes=num_classes, substitute=substitute, setting=setting, compat=compat, select=select,
                 exclude=exclude, input_size=input_size, **{**input_options(model, input_size), **options})
    if not is_registered(model):
        network = create_model(model, **build)
        check_forward(network, model_label(model), input_size)  # the user's forward fails with one line naming it
        return network
    with shape_only():
        return zero_filled(create_model(model, **build))


def count_model(model: ModelSpec, substitute="conv", setting=None, *, num_classes: Optional[int] = None,
                input_size: Optional[tuple] = None, compat: Optional[str] = None, select=None, exclude=(),
                counter: Optional[str] = None, **options) -> Count:
    """``count(create_model(model, ...), input_size, compat=compat, counter=counter)``, without building real weights
    where it can."""
    size = tuple(input_size or model_defaults(model)[1])
    network = build_for_counting(model, substitute, setting, num_classes=num_classes, input_size=size, compat=compat,
                                 select=select, exclude=exclude, **options)
    return count(network, size, compat=compat, counter=counter)
