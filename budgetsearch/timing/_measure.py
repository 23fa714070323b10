"""Timing a network on a device: the medians a :class:`~._settings.Timing` records (with torch)."""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from ..errors import ConfigError
from ..models import class_scores
from ._settings import Timing, TimingSettings


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
