"""The combination matrix's model cases: every registered family, a user model by reference and a transformers
model built from a config, each at the smallest size that keeps its structure (same layer kinds, same
substitution points), so that every (model, substitute, selection) cell runs in about a second.

A family registered later fails :func:`test_every_family_has_a_case` until it gets a case here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch

from budgetsearch import model_factory


@dataclass(frozen=True)
class ModelCase:
    model: str  # a registered name or a ``package.module:callable`` reference
    input_size: tuple
    options: dict = field(default_factory=dict)
    family: Optional[str] = None  # the registered family's example name this case stands for
    exclude: str = ""  # one layer's qualified name, for the ``exclude`` column


@model_factory
def tiny_transformers_resnet(num_classes: int = 10) -> torch.nn.Module:
    """transformers' ResNet from a two-stage config (its own layer code; no weights, nothing downloaded)."""
    import transformers

    config = transformers.ResNetConfig(num_channels=3, embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                                       layer_type="basic", num_labels=num_classes)
    return transformers.ResNetForImageClassification(config)


CASES = {
    "wrn": ModelCase("wrn-10-1", (3, 8, 8), family="wrn-28-10", exclude="groups.0.0.conv1"),
    "wrn-50-2": ModelCase("wrn-50-2", (3, 32, 32), {"blocks": (1, 1, 1, 1), "widen": 1, "expansion": 1},
                          family="wrn-50-2", exclude="stages.0.0.conv2"),
    "darts": ModelCase("darts", (3, 32, 32), {"channels": 4, "layers": 3}, family="darts",
                       exclude="cells.0.preprocess1.1"),
    "mobilenetv2": ModelCase("mobilenetv2", (3, 32, 32), {"width": 0.25}, family="mobilenetv2", exclude="blocks.1.conv.0"),
    "vit": ModelCase("vit-1-64", (3, 8, 8), {"image_size": 8}, family="vit-6-256", exclude="blocks.0.mlp.fc1"),
    "user-model": ModelCase("examples.tinyvgg:TinyVGG", (3, 8, 8), {"width": 4}, exclude="features.0"),
    "transformers": ModelCase(f"{__name__}:tiny_transformers_resnet", (3, 16, 16),
                              exclude="resnet.embedder.embedder.convolution"),
}
