"""Building blocks shared by the substitutes.

* :class:`ReconstructedModule` / :class:`ReconstructedConv`: a layer whose
  weight is computed from a few parameters (hash gather, tensor contraction,
  ACDC product). The reconstruction depends only on parameters, so at
  inference it is done once: :func:`reconstructed_once` caches every such
  weight, which is how counting keeps it out of the per-image mult-adds.
  Counting needs only the weight's shape: :func:`stand_in_reconstructions`
  gives zeros of it, so a count never runs the rebuild.
* :func:`depthwise_then`: the "separable substitution" of the original study, a
  depthwise k×k conv (only when k > 1) followed by a structured 1×1.
* Init helpers. The variance rule: on unit-variance input every substitute's
  output variance matches a dense conv of the same geometry under the He
  fan-out init the WideResNets use, ``Var(y) = 2·C_i/C_o``. Blocks reach it by
  keeping inner activations at unit variance (fan-in, gain 1) and putting the
  He gain in the last linear map.
"""

from __future__ import annotations

import contextlib
import math
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _pair

from ..errors import ConfigError

PointwiseFactory = Callable[..., nn.Module]


def dense_output_variance(in_channels: int, out_channels: int) -> float:
    """Output variance of a dense conv under He fan-out init, on unit-variance input."""
    return 2.0 * in_channels / out_channels


def check_geometry(in_channels, out_channels, kernel_size, stride, padding, dilation):
    """Validate and normalise Conv2d geometry; returns (kernel, stride, padding, dilation) as pairs.

    String padding is torch's: ``'valid'`` is no padding; ``'same'`` (stride 1 only, as in torch)
    stays ``'same'`` where it pads at all, so the convs that receive it pad exactly as
    ``nn.Conv2d`` does (the odd one of an odd total on the right and bottom), and is no
    padding where the kernel's dilated extent is 1.
    """
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive int, but got {value!r}")
    kernel, stride, dilation = _pair(kernel_size), _pair(stride), _pair(dilation)
    for name, pair in (("kernel_size", kernel), ("stride", stride), ("dilation", dilation)):
        if any(not isinstance(v, int) or v < 1 for v in pair):
            raise ConfigError(f"{name} must be int(s) >= 1, but got {pair!r}")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ConfigError(f"padding must be int(s) >= 0, 'same' or 'valid', but got {padding!r}")
        if padding == "same" and stride != (1, 1):
            raise ConfigError(f"padding='same' needs stride 1 (as in torch), but got stride={stride!r}")
        pads = padding == "same" and any(d * (k - 1) for d, k in zip(dilation, kernel))
        return kernel, stride, ("same" if pads else (0, 0)), dilation
    padding = _pair(padding)
    if any(not isinstance(v, int) or v < 0 for v in padding):
        raise ConfigError(f"padding must be int(s) >= 0, 'same' or 'valid', but got {padding!r}")
    return kernel, stride, padding, dilation


def keep_conv_attributes(module: nn.Module, in_channels, out_channels, kernel_size, stride, padding, dilation):
    """Give a conv substitute ``nn.Conv2d``'s geometry attributes, as the conv it replaces had them.

    Model code reads them (TF-style "same" padding computed from ``stride``,
    ``kernel_size`` and ``dilation`` in forward), so a substitute must answer as the conv would.
    """
    module.in_channels, module.out_channels = in_channels, out_channels
    module.kernel_size, module.stride, module.dilation = _pair(kernel_size), _pair(stride), _pair(dilation)
    module.padding = padding if isinstance(padding, str) else _pair(padding)
    module.groups, module.padding_mode = 1, "zeros"
    return module


def _full_precision(module: nn.Module):
    """Autocast switched off on the module's device while its tensors are rebuilt.

    Under bf16 autocast every product of a reconstruction chain would be rounded
    to bf16: ACDC's chain of 2n - 1 DCT products compounds to a 10 % relative weight error at
    n = 128 and c = 640, against 0.16 % for one rounding. Built in the parameters'
    precision, the result is cast once by the op that consumes it.
    """
    parameter = next(module.parameters(), None)
    device_type = None if parameter is None else parameter.device.type
    if device_type in ("cpu", "cuda") and torch.is_autocast_enabled(device_type):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()


