"""Put a substitute into any ``nn.Module`` in place of the ``nn.Conv2d`` layers a predicate selects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from ..errors import ConfigError
from ..substitutes import as_factory


def spatial_convs(conv: nn.Conv2d) -> bool:
    """The default selection: ungrouped convs with a kernel larger than 1×1."""
    return conv.groups == 1 and conv.kernel_size != (1, 1)


@dataclass(frozen=True)
class Replacement:
    name: str
    in_channels: int
    out_channels: int
    kernel_size: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    bias: bool
    new_type: str


@dataclass(frozen=True)
class SubstitutionReport:
    substitute: str
    replaced: tuple  # of Replacement

    def __len__(self):
        return len(self.replaced)

    def to_records(self) -> list[dict]:
        return [r.__dict__ | {"substitute": self.substitute} for r in self.replaced]


def substitute(model: nn.Module, factory, setting=None, select: Callable[[nn.Conv2d], bool] = spatial_convs) -> SubstitutionReport:
    """Replace, in place, every ``nn.Conv2d`` of ``model`` for which ``select(conv)`` is true.

    The new module gets the old one's full geometry (every element of stride,
    padding and dilation, and whether it has a bias) and its device and dtype.
    Grouped convs cannot be copied faithfully by a substitute, so selecting one is an error.
    """
    build = as_factory(factory, setting)
    label = getattr(build, "label", getattr(factory, "__name__", repr(factory)))
    targets = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d) and select(m)]
    replaced = []
    for name, conv in targets:
        if conv.groups != 1 or isinstance(conv.padding, str) or conv.padding_mode != "zeros":
            raise ConfigError(
                f"cannot substitute {name!r}: only ungrouped, zero-padded convs with numeric padding are supported, "
                f"but got groups={conv.groups}, padding={conv.padding!r}, padding_mode={conv.padding_mode!r}"
            )
        has_bias = conv.bias is not None
        new = build(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride, padding=conv.padding,
                    dilation=conv.dilation, bias=has_bias)
        new.to(device=conv.weight.device, dtype=conv.weight.dtype)
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, new)
        replaced.append(Replacement(name, conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                                    conv.padding, conv.dilation, has_bias, type(new).__name__))
    return SubstitutionReport(label, tuple(replaced))
