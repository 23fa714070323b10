"""Training losses: cross-entropy, attention transfer and knowledge distillation.

Attention transfer: Zagoruyko & Komodakis, "Paying More Attention to
Attention", ICLR 2017. Knowledge distillation: Hinton, Vinyals & Dean,
"Distilling the Knowledge in a Neural Network", 2015.
"""

from __future__ import annotations

from typing import Dict, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError
from ._config import DistillConfig


def attention_transfer_loss(student_maps: Sequence[Tensor], teacher_maps: Sequence[Tensor], beta: float) -> Tensor:
    """``(β·3/M)·Σ_m MSE(a_m^student, a_m^teacher)`` over the M tapped maps.

    The 3/M keeps the total weight of a 3-map WRN whatever the network taps
    (WRN-50-2: 4 maps → 750 each; DARTS: 2 → 1,500). The MSE averages over
    batch × positions, as the original's.
    """
    if len(student_maps) != len(teacher_maps) or not student_maps:
        raise ConfigError(f"attention transfer needs the same number (>= 1) of maps from student and teacher, "
                          f"but got {len(student_maps)} and {len(teacher_maps)}")
    total = 0.0
    for index, (student, teacher) in enumerate(zip(student_maps, teacher_maps)):
        if student.shape != teacher.shape:
            raise ConfigError(f"attention map {index} has shape {tuple(student.shape)} in the student but "
                              f"{tuple(teacher.shape)} in the teacher; their groups must have equal resolutions")
        total = total + F.mse_loss(student.float(), teacher.float())
    return (beta * 3.0 / len(student_maps)) * total


def distillation_kl(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """``2·T²·KL(softmax(t/T) ‖ softmax(s/T))``, the KL averaged over batch × classes.

    Both the factor 2 and the element-wise mean (the old ``F.kl_div`` default,
    not ``batchmean``) are the original's, kept so α means what it meant there.
    """
    log_student = F.log_softmax(student_logits.float() / temperature, dim=1)
    teacher = F.softmax(teacher_logits.float() / temperature, dim=1)
    # The element-wise mean written out: torch has announced that reduction="mean" will become "batchmean".
    kl = F.kl_div(log_student, teacher, reduction="sum") / teacher.numel()
    return 2.0 * temperature ** 2 * kl


def student_loss(student_logits: Tensor, student_maps: Sequence[Tensor], teacher_logits: Tensor,
                 teacher_maps: Sequence[Tensor], labels: Tensor, distill: DistillConfig) -> Dict[str, Tensor]:
    """The student's loss ``α·KD + (1 − α)·CE + AT`` and its terms (``loss``, ``ce``, ``kd``, ``at``)."""
    ce = F.cross_entropy(student_logits.float(), labels)
    if distill.beta > 0:
        at = attention_transfer_loss(student_maps, teacher_maps, distill.beta)
    else:  # AT off (KD alone, e.g. for a network without attention maps): not computed, reported as 0
        at = torch.zeros((), device=ce.device)
    if distill.alpha > 0:
        kd = distillation_kl(student_logits, teacher_logits, distill.temperature)
    else:  # KD off: not computed, reported as 0
        kd = torch.zeros((), device=ce.device)
    loss = distill.alpha * kd + (1.0 - distill.alpha) * ce + at
    return {"loss": loss, "ce": ce, "kd": kd, "at": at}
