"""Count a registered model by name, built for counting: real modules of the right shapes, no initialisation.

A count reads shapes, never values (the rebuilt weights are stood in for by
zeros, see ``count``), so the network is built on the meta device, where
initialisation is skipped (:func:`~budgetsearch.substitutes.shape_only`; ACDC's
calibration alone rebuilds its whole product), then given zero-filled CPU
storage to trace. Zeros keep every index table in range and every value finite.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..models import create_model, default_input_size, input_options
from ..substitutes import shape_only
from ._count import Count, count


def zero_filled(module: nn.Module) -> nn.Module:
    """``module`` (built on the meta device) moved to the CPU with every parameter and buffer zero."""
    module.to_empty(device="cpu")
    with torch.no_grad():
        for tensor in (*module.parameters(), *module.buffers()):
            tensor.zero_()
    return module


def count_model(name: str, substitute="conv", setting=None, *, num_classes: Optional[int] = None,
                input_size: Optional[tuple] = None, compat: Optional[str] = None) -> Count:
    """``count(create_model(name, ...), input_size, compat=compat)``, without building real weights."""
    size = tuple(input_size or default_input_size(name))
    with shape_only():
        model = create_model(name, num_classes=num_classes, substitute=substitute, setting=setting, compat=compat,
                             **input_options(name, size))
    return count(zero_filled(model), size, compat=compat)
