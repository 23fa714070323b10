"""Where a trial runs, in which precision (bf16 autocast on CUDA, float32 on CPU) and memory layout."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Kernels:
    """Which kernels a trial uses beyond the defaults; decided once per trial and recorded in its result.

    On CUDA: cuDNN times its algorithms per convolution shape and keeps the fastest
    (a trial's batch shape is fixed, so each shape is timed once); SGD runs one fused
    kernel per parameter group; with ``compile``, each step replays as a CUDA graph,
    since a CIFAR network's step at batch 128 waits on launching a few hundred short
    kernels rather than on running them.
    """

    cudnn_benchmark: bool
    fused_sgd: bool
    cuda_graphs: bool

    @classmethod
    def choose(cls, device: torch.device, compile: bool) -> "Kernels":
        on_cuda = device.type == "cuda"
        return cls(cudnn_benchmark=on_cuda, fused_sgd=on_cuda, cuda_graphs=compile and on_cuda)

    @contextlib.contextmanager
    def tuned(self):
        """cuDNN autotuning while the trial runs, when chosen; the process's setting is restored afterwards."""
        previous = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = previous or self.cudnn_benchmark
        try:
            yield
        finally:
            torch.backends.cudnn.benchmark = previous

    def compiled(self, network: torch.nn.Module) -> torch.nn.Module:
        return torch.compile(network, mode="reduce-overhead" if self.cuda_graphs else None)


def memory_format(channels_last: bool) -> torch.memory_format:
    """NHWC (channels_last) or the default NCHW layout for the network's weights and inputs."""
    return torch.channels_last if channels_last else torch.contiguous_format


# Allocation failures torch reports as a plain RuntimeError: the CPU allocator's, and cuBLAS's or
# cuDNN's when they cannot get workspace memory.
_ALLOCATION_FAILURES = ("DefaultCPUAllocator: can't allocate memory", "CUBLAS_STATUS_ALLOC_FAILED",
                        "CUDNN_STATUS_ALLOC_FAILED")


def is_out_of_memory(error: BaseException) -> bool:
    """An allocation failure, or an error raised from one (torch.compile wraps what fails inside it)."""
    while error is not None:
        if isinstance(error, torch.OutOfMemoryError) or (
                isinstance(error, RuntimeError) and any(failure in str(error) for failure in _ALLOCATION_FAILURES)):
            return True
        error = error.__cause__
    return False
