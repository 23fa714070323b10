"""A conv factory that records what it builds: how a model's substitution points are found.

A model built with a :class:`RecordingFactory` in place of its factory names
its substitution points (the modules the factory built that ended up in the
model) and the arguments each was built from (the solver's sites).
"""

from __future__ import annotations

from typing import Dict

from torch import nn
from torch.nn.modules.utils import _pair

from ..errors import ConfigError
from ._registry import ConvFactory, has_linear_form


class RecordingFactory:
    """Builds convs with ``factory`` and linears with ``linear_factory.linear`` (default: ``factory``'s own),
    and keeps every module it built with the arguments it was built from.

    ``built`` maps each module to ``nn.Conv2d``'s arguments as pairs (string padding,
    ``'same'`` or ``'valid'``, kept as the model wrote it), with ``kind`` ``"conv"``; a
    linear is recorded as the 1×1 it is sized like, with ``kind`` ``"linear"``.
    """

    def __init__(self, factory, linear_factory=None):
        self.factory = factory
        self.linear_factory = factory if linear_factory is None else linear_factory
        self.built: Dict[nn.Module, dict] = {}

    def __call__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True):
        layer = self.factory(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                             dilation=dilation, bias=bias)
        self.built[layer] = dict(kind="conv", in_channels=in_channels, out_channels=out_channels, bias=bias,
                                 padding=padding if isinstance(padding, str) else _pair(padding),
                                 kernel_size=_pair(kernel_size), stride=_pair(stride), dilation=_pair(dilation))
        return layer

    def linear(self, in_features, out_features, bias=True):
        # A registered substitute without a linear form says so itself, naming those with one.
        if not isinstance(self.linear_factory, ConvFactory) and not has_linear_form(self.linear_factory):
            raise ConfigError(f"the conv factory {_label(self.linear_factory)} has no linear form (.linear), "
                              f"so it cannot build a linear substitution point")
        layer = self.linear_factory.linear(in_features, out_features, bias=bias)
        self.built[layer] = dict(kind="linear", in_channels=in_features, out_channels=out_features, bias=bias,
                                 kernel_size=(1, 1), stride=(1, 1), padding=(0, 0), dilation=(1, 1))
        return layer

    def points(self, model: nn.Module) -> tuple:
        """Qualified names, in ``named_modules`` order, of the built modules that ended up in ``model``."""
        return tuple(name for name, module in model.named_modules() if module in self.built)


def _label(factory) -> str:
    return repr(getattr(factory, "label", getattr(factory, "__qualname__", type(factory).__name__)))
