"""Evaluation of a network on a held-out split: loss and top-1 / top-5 error in percent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data import iterate_batches, normalize
from ..models import class_scores
from ._device import autocast


@dataclass(frozen=True)
class Evaluation:
    loss: Optional[float]
    top1_error: Optional[float]  # percent
    top5_error: Optional[float]  # percent; top-k with k = min(5, classes)
    images: int


def top_k_wrong(logits: Tensor, labels: Tensor, k: int) -> Tensor:
    """Number of rows whose label is not among the ``k`` largest logits."""
    top = logits.topk(min(k, logits.shape[1]), dim=1).indices
    return (top != labels[:, None]).all(dim=1).sum()


@torch.no_grad()
def evaluate(model: nn.Module, images: Tensor, labels: Tensor, mean, std, batch_size: int, device: torch.device,
             memory_format=torch.contiguous_format) -> Evaluation:
    """Eval-mode pass over ``images`` (uint8, already on ``device``) without augmentation."""
    if len(images) == 0:
        return Evaluation(None, None, None, 0)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)
    wrong1 = torch.zeros((), device=device, dtype=torch.int64)
    wrong5 = torch.zeros((), device=device, dtype=torch.int64)
    try:
        for batch, targets in iterate_batches(images, labels, batch_size):
            inputs = normalize(batch, mean, std).contiguous(memory_format=memory_format)
            with autocast(device):
                logits = class_scores(model(inputs))
            logits = logits.float()
            loss_sum += F.cross_entropy(logits, targets, reduction="sum").double()
            wrong1 += top_k_wrong(logits, targets, 1)
            wrong5 += top_k_wrong(logits, targets, 5)
    finally:
        model.train(was_training)
    count = len(images)
    return Evaluation(float(loss_sum) / count, 100.0 * int(wrong1) / count, 100.0 * int(wrong5) / count, count)
