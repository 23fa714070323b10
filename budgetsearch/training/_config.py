"""Configuration of one training trial: :class:`TrainConfig`, :class:`DistillConfig` and named presets.

Both are frozen dataclasses validated on construction, so a bad value fails
where it is written, naming the field, the value received and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple, Union

from ..data import DEFAULT_VALIDATION_SIZE, check_validation_size
from ..errors import ConfigError
from ..projection import METHODS

SCHEDULES = ("cosine", "original-steps")
OPTIMIZERS = ("sgd", "adamw")
INITS = ("scratch", "loaded", "projected")
# The fields only one optimizer reads: given with the other they would be silently ignored.
OPTIMIZER_OPTIONS = {"sgd": ("momentum",), "adamw": ("betas",)}
MAX_SEED = 2 ** 64 - 1  # the largest seed torch.Generator.manual_seed takes
MAX_EPOCHS = 10_000  # no real trial reaches it: a typo (an extra zero or three) is refused instead of running for ever


def _number(owner: str, name: str, value, *, low: float, low_open: bool = False, high: float = math.inf) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and value <= high
    if not ok:
        left = "(" if low_open else "["
        right = "]" if math.isfinite(high) else ")"
        raise ConfigError(f"{owner}.{name} must be a finite number in {left}{low:g}, {high:g}{right}, but got {value!r}")


def _integer(owner: str, name: str, value, *, low: int, high: Optional[int] = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ConfigError(f"{owner}.{name} must be an int {allowed}, but got {value!r}")


def check_optimizer_options(optimizer: str, given: Mapping[str, object], prefix: str) -> None:
    """Refuse, among the ``given`` settings (name -> value), an option of an optimizer other than ``optimizer``.

    ``prefix`` names the settings where they were written (``"TrainConfig."``, ``"study.toml: training."``).
    An unknown ``optimizer`` is left to be refused on its own.
    """
    if optimizer not in OPTIMIZER_OPTIONS:
        return
    for other, names in OPTIMIZER_OPTIONS.items():
        for name in names:
            if other != optimizer and name in given:
                raise ConfigError(f"{prefix}{name} = {given[name]!r} is an option of optimizer {other!r} only, but "
                                  f"got optimizer={optimizer!r}, which would ignore it: remove {name} or use {other}")


# A projected trial's distillation from its dense original unless told otherwise: KD only, no attention transfer
# (see budgetsearch.training._initialise.default_distillation).
PROJECTED_DISTILLATION = {"beta": 0.0, "alpha": 0.9}


@dataclass(frozen=True)
class DistillConfig:
    """Train the student against a frozen teacher (the original study's "student" mode).

    ``teacher``: a checkpoint written by this tool (``budgetsearch train --save``);
    None, with ``TrainConfig.init="projected"``, is the dense original the student
    was projected from, held in memory.
    ``beta``: attention-transfer weight before the 3/M scaling (M = number of maps);
    1e3 is the original's, which makes the three WRN maps weigh 1e3 in total.
    ``alpha``: weight of the KD term, (1 - alpha) that of cross-entropy; 0 (KD off)
    in every experiment of the original.
    ``temperature``: KD softmax temperature, 4 as in the original.
    ``teacher_model``: the model the teacher checkpoint must record, as its user
    names it (a checkpoint never chooses code to import); None accepts a
    registered model, or the student's own model.
    """

    teacher: Union[str, os.PathLike, None] = None
    beta: float = 1e3
    alpha: float = 0.0
    temperature: float = 4.0
    teacher_model: Optional[str] = None

    def __post_init__(self):
        if self.teacher is not None and (not isinstance(self.teacher, (str, os.PathLike)) or not str(self.teacher)):
            raise ConfigError(f"DistillConfig.teacher must be the path of a checkpoint or None (the dense original "
                              f"of a projected trial), but got {self.teacher!r}")
        _number("DistillConfig", "beta", self.beta, low=0.0)
        _number("DistillConfig", "alpha", self.alpha, low=0.0, high=1.0)
        _number("DistillConfig", "temperature", self.temperature, low=0.0, low_open=True)
        if self.teacher_model is not None and (not isinstance(self.teacher_model, str) or not self.teacher_model):
            raise ConfigError(f"DistillConfig.teacher_model must be a model name or package.module:callable, but got "
                              f"{self.teacher_model!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"teacher": None if self.teacher is None else str(self.teacher)}


@dataclass(frozen=True)
class TrainConfig:
    """How one trial is trained. The defaults are the short-trial recipe for CIFAR.

    ``schedule``: ``"cosine"`` anneals the learning rate from ``lr`` to 0 over the
    trial's steps (every step, so even a 2-epoch trial gets a smooth decay);
    ``"original-steps"`` multiplies it by ``gamma`` at each epoch of
    ``milestones``, changed at the *start* of the epoch as the original did
    (lr 0.1 for epochs 0-59, 0.02 for 60-119, ...).
    ``crs_weight_decay``: the substitute's own parameters get ``weight_decay`` x
    (network params / reference network params); False gives every parameter
    ``weight_decay``.
    ``validation_size``: images held out of the training set (int count or
    fraction), chosen by ``seed``; used only when the trial loads the data set
    from a spec string.
    ``optimizer``: ``"sgd"`` (with ``momentum``, the CNN recipe) or ``"adamw"``
    (with ``betas``; ``weight_decay`` is then AdamW's decoupled decay), the usual
    choice for ViTs. ``warmup_epochs``: the rate rises linearly from lr/W to lr over
    the first W = round(warmup_epochs × steps per epoch) steps; cosine then anneals
    over the remaining steps, original-steps keeps its milestones.
    ``label_smoothing``: the cross-entropy's (``F.cross_entropy``), not used with
    ``distill``, whose loss is the original's. ``grad_clip``: the gradients' total
    L2 norm is clipped to it before each step (None: no clipping).
    ``device``: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    ``compile``: wrap the model in ``torch.compile``, on CUDA with CUDA graphs (first epoch pays the compile time).
    ``channels_last``: train in the NHWC memory layout (same numbers, other kernels).
    ``init``: where the weights start. ``"scratch"``: at random, from ``seed``.
    ``"loaded"``: ``weights`` is a file of this network's own weights (a checkpoint
    ``budgetsearch compress`` wrote, say). ``"projected"``: ``weights`` is the dense
    model's (the network with every substitution point dense), projected onto the
    substitute by ``projection`` (see :mod:`budgetsearch.projection`) on
    ``calibration_images`` training images chosen by ``seed``; the trial is then
    measured at epoch 0 and fine-tuned, distilling from the dense original unless
    ``distill`` says otherwise (see :func:`~budgetsearch.training.train_trial`).
    ``epochs=0`` is allowed with weights: the trial measures them and stops.
    ``weights_strict``: every key of the file must fit (False loads what fits and
    records what stayed at its initialisation).
    """

    epochs: int = 10
    batch_size: int = 128
    lr: float = 0.1
    optimizer: str = "sgd"
    momentum: float = 0.9  # SGD only (another value with AdamW is refused)
    betas: Tuple[float, float] = (0.9, 0.999)  # AdamW only (likewise with SGD): torch's defaults
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    grad_clip: Optional[float] = None
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    milestones: Tuple[int, ...] = (60, 120, 160)  # only used by "original-steps"
    gamma: float = 0.2  # only used by "original-steps"
    crs_weight_decay: bool = True
    validation_size: Union[int, float] = DEFAULT_VALIDATION_SIZE
    seed: int = 0
    device: str = "auto"
    distill: Optional[DistillConfig] = None
    compile: bool = False
    # NHWC layout for the network and its inputs: cuDNN's tensor-core kernels want it on CUDA,
    # and on CPU (oneDNN) it trained wrn-16-4 1.1-1.7x faster than NCHW in our measurements.
    channels_last: bool = True
    # Evaluation batches are larger than training ones: no gradients are kept, and the
    # result does not depend on the size (BN uses running statistics in eval mode).
    eval_batch_size: int = 500
    init: str = "scratch"
    weights: Union[str, os.PathLike, None] = None
    weights_strict: bool = True
    projection: str = "closed"
    # Images whose layer inputs the projection is measured (and whitened or fitted) on: a few
    # hundred, as SVD-LLM and ASVD calibrate; 128 keeps WRN-16-4's inputs under 0.5 GB on the CPU.
    calibration_images: int = 128

    def __post_init__(self):
        owner = "TrainConfig"
        _integer(owner, "epochs", self.epochs, low=0 if self.init in ("loaded", "projected") else 1, high=MAX_EPOCHS)
        _integer(owner, "batch_size", self.batch_size, low=1)
        _integer(owner, "eval_batch_size", self.eval_batch_size, low=1)
        _integer(owner, "seed", self.seed, low=0, high=MAX_SEED)
        _number(owner, "lr", self.lr, low=0.0, low_open=True)
        _number(owner, "momentum", self.momentum, low=0.0, high=1.0)
        _number(owner, "weight_decay", self.weight_decay, low=0.0)
        _number(owner, "gamma", self.gamma, low=0.0, low_open=True)
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"TrainConfig.optimizer must be one of {OPTIMIZERS}, but got {self.optimizer!r}")
        betas = self.betas
        if not isinstance(betas, (tuple, list)) or len(betas) != 2 or not all(
                isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas):
            raise ConfigError(f"TrainConfig.betas must be two numbers in [0, 1), but got {betas!r}")
        object.__setattr__(self, "betas", tuple(float(b) for b in betas))
        # A value changed from its default was given: refused with the other optimizer. (The CLI and the
        # study file loader know which keys were written, and refuse those given at the default value too.)
        changed = {name: getattr(self, name) for names in OPTIMIZER_OPTIONS.values() for name in names
                   if getattr(self, name) != _DEFAULTS[name]}
        check_optimizer_options(self.optimizer, changed, f"{owner}.")
        _number(owner, "warmup_epochs", self.warmup_epochs, low=0.0)
        if self.warmup_epochs > self.epochs:
            raise ConfigError(f"TrainConfig.warmup_epochs must be at most epochs ({self.epochs}), "
                              f"but got {self.warmup_epochs!r}")
        _number(owner, "label_smoothing", self.label_smoothing, low=0.0, high=1.0)
        if self.label_smoothing == 1.0:
            raise ConfigError(f"TrainConfig.label_smoothing must be in [0, 1), but got {self.label_smoothing!r}")
        if self.grad_clip is not None:
            _number(owner, "grad_clip", self.grad_clip, low=0.0, low_open=True)
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"TrainConfig.schedule must be one of {SCHEDULES}, but got {self.schedule!r}")
        milestones = self.milestones
        if (not isinstance(milestones, (tuple, list)) or any(isinstance(m, bool) or not isinstance(m, int) or m < 1
                                                             for m in milestones)
                or list(milestones) != sorted(set(milestones))):
            raise ConfigError(f"TrainConfig.milestones must be strictly increasing ints >= 1, but got {milestones!r}")
        object.__setattr__(self, "milestones", tuple(milestones))
        for name in ("crs_weight_decay", "compile", "channels_last", "weights_strict"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"TrainConfig.{name} must be a bool, but got {getattr(self, name)!r}")
        check_validation_size(self.validation_size, f"{owner}.validation_size")
        if not isinstance(self.device, str) or not _valid_device(self.device):
            raise ConfigError(f"TrainConfig.device must be 'auto', 'cpu', 'cuda' or 'cuda:N', but got {self.device!r}")
        if self.distill is not None and not isinstance(self.distill, DistillConfig):
            raise ConfigError(f"TrainConfig.distill must be None or a DistillConfig, but got {self.distill!r}")
        _check_start(self)
        if self.distill is not None and self.label_smoothing:
            raise ConfigError(f"TrainConfig.label_smoothing applies to plain training only, but got "
                              f"label_smoothing={self.label_smoothing!r} with distill")

    def to_dict(self) -> dict:
        """JSON-able fields (the teacher path as a string)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["milestones"] = list(self.milestones)
        fields["betas"] = list(self.betas)
        fields["distill"] = None if self.distill is None else self.distill.to_dict()
        fields["weights"] = None if self.weights is None else str(self.weights)
        return fields


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)}


