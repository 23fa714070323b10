"""Least-squares fit of a substitute layer's own parameters to the dense layer it replaces.

For the families without a closed form (ACDC, butterfly, shuffle, BLAST)
and as a refinement of any closed form: Adam on the relative squared error of the
layer's outputs on calibration inputs, or, without inputs, of its effective
weight (the output error under white inputs). Full-batch steps from a given
start make it deterministic; the best iterate is kept, so a fit never ends worse
than where it started.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ._probe import Geometry, effective_weight

# Adam's steps are about lr in size whatever the gradient's scale, so each tensor's
# rate is this fraction of its own RMS (weights of 0.05 and ACDC diagonals of 1 alike).
RELATIVE_RATE = 0.02
# The rate of a tensor that starts at zero (a bias, padding rows of a factor).
FLOOR_RATE = 1e-4


def _loss(layer: nn.Module, dense: nn.Module, geometry: Geometry, inputs: Optional[torch.Tensor]):
    if inputs is None:
        target = dense.weight.detach()
        return lambda: (effective_weight(layer, geometry) - target).square().sum() / target.square().sum()
    with torch.no_grad():
        target = dense(inputs)
    return lambda: (layer(inputs) - target).square().sum() / target.square().sum()


def fit(layer: nn.Module, dense: nn.Module, geometry: Geometry, inputs: Optional[torch.Tensor] = None,
        steps: int = 300) -> None:
    """Refine ``layer``'s parameters in place by ``steps`` Adam steps (cosine-decayed rate)."""
    parameters = [p for p in layer.parameters() if p.requires_grad]
    with torch.no_grad():
        groups = [{"params": [p], "lr": max(RELATIVE_RATE * p.square().mean().sqrt().item(), FLOOR_RATE)}
                  for p in parameters]
    optimizer = torch.optim.Adam(groups)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    loss_of = _loss(layer, dense, geometry, inputs)
    best, best_state = float("inf"), None
    for step in range(steps + 1):  # the last evaluation scores the last step
        optimizer.zero_grad()
        loss = loss_of()
        if loss.item() < best:
            best, best_state = loss.item(), [p.detach().clone() for p in parameters]
        if step < steps:
            loss.backward()
            optimizer.step()
            schedule.step()
    if best_state is None:  # not one finite loss: left as it is, for the caller's finiteness check
        return
    with torch.no_grad():
        for parameter, value in zip(parameters, best_state):
            parameter.copy_(value)
