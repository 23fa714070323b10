"""How a network is timed, and what a timing records: plain data, read by study files without torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

from ..errors import ConfigError

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