class ReconstructedModule(nn.Module):
    """A module whose forward uses tensors computed from its parameters alone.

    Subclasses implement :meth:`reconstruct` (a tensor or a tuple of tensors) and
    call :meth:`reconstructed` in ``forward``; inside :func:`reconstructed_once`
    that returns a cached copy instead of recomputing it.
    """

    _cached: Optional[object] = None
    #: The attribute counting how often :meth:`reconstruct` repeats one identical step (ACDC: its
    #: ``factors``), for modules that do: the rebuild's cost is then affine in it, and counting copies
    #: from :meth:`with_rebuild_repeats` at 1 and 2 repeats gives every count exactly.
    rebuild_repeats: Optional[str] = None

    def reconstruct(self):
        raise NotImplementedError

    def with_rebuild_repeats(self, repeats: int) -> "ReconstructedModule":
        """A copy whose rebuild repeats its step ``repeats`` times; modules declaring ``rebuild_repeats`` define it."""
        raise NotImplementedError(f"{type(self).__name__} declares no repeated rebuild step")

    def reconstructed(self):
        if self._cached is not None:
            return self._cached
        with _full_precision(self):
            return self.reconstruct()

    def reconstructed_shapes(self) -> tuple:
        """Shapes of what :meth:`reconstruct` returns: at inference, all the forward computes with."""
        value = self.reconstruct()
        return tuple(tuple(v.shape) for v in value) if isinstance(value, tuple) else (tuple(value.shape),)

    def stand_in(self):
        """Zeros shaped like :meth:`reconstruct`'s result; subclasses that know the shapes skip the rebuild."""
        value = self.reconstruct()
        return tuple(torch.zeros_like(v) for v in value) if isinstance(value, tuple) else torch.zeros_like(value)


class ReconstructedConv(ReconstructedModule):
    """Conv2d whose full weight is rebuilt from parameters by :meth:`reconstruct_weight`."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=False):
        super().__init__()
        geometry = (in_channels, out_channels, kernel_size, stride, padding, dilation)
        check_geometry(*geometry)
        # String padding stays a string: F.conv2d pads it exactly as nn.Conv2d does.
        keep_conv_attributes(self, *geometry)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    @property
    def weight_shape(self) -> tuple:
        return (self.out_channels, self.in_channels, *self.kernel_size)

    def reconstruct_weight(self) -> torch.Tensor:
        raise NotImplementedError

    def calibrate_(self, parameter: torch.Tensor) -> None:
        """Scale ``parameter``, which the weight is linear in, so the weight's mean square is He fan-out's.

        Random low-rank products have a realised variance that swings widely from
        draw to draw; one deterministic rescale at construction pins it to
        2/(C_o·k_h·k_w), hence Var(y) = 2·C_i/C_o on unit input. On the meta device
        there are no numbers (meta is only used for counting), so nothing is done.
        """
        if parameter.is_meta:
            return
        target = 2.0 / (self.out_channels * self.kernel_size[0] * self.kernel_size[1])
        with torch.no_grad():
            parameter.mul_(torch.sqrt(target / self.reconstruct_weight().square().mean()))

    def reconstruct(self):
        return self.reconstruct_weight()

    def reconstructed_shapes(self) -> tuple:
        return (self.weight_shape,)

    def stand_in(self) -> torch.Tensor:
        return next(self.parameters()).new_zeros(self.weight_shape)

    def forward(self, x):
        return F.conv2d(x, self.reconstructed(), self.bias, self.stride, self.padding, self.dilation)

    def linear_maps(self) -> tuple:
        """A 1×1's weight as one ``(weight, bias)`` for ``F.linear`` (see :class:`PointwiseLinear`)."""
        return ((self.reconstructed().flatten(1), self.bias),)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}, bias={self.bias is not None}"
        )


def _detached(value):
    return tuple(v.detach() for v in value) if isinstance(value, tuple) else value.detach()


@contextlib.contextmanager
def _cached(model: nn.Module, tensors: Callable[[ReconstructedModule], object]):
    """Within the block, every :class:`ReconstructedModule` of ``model`` computes with ``tensors(layer)``."""
    layers = [m for m in model.modules() if isinstance(m, ReconstructedModule)]
    with torch.no_grad():
        for layer in layers:
            layer._cached = tensors(layer)
    try:
        yield model
    finally:
        for layer in layers:
            layer._cached = None


def reconstructed_once(model: nn.Module):
    """Within the block, every :class:`ReconstructedModule` uses tensors rebuilt once on entry.

    This is inference as deployed: a structured weight is a function of the
    parameters only, so it is materialised once, not per image. Gradients do not
    flow to the parameters inside the block.
    """
    return _cached(model, lambda layer: _detached(layer.reconstruct()))


def stand_in_reconstructions(model: nn.Module):
    """Within the block, every :class:`ReconstructedModule` computes with zeros of its rebuilt tensors' shapes.

    A count traces operators and shapes, never values, so this counts exactly as
    :func:`reconstructed_once` does, without rebuilding anything (an ACDC product
    of n factors on c channels is 2n − 1 DCT products, each two c/2×c/2 matmuls for even c).
    """
    return _cached(model, lambda layer: layer.stand_in())


class DepthwiseSeparable(nn.Module):
    """Depthwise k×k conv (absent when k = 1) followed by a 1×1 ``pointwise`` module."""

    def __init__(self, depthwise: Optional[nn.Conv2d], pointwise: nn.Module):
        super().__init__()
        self.depthwise = depthwise
        self.pointwise = pointwise

    def forward(self, x):
        if self.depthwise is not None:
            x = self.depthwise(x)
        return self.pointwise(x)


