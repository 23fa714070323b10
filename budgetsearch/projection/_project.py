"""Project a whole dense model onto its substituted twin, substitution point by point."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..errors import ConfigError
from ..models import ModelCapabilities
from ._layer import METHODS, project_layer
from ._report import ProjectionReport

# How many mismatched keys an error lists of each kind.
_LISTED = 5


def _points(model: nn.Module) -> tuple:
    points = model.substitution_points if isinstance(model, ModelCapabilities) else None
    if not points:
        raise ConfigError("the substituted model records no substitution points; build it with "
                          "budgetsearch.models.create_model(..., substitute=NAME, setting=...)")
    return points


def _inside(key: str, points: tuple) -> bool:
    return any(key.startswith(point + ".") for point in points)


def _copy_shared(dense: nn.Module, substituted: nn.Module, points: tuple) -> None:
    """Everything outside the substitution points (stem, norms, classifier) is the dense model's, exactly."""
    theirs = {k: v for k, v in dense.state_dict().items() if not _inside(k, points)}
    ours = {k: v for k, v in substituted.state_dict().items() if not _inside(k, points)}
    missing, unexpected = sorted(ours.keys() - theirs.keys()), sorted(theirs.keys() - ours.keys())
    misshaped = [f"{k} {tuple(theirs[k].shape)} for {tuple(v.shape)}" for k, v in ours.items()
                 if k in theirs and theirs[k].shape != v.shape]
    if missing or unexpected or misshaped:
        found = [f"{label}: {', '.join(keys[:_LISTED])}" for label, keys in
                 (("not in the dense model", missing), ("only in the dense model", unexpected),
                  ("shaped differently", misshaped)) if keys]
        raise ConfigError(f"the dense and substituted models differ outside the substitution points "
                          f"({'; '.join(found)})")
    with torch.no_grad():
        for key, value in ours.items():
            value.copy_(theirs[key])


def _layer_inputs(dense: nn.Module, points: tuple, calibration: torch.Tensor) -> dict:
    """Each substitution point's input when the dense model (in eval mode) runs the calibration batch."""
    if not torch.isfinite(calibration).all():
        raise ConfigError("the calibration batch holds NaN or infinite values")
    inputs, modules = {}, dict(dense.named_modules())
    handles = [modules[name].register_forward_pre_hook(
        lambda module, args, name=name: inputs.__setitem__(name, args[0].detach())) for name in points]
    training = dense.training
    try:
        dense.eval()
        with torch.no_grad():
            dense(calibration)
    finally:
        dense.train(training)
        for handle in handles:
            handle.remove()
    return inputs


def project(dense_model: nn.Module, substituted_model: nn.Module, method: str = "closed",
            calibration: Optional[torch.Tensor] = None, seed: int = 0, steps: int = 300) -> ProjectionReport:
    """Write into ``substituted_model`` the structured weights closest to ``dense_model``'s; a report of the errors.

    ``substituted_model`` is built by ``create_model(NAME, substitute=..., setting=...)``
    and ``dense_model`` by ``create_model(NAME, substitute="conv")`` (then trained or
    loaded); the parameters and buffers outside the substitution points are copied as they are.

    ``method``:
      * ``"closed"``: each family's closed form (see :mod:`budgetsearch.projection`);
        a family without one is a ConfigError naming it.
      * ``"whitened"``: data-aware low rank (SVD-LLM) for the low-rank family, on
        ``calibration``; the closed form for the others (recorded per layer).
      * ``"fit"``: the closed form where there is one, refined by ``steps`` Adam steps
        on the layer's outputs on ``calibration`` (on its effective weight without one).

    ``calibration`` is a batch of the dense model's inputs; each layer is projected and
    measured on what the dense model feeds it. ``seed`` fixes CP's start where its rank
    exceeds what the SVD gives.
    """
    if method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, but got method={method!r}")
    if method == "whitened" and calibration is None:
        raise ConfigError("method='whitened' projects on the layers' inputs, so it needs a calibration batch")
    points = _points(substituted_model)
    dense_modules, substituted_modules = dict(dense_model.named_modules()), dict(substituted_model.named_modules())
    absent = [name for name in points if name not in dense_modules]
    if absent:
        raise ConfigError(f"the dense model has no layer at substitution points {', '.join(absent[:_LISTED])}")
    _copy_shared(dense_model, substituted_model, points)
    inputs = {} if calibration is None else _layer_inputs(dense_model, points, calibration)
    layers = tuple(project_layer(name, dense_modules[name], substituted_modules[name], method, inputs.get(name),
                                 seed, steps) for name in points)
    return ProjectionReport(method, layers)
