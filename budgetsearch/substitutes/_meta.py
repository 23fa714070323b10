"""Build layers for their shapes only: on the meta device, with initialisation skipped.

A meta tensor has a shape and no values, so filling it (``nn.init.normal_``
and friends) does nothing but cost the meta kernels' Python dispatch, which
dominates a small layer's construction. Under :func:`shape_only` those calls
return their tensor untouched, so the solver can build thousands of probe
layers to read their parameter counts, and ``count`` can build a whole network
without its initialisation (ACDC's calibration rebuilds its product).
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

_FILLS = frozenset({
    nn.init.normal_, nn.init.uniform_, nn.init.trunc_normal_, nn.init.constant_, nn.init.zeros_, nn.init.ones_,
    nn.init.kaiming_normal_, nn.init.kaiming_uniform_, nn.init.xavier_normal_, nn.init.xavier_uniform_,
    nn.init.orthogonal_, torch.Tensor.normal_, torch.Tensor.uniform_, torch.Tensor.zero_, torch.Tensor.fill_,
})


class _SkipFillsOnMeta(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _FILLS:
            tensor = args[0] if args else kwargs.get("tensor", kwargs.get("self"))
            if isinstance(tensor, torch.Tensor) and tensor.is_meta:
                return tensor
        return func(*args, **kwargs)


@contextlib.contextmanager
def shape_only():
    """Modules built inside have meta parameters of the right shapes and no initialisation work."""
    with torch.device("meta"), _SkipFillsOnMeta():
        yield