def depthwise_conv(channels, kernel_size, stride, padding, dilation) -> nn.Conv2d:
    """Depthwise conv initialised with gain 1 (fan-in), so it keeps unit variance."""
    conv = nn.Conv2d(channels, channels, kernel_size, stride, padding, dilation, groups=channels, bias=False)
    nn.init.normal_(conv.weight, std=1.0 / math.sqrt(conv.weight[0].numel()))
    return conv


def depthwise_then(pointwise: PointwiseFactory, in_channels, out_channels, kernel_size, stride=1, padding=0,
                   dilation=1, bias=False) -> DepthwiseSeparable:
    """For k > 1 a depthwise conv carries stride, padding and dilation and the
    1×1 runs at stride 1; for k = 1 the 1×1 carries them itself.

    ``pointwise(in_channels, out_channels, stride=, padding=, dilation=, bias=)`` builds the 1×1
    (a layer class with its size fixed by ``functools.partial``, say).
    """
    geometry = (in_channels, out_channels, kernel_size, stride, padding, dilation)
    kernel, stride, padding, dilation = check_geometry(*geometry)
    if kernel != (1, 1):
        depthwise = depthwise_conv(in_channels, kernel, stride, padding, dilation)
        stride, padding, dilation = (1, 1), (0, 0), (1, 1)
    else:
        depthwise = None
    layer = DepthwiseSeparable(depthwise, pointwise(in_channels, out_channels, stride=stride, padding=padding,
                                                    dilation=dilation, bias=bias))
    return keep_conv_attributes(layer, *geometry)


def depthwise_then_params(in_channels, out_channels, kernel_size, bias, pointwise_weights: int) -> int:
    """Trainable parameters of :func:`depthwise_then` whose 1×1 holds ``pointwise_weights`` besides its bias:
    the depthwise conv adds C_i·k_h·k_w when k > 1, a bias C_o."""
    kernel = _pair(kernel_size)
    depthwise = 0 if kernel == (1, 1) else in_channels * kernel[0] * kernel[1]
    return depthwise + pointwise_weights + (out_channels if bias else 0)


class ChannelsLastPointwise(nn.Module):
    """A 1×1 conv computed by ``mixing``, a module that maps the last dimension (``(..., C_i) -> (..., C_o)``).

    Structured linear maps (Monarch, butterfly, Kronecker products) are written for
    features last; this moves the channels last, mixes them and moves them back.
    Zero padding and the stride of a 1×1 conv are a pad and a subsampling of the input.
    """

    def __init__(self, mixing: nn.Module, in_channels: int, out_channels: int, stride=1, padding=0, dilation=1):
        super().__init__()
        self.mixing = mixing
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)

    def forward(self, x):
        if any(self.padding):
            x = F.pad(x, (self.padding[1], self.padding[1], self.padding[0], self.padding[0]))
        if self.stride != (1, 1):
            x = x[:, :, ::self.stride[0], ::self.stride[1]]
        # permute, not movedim: the counting rules know permute as data movement.
        return self.mixing(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def channels_last_pointwise(linear: Callable[..., nn.Module]) -> PointwiseFactory:
    """A ``depthwise_then`` pointwise factory from ``linear(in_features, out_features, bias=)``."""
    def pointwise(in_channels, out_channels, stride=1, padding=0, dilation=1, bias=False):
        return ChannelsLastPointwise(linear(in_channels, out_channels, bias=bias), in_channels, out_channels,
                                     stride, padding, dilation)
    return pointwise


class PointwiseLinear(nn.Module):
    """A substitute's 1×1 in the place of ``nn.Linear``, applied to the last dimension of ``(..., in_features)``.

    A Linear(i, o) is a 1×1 conv(i, o) on features laid out last, so it gets exactly that
    1×1 (the same parameters, init and weight-decay type) without a depthwise part.
    The 1×1 lists its maps through ``linear_maps()`` (``(weight, bias)`` pairs, applied in
    order with ``F.linear``), so a rebuilt weight is rebuilt once under :func:`reconstructed_once`.
    """

    def __init__(self, pointwise: nn.Module, in_features: int, out_features: int):
        super().__init__()
        self.pointwise = pointwise
        self.in_features, self.out_features = in_features, out_features

    def forward(self, x):
        for weight, bias in self.pointwise.linear_maps():
            x = F.linear(x, weight, bias)
        return x

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


def pointwise_linear(pointwise: PointwiseFactory, in_features, out_features, bias=True) -> PointwiseLinear:
    """The linear form of a 1×1 factory ``pointwise(in_channels, out_channels, bias=)`` (as for :func:`depthwise_then`)."""
    check_geometry(in_features, out_features, 1, 1, 0, 1)
    return PointwiseLinear(pointwise(in_features, out_features, bias=bias), in_features, out_features)


def he_fan_out_(conv: nn.Conv2d) -> nn.Conv2d:
    """The WideResNet init: N(0, 2/(k_h·k_w·out_channels)); bias zero."""
    fan_out = conv.weight.shape[2] * conv.weight.shape[3] * conv.out_channels
    nn.init.normal_(conv.weight, std=math.sqrt(2.0 / fan_out))
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv
