"""Project one dense layer onto the substitute built in its place.

A substitute is a structured part (a 1×1 family, a hashed k×k, a dense conv),
possibly behind a depthwise k×k (:class:`DepthwiseSeparable`), a linear wrapper
(:class:`PointwiseLinear`) or a channels-last wrapper. Behind a depthwise k×k the
dense weight is first split into its closest depthwise-separable pair
(:func:`depthwise_split`, optimal for ``separable``), then the 1×1 factor goes
through its family's projection: a two-step approximation for every other family,
whose error is the split's plus the family's, exactly (the kernels have unit norm).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..substitutes import DepthwiseSeparable, ReconstructedConv, get_substitute, list_substitutes
from ..substitutes._blocks import ChannelsLastPointwise, PointwiseLinear
from ..substitutes._features_last import FeaturesLastLinear
from ..substitutes.generic import LowRankPointwise
from ..substitutes.lowrank import TiedLowRank
from ..substitutes.shuffle import LinearShuffle
from ._families import DATA_AWARE, closed_form, has_closed_form
from ._fit import fit
from ._linalg import depthwise_split
from ._methods import METHODS
from ._probe import effective_weight, geometry_of
from ._report import LayerProjection


class NoClosedFormError(ConfigError):
    """The structured part has no closed-form projection (``method="fit"`` projects every family)."""


def check_closed_forms(substitutes, method: str) -> None:
    """Refuse ``method="closed"`` for registered substitutes that have no closed form, before anything is built.

    Told once, up front: otherwise each of their layers (or each trial of a study) would fail alike.
    """
    if method != "closed":
        return
    missing = [name for name in substitutes
               if not all(has_closed_form(kind) for kind in get_substitute(name).compressed_types)]
    if missing:
        raise NoClosedFormError(f"{', '.join(missing)} {'has' if len(missing) == 1 else 'have'} no closed-form "
                                f"projection; projection 'fit' fits every family to the dense layers by least "
                                f"squares (from its closed form where there is one)")


def structured_part(layer: nn.Module) -> nn.Module:
    """The module that holds the 1×1 (or whole) structured weight, behind any wrapper."""
    while isinstance(layer, (DepthwiseSeparable, PointwiseLinear, ChannelsLastPointwise)):
        layer = layer.mixing if isinstance(layer, ChannelsLastPointwise) else layer.pointwise
    return layer


def output_bias(layer: nn.Module) -> Optional[torch.Tensor]:
    """The bias every family adds last, at the output; None where there is none (or the type is unknown)."""
    part = structured_part(layer)
    if isinstance(part, (LowRankPointwise, LinearShuffle)):
        return part.expand.bias
    if isinstance(part, (nn.Conv2d, nn.Linear, ReconstructedConv, TiedLowRank, FeaturesLastLinear)):
        return part.bias
    return None


def family_label(part: nn.Module) -> str:
    names = [name for name in list_substitutes() if isinstance(part, get_substitute(name).compressed_types or ())]
    kind = type(part).__name__
    return f"{kind} (substitute {' / '.join(map(repr, names))})" if names else kind


def _pointwise_columns(layer: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """What a low-rank 1×1 multiplies, as (in_channels, samples): after the depthwise k×k, at the 1×1's stride."""
    if isinstance(layer, PointwiseLinear):
        return inputs.reshape(-1, layer.in_features).t()
    if layer.depthwise is not None:
        inputs = layer.depthwise(inputs)
    contract = layer.pointwise.contract
    columns = F.unfold(inputs, 1, dilation=contract.dilation, padding=contract.padding, stride=contract.stride)
    return columns.transpose(0, 1).reshape(columns.shape[1], -1)


def project_closed(dense: nn.Module, layer: nn.Module, inputs: Optional[torch.Tensor] = None,
                   generator: Optional[torch.Generator] = None, for_fit: bool = False) -> torch.Tensor:
    """Write the closed-form projection of ``dense`` into ``layer``; the weight it computes (float64, dense's shape).

    With ``inputs`` (the dense layer's input batch), a data-aware part (low rank) is
    projected on its outputs (SVD-LLM); without, every part is closest in weight.
    ``for_fit``: a family without a closed form but with a start of its own for the fit
    (BLAST's factorisation) is written from that start instead of refused.
    """
    geometry = geometry_of(dense)
    weight = dense.weight.detach().double()
    part = structured_part(layer)
    split = isinstance(layer, DepthwiseSeparable) and layer.depthwise is not None
    if split:  # written even when the 1×1 has no closed form: the fit then starts from it
        pointwise_target, kernels = depthwise_split(weight)
        with torch.no_grad():
            layer.depthwise.weight.copy_(kernels)
    else:
        # A 1×1 family takes the (C_o, C_i) matrix; a whole-layer part (dense, hashed k×k) the weight itself.
        pointwise_target = weight if part is layer and geometry.kernel not in ((), (1, 1)) else \
            weight.reshape(geometry.out_channels, geometry.in_channels)
    writer = closed_form(part, for_fit)
    if writer is None:
        raise NoClosedFormError(f"{family_label(part)} has no closed-form projection; method='fit' fits it to the "
                                f"dense layer by least squares")
    columns = None
    if inputs is not None and isinstance(part, DATA_AWARE):
        with torch.no_grad():
            columns = _pointwise_columns(layer, inputs).double()
    approximation = writer(part, pointwise_target, columns=columns, generator=generator)
    if split:
        return approximation[:, :, None, None] * kernels[:, 0][None]
    return approximation.reshape(geometry.weight_shape)


def _copy_bias(dense: nn.Module, layer: nn.Module) -> None:
    bias = output_bias(layer)
    if dense.bias is not None and bias is None:
        raise ConfigError(f"the dense layer has a bias but its substitute {family_label(structured_part(layer))} "
                          f"has none to carry it; build the substitute with bias=True")
    if bias is not None:
        with torch.no_grad():
            bias.copy_(dense.bias if dense.bias is not None else torch.zeros_like(bias))


def _relative(error: torch.Tensor, reference: torch.Tensor) -> tuple:
    norm = reference.norm().item()
    return error.norm().item() / max(norm, torch.finfo(torch.float32).tiny), norm


def project_layer(name: str, dense: nn.Module, layer: nn.Module, method: str = "closed",
                  inputs: Optional[torch.Tensor] = None, seed: int = 0, steps: int = 300) -> LayerProjection:
    """Project ``dense`` into ``layer`` by ``method`` and measure the result (see :func:`~.project`)."""
    if method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, but got method={method!r}")
    geometry = geometry_of(dense)
    generator = torch.Generator().manual_seed(seed)
    part = structured_part(layer)
    whitened = method == "whitened" and isinstance(part, DATA_AWARE)
    used = "whitened" if whitened else "closed"
    try:
        project_closed(dense, layer, inputs if whitened else None, generator, for_fit=method == "fit")
    except NoClosedFormError as error:
        if method != "fit":
            raise NoClosedFormError(f"layer {name!r}: {error}") from None
    _copy_bias(dense, layer)
    if method == "fit":
        fit(layer, dense, geometry, inputs, steps)
        used = "fit"
    if not all(torch.isfinite(p).all() for p in layer.parameters()):
        raise ConfigError(f"projecting layer {name!r} onto {family_label(part)} by {used!r} gave non-finite "
                          f"weights; the dense weights or calibration inputs are likely not finite")
    with torch.no_grad():
        weight_error, weight_norm = _relative(effective_weight(layer, geometry) - dense.weight, dense.weight)
        output_error = output_norm = None
        if inputs is not None:
            reference = dense(inputs)
            output_error, output_norm = _relative(layer(inputs) - reference, reference)
    return LayerProjection(name, family_label(part), used, weight_error, weight_norm, output_error, output_norm)
