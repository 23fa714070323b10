"""Project a whole dense model onto its substituted twin, substitution point by point."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..errors import ConfigError
from ..models import ModelCapabilities
from ._layer import project_layer
from ._methods import METHODS
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


def _reestimate_batch_norms(model: nn.Module, calibration: torch.Tensor) -> int:
    """Batch norms' running statistics recomputed on what the projected model computes from ``calibration``.

    The statistics copied from the dense model describe the dense layers' outputs; a projected layer's
    differ (a conv that loses most of its norm in its depthwise split gives much smaller ones), and stale
    statistics then scale every later activation wrongly: a projected WRN predicted one class until
    they were recomputed. Every other module stays in eval mode (no dropout while measuring). The number of
    batch norms recomputed.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        return 0
    training, momenta = model.training, [norm.momentum for norm in norms]
    try:
        model.eval()
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # a cumulative average: the batch's own statistics
            norm.train()
        with torch.no_grad():
            model(calibration)
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
        model.train(training)
    return len(norms)


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
    measured on what the dense model feeds it, and then, unless every layer was copied
    exactly, the substituted model's batch norms' running statistics are recomputed on
    it (the dense model's describe the dense layers' outputs, not the projected ones').
    ``seed`` fixes CP's start where its rank
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
    # Exact copies (every point dense) keep the dense statistics, which are then this network's exactly.
    changed = any(layer.weight_error > 0 for layer in layers)
    norms = _reestimate_batch_norms(substituted_model, calibration) if calibration is not None and changed else 0
    return ProjectionReport(method, layers, norms)
