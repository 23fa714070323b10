"""Where a trial runs, in which precision (bf16 autocast on CUDA, float32 on CPU) and memory layout."""

from __future__ import annotations

import contextlib

import torch

from ..errors import ConfigError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"TrainConfig.device is {name!r}, but this torch ({torch.__version__}) sees no CUDA "
                              f"device; use 'cpu' or 'auto'")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"TrainConfig.device is {name!r}, but only {torch.cuda.device_count()} CUDA "
                              f"device(s) exist")
    return device


def autocast(device: torch.device):
    """bf16 autocast on CUDA (no loss scaling needed: bf16 has float32's exponent range); nothing on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def tuned_convolutions(device: torch.device):
    """On CUDA, let cuDNN time its algorithms per convolution shape and keep the fastest.

    A trial's batch shape is fixed (drop_last), so each shape is timed once. The
    process's setting is restored afterwards.
    """
    if device.type != "cuda":
        yield
        return
    previous = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = previous


def compiled(network: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``torch.compile``; on CUDA in "reduce-overhead" mode, which replays each step as a CUDA graph.

    A CIFAR network's step at batch 128 launches a few hundred short kernels, and
    launching them, not running them, is what the GPU waits for.
    """
    return torch.compile(network, mode="reduce-overhead" if device.type == "cuda" else None)


def memory_format(channels_last: bool) -> torch.memory_format:
    """NHWC (channels_last) or the default NCHW layout for the network's weights and inputs."""
    return torch.channels_last if channels_last else torch.contiguous_format


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA's OutOfMemoryError, or the CPU allocator failing to allocate."""
    if isinstance(error, torch.OutOfMemoryError):
        return True
    return isinstance(error, RuntimeError) and "DefaultCPUAllocator: can't allocate memory" in str(error)
