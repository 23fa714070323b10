"""Where a trial's weights start: at random, loaded from a file, or projected from a trained dense model.

``init="projected"`` builds the dense network (every substitution point dense,
the rest as the trial's), loads the trained weights into it and writes into the
trial's network the closest structured weights at its setting
(:func:`budgetsearch.projection.project`), on a calibration batch of training
images chosen by the trial's seed. The dense network stays in memory: it is the
default teacher of the fine-tuning.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from ..data import Dataset, normalize
from ..errors import ConfigError, WeightsError
from ..models import load_weights
from ..projection import project
from ._architecture import Architecture
from ._config import PROJECTED_DISTILLATION, DistillConfig, TrainConfig

logger = logging.getLogger(__name__)


@dataclass
class Start:
    """How the trial's network was initialised; ``dense`` is the projected trial's dense original."""

    init: str
    weights: Optional[str] = None
    left_at_init: list = dataclasses.field(default_factory=list)  # a partial load's parameters and buffers
    projection: Optional[dict] = None  # ProjectionReport.to_dict()
    dense: Optional[nn.Module] = None
    dense_architecture: Optional[Architecture] = None

    def record(self) -> dict:
        return {"init": self.init, "weights": self.weights, "left_at_init": list(self.left_at_init)}


def calibration_batch(data: Dataset, size: int, seed: int) -> torch.Tensor:
    """``size`` training images (all, if fewer), chosen by ``seed`` and normalised as the network sees them
    at evaluation (no augmentation): what the projection measures and fits each layer's outputs on."""
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(len(data.train_images), generator=generator)[:size]
    return normalize(data.train_images[chosen], data.mean, data.std)


def dense_architecture(architecture: Architecture) -> Architecture:
    """The trial's network with every substitution point dense: what projected weights are trained as."""
    return dataclasses.replace(architecture, substitute="conv", setting=None)


def _check_finite(model: nn.Module, path) -> None:
    bad = [name for name, tensor in model.state_dict().items() if tensor.is_floating_point()
           and not torch.isfinite(tensor).all()]
    if bad:
        raise WeightsError(f"the weights in {path} hold NaN or infinite values (in {', '.join(bad[:5])}); "
                           f"a projection of them would diverge")


def initialise(network: nn.Module, architecture: Architecture, config: TrainConfig, data: Dataset) -> Start:
    """Give ``network`` (just built from ``config.seed``) the weights ``config.init`` asks for."""
    if config.init == "scratch":
        return Start("scratch")
    path = str(config.weights)
    if config.init == "loaded":
        left = load_weights(network, config.weights, config.weights_strict)
        _check_finite(network, path)
        return Start("loaded", path, left)
    dense_arch = dense_architecture(architecture)
    dense = dense_arch.build(config.seed)
    left = load_weights(dense, config.weights, config.weights_strict)
    _check_finite(dense, path)
    calibration = calibration_batch(data, config.calibration_images, config.seed)
    try:
        report = project(dense, network, config.projection, calibration, seed=config.seed)
    except torch.linalg.LinAlgError as error:
        raise ConfigError(f"projecting {path} onto {architecture.label()} by {config.projection!r} did not "
                          f"converge: {str(error).splitlines()[0]}") from None
    logger.info("%s projected from %s: weight error %.4f, output error %s", architecture.label(), path,
                report.weight_error, report.output_error)
    return Start("projected", path, left, report.to_dict(), dense.eval(), dense_arch)


def default_distillation(config: TrainConfig) -> TrainConfig:
    """A projected trial distils from its dense original unless ``distill`` is given (and not under label
    smoothing, which distillation replaces): knowledge distillation with Hinton et al.'s α = 0.9 at the default
    temperature, on every network. Not attention transfer, even where the network gives attention maps: at the
    original's β = 1e3 its first steps undo a projected WRN (digits, hashed at 0.5x: 79.9 % right after
    projection, 37.1 % after an epoch with it, 90.9 % with KD)."""
    if config.init != "projected" or config.distill is not None or config.label_smoothing:
        return config
    return dataclasses.replace(config, distill=DistillConfig(teacher=None, **PROJECTED_DISTILLATION))
