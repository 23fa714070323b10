"""What each built-in model family is called, without importing the module that builds it (nor torch).

A family file builds its network; this table says which names it answers to,
so that checking a study file's model (``status``, ``frontier``) stays a
fraction of a second. The order of the table is the order of every listing. A
family's module registers its network with ``register_model(implemented(EXAMPLE,
build=...))`` when a name of its pattern is first looked up
(:func:`~budgetsearch.models.find_model`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Declaration:
    """A family's name pattern (a regular expression whose groups become arguments), an example name and a
    one-line summary; ``module`` is the family file that builds it."""

    pattern: str
    example: str
    summary: str
    module: str


DECLARATIONS = (
    Declaration(r"wrn-(\d+)-(\d+)", "wrn-28-10", "CIFAR WideResNet wrn-DEPTH-WIDTH, depth = 6n+4", "wide_resnet"),
    Declaration(r"wrn-50-2", "wrn-50-2", "ImageNet WRN-50-2: ResNet-50 bottlenecks, doubled widths, expansion 2",
                "resnet_imagenet"),
    Declaration(r"darts", "darts", "DARTS-V2 CIFAR network (36 channels, 20 cells); reference substitute: separable",
                "darts"),
    Declaration(r"mobilenetv2", "mobilenetv2", "ImageNet MobileNetV2 (width multiplier option, 1.0 by default); "
                "pointwise convs and the 1×1-conv classifier substitutable", "mobilenetv2"),
    Declaration(r"vit-(\d+)-(\d+)", "vit-6-256",
                "CIFAR ViT vit-DEPTH-WIDTH: patch 4, heads of 64, MLP ratio 4, pre-norm, mean pooling", "vit"),
)
