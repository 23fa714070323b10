"""Measured speed beside the counts: how long a network's forward, and its training step, take on a device.

Mult-adds do not predict time for structured layers (a factorised layer can be
slower than the dense one it replaces at a tenth of the mult-adds), so a
frontier needs both. A measurement states how it was made: the device, its
threads, the batch, the warm-up and the number of timed repeats, of which the
median is reported.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Optional

import torch
from torch import nn

from .errors import ConfigError
from .models import class_scores

MAX_BATCH = 4096


@dataclass(frozen=True)
class TimingSettings:
    """How a network is timed: batches of ``batch_size`` random images, ``warmup`` untimed, then ``repeats`` timed."""

    batch_size: int = 32  # a common inference batch, which every network of the zoo fits on a laptop CPU
    warmup: int = 3  # the first calls allocate memory and pick kernels (cudnn.benchmark): not what is measured
    repeats: int = 10  # the median of 10 shrugs off an interruption or two on a shared machine

    def __post_init__(self):
        for name, low, high in (("batch_size", 1, MAX_BATCH), ("warmup", 0, 1000), ("repeats", 1, 1000)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(f"timing {name} must be an integer in [{low}, {high}], but got {value!r}")


@dataclass(frozen=True)
class Timing:
    """Median seconds per batch of ``batch_size`` images: the forward at inference, and a training step."""

    device: str  # e.g. "cpu (1 thread)" or "cuda:0 (NVIDIA H100 80GB HBM3)"
    batch_size: int
    warmup: int
    repeats: int
    forward_seconds: float  # eval mode, no gradients
    train_step_seconds: Optional[float]  # train mode: forward, a cross-entropy loss and backward; None: not timed

    @property
    def inference_images_per_second(self) -> float:
        return self.batch_size / self.forward_seconds

    @property
    def train_images_per_second(self) -> Optional[float]:
        return None if self.train_step_seconds is None else self.batch_size / self.train_step_seconds

    @property
    def method(self) -> str:
        return (f"median of {self.repeats} timed batches of {self.batch_size} after {self.warmup} warm-up, "
                f"on {self.device}")

    def to_dict(self) -> dict:
        return asdict(self) | {"inference_images_per_second": self.inference_images_per_second,
                               "train_images_per_second": self.train_images_per_second, "timing_method": self.method}


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    threads = torch.get_num_threads()
    return f"{device.type} ({threads} thread{'s' if threads != 1 else ''})"


def measure(model: nn.Module, input_size: tuple, batch_size: int = TimingSettings.batch_size, device="cpu",
            warmup: int = TimingSettings.warmup, repeats: int = TimingSettings.repeats,
            train_step: bool = True) -> Timing:
    """Time ``model`` (moved to ``device``; its weights are left as they are) on random inputs of ``input_size``.

    The forward at inference, and unless ``train_step`` is False a training
    step. CUDA work is synchronised before each clock read. The model's
    training mode is restored afterwards.
    """
    TimingSettings(batch_size, warmup, repeats)  # refuses impossible values, naming them
    device = check_device(device)
    model = model.to(device)
    images = torch.randn(batch_size, *input_size, device=device)
    labels = torch.zeros(batch_size, dtype=torch.long, device=device)
    was_training = model.training

    def forward():
        with torch.no_grad():
            model(images)

    def step():
        model.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(class_scores(model(images)), labels).backward()

    try:
        model.eval()
        forward_seconds = _median_seconds(forward, device, warmup, repeats)
        train_seconds = None
        if train_step:
            model.train()
            train_seconds = _median_seconds(step, device, warmup, repeats)
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return Timing(device_label(device), batch_size, warmup, repeats, forward_seconds, train_seconds)


def check_device(name) -> torch.device:
    """The torch device ``name`` names, if this machine has it; else a ConfigError."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ConfigError(f"timing device must be 'cpu', 'cuda' or 'cuda:N', but got {str(name)[:100]!r}")
    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device.type == "cuda" and (device.index or 0) >= available:
        raise ConfigError(f"timing device {str(name)!r} is not available: this machine has {available} CUDA "
                          f"device(s); use 'cpu'")
    return device


def _median_seconds(step, device: torch.device, warmup: int, repeats: int) -> float:
    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        step()
    seconds = []
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        step()
        synchronize()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)