def _check_start(config: TrainConfig) -> None:
    """``init``, ``weights``, ``projection`` and a teacher that is the dense original agree."""
    if config.init not in INITS:
        raise ConfigError(f"TrainConfig.init must be one of {INITS}, but got {config.init!r}")
    if config.projection not in METHODS:
        raise ConfigError(f"TrainConfig.projection must be one of {METHODS}, but got {config.projection!r}")
    _integer("TrainConfig", "calibration_images", config.calibration_images, low=1)
    given = config.weights is not None
    if given and (not isinstance(config.weights, (str, os.PathLike)) or not str(config.weights)):
        raise ConfigError(f"TrainConfig.weights must be the path of a weights file, but got {config.weights!r}")
    if given != (config.init != "scratch"):
        raise ConfigError(f"TrainConfig.weights ({config.weights!r}) is needed by init 'loaded' and 'projected' "
                          f"and refused by 'scratch', but got init={config.init!r}")
    if config.distill is not None and config.distill.teacher is None and config.init != "projected":
        raise ConfigError(f"DistillConfig.teacher=None distils from the dense original of a projected trial, "
                          f"but got init={config.init!r}; name a teacher checkpoint")


def _valid_device(text: str) -> bool:
    if text in ("auto", "cpu", "cuda"):
        return True
    kind, _, index = text.partition(":")
    return kind == "cuda" and index.isdigit()


PRESETS = {
    # Short trials for search: the defaults.
    "short": TrainConfig(),
    # The original CIFAR WRN protocol: 200 epochs, x0.2 at 60/120/160.
    "original": TrainConfig(epochs=200, schedule="original-steps", milestones=(60, 120, 160), gamma=0.2),
    # The original DARTS recipe: 600 epochs, cosine, lr 0.025, wd 3e-4, batch 96.
    # Inputs are normalised with the data set's constants (CIFAR-10: the WRN ones), not DARTS's own
    # std (0.247, 0.243, 0.262). The difference scales the input channels by 0.77-0.82: the common
    # part is absorbed by the stem's BN, the rest amounts to a slightly different stem init.
    "darts-original": TrainConfig(epochs=600, batch_size=96, lr=0.025, weight_decay=3e-4, schedule="cosine"),
}
