"""What a projection records, per layer and in total."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class LayerProjection:
    """One substitution point after projection.

    ``weight_error`` is ‖W' − W‖_F / ‖W‖_F with W' the substitute's effective dense
    weight (read off by running it, see :func:`~._probe.effective_weight`);
    ``output_error`` the same ratio for the layer's outputs on the calibration batch
    (the dense model's inputs to this layer), None without one. The norms of the dense
    weight and output let the totals weigh the layers.
    """

    name: str
    family: str  # the structured part's type and the substitutes it belongs to
    method: str  # "closed", "whitened" or "fit": what was applied to this layer
    weight_error: float
    weight_norm: float
    output_error: Optional[float] = None
    output_norm: Optional[float] = None


def _pooled(errors_and_norms) -> float:
    pairs = list(errors_and_norms)
    total = sum(norm ** 2 for _, norm in pairs)
    return math.sqrt(sum((error * norm) ** 2 for error, norm in pairs) / total) if total else 0.0


@dataclass(frozen=True)
class ProjectionReport:
    method: str
    layers: tuple  # of LayerProjection, in the model's substitution-point order
    batch_norms_reestimated: int = 0  # batch norms whose running statistics were recomputed on the calibration batch

    @property
    def weight_error(self) -> float:
        """‖all W' − W‖ / ‖all W‖ over the substitution points together."""
        return _pooled((layer.weight_error, layer.weight_norm) for layer in self.layers)

    @property
    def output_error(self) -> Optional[float]:
        """The layers' output errors pooled the same way; None without a calibration batch."""
        if not self.layers or self.layers[0].output_error is None:
            return None
        return _pooled((layer.output_error, layer.output_norm) for layer in self.layers)

    def to_dict(self) -> dict:
        """JSON-able: the method, the pooled errors, every layer's record and the batch norms recomputed."""
        return {"method": self.method, "weight_error": self.weight_error, "output_error": self.output_error,
                "layers": [dataclasses.asdict(layer) for layer in self.layers],
                "batch_norms_reestimated": self.batch_norms_reestimated}
