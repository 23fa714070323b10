"""Counting rules of the compatibility mode "deficient-efficient".

The original counted with forward hooks on every module of a batch of one zero
image (its ``count.py``). Restated as budgetsearch rules, in one table:

======================================  ====================================================
what                                    mult-adds
======================================  ====================================================
convolution (any, incl. reconstructed   C_i·C_o·k_h·k_w·A_out / groups (fvcore's rule; bias
hashed/TT/Tucker weights)               free), so TT/Tucker count as a dense separable layer
linear                                  rows·(weights + biases)
ReLU (module or ``F.relu``)             one per input element
ReLU6, clamp, hardtanh                  0 (count.py matched the type name "ReLU" only)
BatchNorm, residual adds, dropout,      0 (no module rule in the original, or rule 0)
data movement, concatenation
functional/adaptive pooling, mean       0
``nn.AvgPool2d``/``nn.MaxPool2d``       N·C·H_out·W_out·k² (module rule)
a substitute's layer that states its    its own formula (``compat_mult_adds``; see
own count (``CompatCounted``)           ``budgetsearch.substitutes.CompatCounted``): ACDC's 1×1
                                        L·(4c + 5c·log₂c)·A', where A' is the substitute layer's
                                        input positions when a depthwise conv precedes the 1×1
                                        (the original's quirk: a strided layer is counted at
                                        input resolution); the tied low rank's 2·c·r·A_out
======================================  ====================================================

Operator rules apply to the trace; module rules replace the traced count of
the whole module. The ACDC cost is not an integer: per-module values are
summed as floats and the total is rounded once, to the nearest integer.
"""

from __future__ import annotations

import math
from typing import Callable, Dict

from torch import nn

from ..substitutes import compat_counted_types
from ._rules import (AVERAGING, COMPARISON, DATA_MOVEMENT, ELEMENTWISE_ARITHMETIC, Handle, _given, default_rules,
                     free, per_input_element, traced_shape)


def linear_with_bias(inputs, outputs) -> int:
    """rows·(weights + biases), for ``aten::linear`` (x, W, b) and ``aten::addmm`` (b, x, Wᵀ)."""
    shapes = [traced_shape(v) if _given(v) else None for v in inputs[:3]]
    if len(shapes[1] or ()) == 2 and len(shapes[0] or ()) >= 2 and shapes[0][-1] == shapes[1][1]:  # linear
        x, weight, bias = shapes
    else:  # addmm(bias, x, weight_t)
        bias, x, weight = shapes
    rows = math.prod(x[:-1])
    return rows * (math.prod(weight) + (math.prod(bias) if bias else 0))


def operator_rules() -> Dict[str, Handle]:
    rules = default_rules()
    rules.update({op: free for op in ELEMENTWISE_ARITHMETIC + AVERAGING + COMPARISON + DATA_MOVEMENT})
    rules.update({"aten::batch_norm": free, "aten::adaptive_avg_pool2d": free,
                  "aten::linear": linear_with_bias, "aten::addmm": linear_with_bias,
                  "aten::relu": per_input_element, "aten::relu_": per_input_element})
    return rules


# A module rule: (module, its name, the model, {name: (input shape, output shape)}) -> mult-adds.
ModuleRule = Callable[[nn.Module, str, nn.Module, dict], float]


def pooling_module(module, name, model, shapes) -> float:
    (n, c, *_), (_, _, h_out, w_out) = shapes[name]
    kernel = module.kernel_size if isinstance(module.kernel_size, int) else module.kernel_size[0]
    return n * c * h_out * w_out * kernel * kernel


def declared_by_the_layer(module, name, model, shapes) -> float:
    """What a :class:`~budgetsearch.substitutes.CompatCounted` layer states its count is."""
    holder = name.rpartition(".")[0]
    input_shape, output_shape = shapes[name]
    layer_input_shape = shapes[holder][0] if name and holder in shapes else input_shape
    return module.compat_mult_adds(input_shape, output_shape, layer_input_shape)


def module_rules() -> Dict[type, ModuleRule]:
    return {nn.AvgPool2d: pooling_module, nn.MaxPool2d: pooling_module,
            **{layer: declared_by_the_layer for layer in compat_counted_types()}}


DESCRIPTION = {
    "counter_suffix": "deficient-efficient rules",
    "unit": ("mult-adds as the original count.py: conv C_i·C_o·k²·A_out/groups, linear weights+biases, "
             "ReLU 1 per element, BN/adds/functional pooling free, pooling modules N·C·H·W·k², "
             "ACDC L·(4c+5c·log2 c)·A', LR 2·c·r·A"),
}
