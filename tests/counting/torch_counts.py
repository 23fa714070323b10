"""torch's own count of the linear algebra: the independent reference the counting tests compare against."""

import torch
from torch.utils.flop_counter import FlopCounterMode

# budgetsearch's operators (``Count.by_operator``) whose work FlopCounterMode counts as addmm, mm and bmm
LINEAR_ALGEBRA = ("linear", "addmm", "mm", "matmul", "bmm", "einsum")


def flop_counter_mult_adds(model, size) -> dict:
    """FlopCounterMode's FLOPs per aten operator in one eval forward of a zero image, halved to mult-adds."""
    # FlopCounterMode's module tracker fails on a module that returns a trainable parameter itself
    # (Perceiver's position encoding); the count does not depend on it, so parameters are frozen meanwhile.
    trainable = [p for p in model.parameters() if p.requires_grad]
    model.requires_grad_(False)
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model.eval()(torch.zeros(1, *size))
    finally:
        for parameter in trainable:
            parameter.requires_grad_(True)
    counts = counter.get_flop_counts().get("Global", {})
    return {str(op).removeprefix("aten."): flops // 2 for op, flops in counts.items()}
