"""Learning rate at a given step, computed in closed form and written into the optimizer.

The rate is a pure function of (epoch, step), so a trial resumed at any point
gets the same rate, and the original's "scheduler stepped at the start of
each epoch" convention is explicit rather than a side effect of when a
PyTorch scheduler's ``step()`` is called.
"""

from __future__ import annotations

import bisect
import math

import torch

from ._config import TrainConfig


def warmup_steps(config: TrainConfig, steps_per_epoch: int) -> int:
    return round(config.warmup_epochs * steps_per_epoch)


def learning_rate(config: TrainConfig, epoch: int, step: int, steps_per_epoch: int) -> float:
    """Rate for ``step`` (0-based) of ``epoch`` (0-based) of a trial of ``config.epochs`` epochs."""
    done, warmup = epoch * steps_per_epoch + step, warmup_steps(config, steps_per_epoch)
    if done < warmup:  # linear warmup: lr/W, 2·lr/W, ..., lr
        return config.lr * (done + 1) / warmup
    if config.schedule == "original-steps":
        # Epochs at or past a milestone are decayed: with (60, 120, 160), epoch 60 runs at lr·γ.
        return config.lr * config.gamma ** bisect.bisect_right(config.milestones, epoch)
    # Cosine annealing to 0 over every step after the warmup (Loshchilov & Hutter, SGDR, without restarts).
    progress = (done - warmup) / (config.epochs * steps_per_epoch - warmup)
    return 0.5 * config.lr * (1.0 + math.cos(math.pi * progress))


def set_learning_rate(optimizer: torch.optim.Optimizer, rate: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = rate
