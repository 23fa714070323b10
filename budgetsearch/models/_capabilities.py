"""What a model may offer beyond ``forward(x) -> logits``, declared in one Protocol.

The trainer and the counter ask ``isinstance(model, ModelCapabilities)`` and
then read the declaration; they never probe a model for attribute names. Every
built-in family implements it through :class:`TappedNetwork`, and
:func:`~budgetsearch.models.create_model` completes the declaration of any
other model it builds with the neutral values of :data:`DECLARES_NOTHING`, so
everything it returns implements the Protocol.

Attention maps are those of Zagoruyko & Komodakis, "Paying More Attention to
Attention", ICLR 2017: per example, the L2-normalised map over positions of the
channel mean of the squared activations.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional, Protocol, Tuple, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn


class AuxiliaryOutput(NamedTuple):
    """What a model with an auxiliary head returns in training mode: detect it with ``isinstance``."""

    logits: torch.Tensor
    auxiliary: torch.Tensor


def class_scores(output) -> torch.Tensor:
    """The logits in what a forward returns: a tensor, or a structure carrying them as ``.logits``
    (:class:`AuxiliaryOutput`, or the output objects of transformers' image classifiers)."""
    if isinstance(output, torch.Tensor):
        return output
    logits = getattr(output, "logits", None)
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"a classifier's forward must return its logits, or an output with a .logits tensor, "
                        f"but got {type(output).__name__}")
    return logits


@runtime_checkable
class ModelCapabilities(Protocol):
    """A model's declaration of what it offers the trainer and the counter.

    ``auxiliary_weight``
        The weight of an auxiliary head's loss (DARTS: 0.4), 0.0 without one. A model
        with a head returns :class:`AuxiliaryOutput` from its forward in training mode.
    ``training_only_modules``
        Qualified names of the modules that run only in training (an auxiliary head):
        a count leaves their parameters out.
    ``drop_path_prob``
        The final drop-path rate, which the trainer raises linearly from 0 over the
        epochs by setting this attribute; None for a model without drop-path.
    ``gives_attention_maps``
        Whether ``forward(x, return_attention=True)`` returns ``(output, maps)``, a list
        of (batch, positions) maps from :func:`attention_map`, for attention transfer.
    ``substitution_points``
        Qualified names of the modules its conv factory built (recorded by
        ``create_model``); None when nothing recorded them.
    """

    auxiliary_weight: float
    training_only_modules: Tuple[str, ...]
    drop_path_prob: Optional[float]
    gives_attention_maps: bool
    substitution_points: Optional[Tuple[str, ...]]


# The declaration of a model that offers nothing beyond its logits.
DECLARES_NOTHING = {"auxiliary_weight": 0.0, "training_only_modules": (), "drop_path_prob": None,
                    "gives_attention_maps": False, "substitution_points": None}


def complete_declaration(model: nn.Module) -> nn.Module:
    """``model``, with the neutral value of every member of :class:`ModelCapabilities` it does not declare."""
    for member, value in DECLARES_NOTHING.items():
        if not hasattr(model, member):
            setattr(model, member, value)
    return model


def attention_map(features: torch.Tensor) -> torch.Tensor:
    """L2-normalised map over positions of the channel mean of squared activations, per example.

    ``features`` is ``(batch, channels, *positions)``; the map is ``(batch, positions)``.
    """
    return F.normalize(features.pow(2).mean(1).flatten(1))


class TappedNetwork(nn.Module):
    """A built-in family's network: :class:`ModelCapabilities` with nothing but attention maps offered.

    A subclass implements :meth:`forward_tapped`, returning its output and the
    feature maps (``(batch, channels, *positions)``) attention transfer pairs, and
    overrides the members it offers (DARTS: its auxiliary head and drop-path).
    """

    auxiliary_weight: float = 0.0
    training_only_modules: Tuple[str, ...] = ()
    drop_path_prob: Optional[float] = None
    gives_attention_maps = True
    substitution_points: Optional[Tuple[str, ...]] = None

    def forward_tapped(self, x: torch.Tensor) -> Tuple[object, List[torch.Tensor]]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        output, taps = self.forward_tapped(x)
        if return_attention:
            return output, [attention_map(t) for t in taps]
        return output
