"""How a study's students start: from random initialisation, or from trained dense weights projected onto them.

``init`` is a study axis like substitutes and budgets: ``"scratch"`` trains
the substituted network from random initialisation (every study before this
key existed), ``"projected"`` loads the dense model's ``weights``, projects
them onto the substitute at the solved setting (``projection``: the method
:func:`budgetsearch.projection.project` takes) and fine-tunes, distilled from
the dense original. Parsed here as data; the weights file is read only by
:func:`check_weights` when ``run`` resolves the study.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

from ..errors import BudgetSearchError, ConfigError

INITS = ("scratch", "projected")
DEFAULT_INIT = "scratch"  # what a trial recorded before ``init`` existed was
WEIGHTS_ATTR = "budgetsearch:weights"  # study user attribute: the dense weights' content digest (weights_digest)


def projection_methods() -> tuple:
    from ..projection import METHODS

    return METHODS


def parse_inits(top) -> tuple:
    """``(init, weights, projection)`` from the top-level keys of a study file (a :class:`~._fields.Table`)."""
    allowed = f"{' or '.join(map(repr, INITS))}, or a non-empty list of distinct ones (a study axis)"
    value = top.get("init", (str, list), [DEFAULT_INIT], allowed=allowed)
    inits = [value] if isinstance(value, str) else value
    if not inits or len(set(map(str, inits))) != len(inits) or not all(isinstance(v, str) and v in INITS
                                                                        for v in inits):
        raise top.error("init", value, allowed)
    weights = top.get("weights", str, None, check=bool,
                      allowed="the path of the dense model's trained weights (a state_dict, .safetensors or "
                              "budgetsearch checkpoint)")
    methods = projection_methods()
    projection = top.get("projection", str, methods[0], check=lambda v: v in methods,
                         allowed=" or ".join(map(repr, methods)))
    if "projected" in inits and weights is None:
        raise ConfigError(f"{top.source}: weights is required with init = {value!r}: the dense model's trained "
                          f"weights, which each projected trial starts from")
    return tuple(inits), weights, projection


def projects(config) -> bool:
    """Whether any student of the study starts from projected weights."""
    return "projected" in config.init


def check_weights(config) -> None:
    """Refuse, before anything is queued, dense weights that are missing, unreadable or of another architecture.

    They are loaded (strictly) into the dense model the study names, exactly as
    each projected trial will load them.
    """
    if not projects(config):
        return
    from ..models import load_weights
    from ..projection import check_closed_forms
    from ..training._architecture import resolve_architecture

    path = Path(config.weights)
    where = f"{config.source}: weights = {config.weights!r}"
    if not path.is_file():
        raise ConfigError(f"{where}: no such file")
    try:
        check_closed_forms(config.substitutes, config.projection)
        dense = resolve_architecture(config.model, "conv", None, config.num_classes, config.input_size,
                                     config.model_options, **config.model_selection).build()
        load_weights(dense, path, strict=True)
    except BudgetSearchError as error:
        raise ConfigError(f"{where}: {error}") from None


def weights_digest(config) -> Optional[str]:
    """The dense weights by content (``sha256:...``): the same study wherever the file lies; None without weights."""
    if config.weights is None:
        return None
    try:
        with open(config.weights, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256")
    except OSError as error:
        raise ConfigError(f"{config.source}: weights = {config.weights!r} cannot be read: "
                          f"{error.strerror or error}") from None
    return f"sha256:{digest.hexdigest()}"


def check_same_weights(study, config, *, record: bool) -> None:
    """Refuse dense weights other (by content) than those ``study`` was started with; ``record``: note them when
    the study has none recorded yet (``run``; a worker only compares)."""
    digest = weights_digest(config)
    recorded = study.user_attrs.get(WEIGHTS_ATTR)
    if recorded is None:
        if record and digest is not None:
            study.set_user_attr(WEIGHTS_ATTR, digest)
        return
    if digest != recorded:
        raise ConfigError(f"{config.source}: weights = {config.weights!r} holds other weights than study "
                          f"{config.name!r} was started with (the files' contents differ); continuing would mix "
                          f"results: point it at the same file, or give the study a new name")


def start_settings(config, attrs: dict) -> dict:
    """The trainer's start of one trial (``TrainConfig``'s init, weights, projection): a student's as its cell says
    (a trial queued before ``init`` existed starts from scratch), the dense teacher's from scratch."""
    init = (attrs.get("init") or DEFAULT_INIT) if attrs.get("role") == "student" else DEFAULT_INIT
    if init == DEFAULT_INIT:
        return {}
    return {"init": init, "weights": config.weights, "projection": config.projection}


def dense_original_teacher(config):
    """A projected student's teacher when the study names none: the dense original it was projected from.

    None (the trainer's own default: knowledge distillation from the dense
    original, α = 0.9) while [distillation]'s weights are their defaults; a
    :class:`DistillConfig` of the dense original with the study's weights once
    it sets them.
    """
    from ..training import DistillConfig

    settings = config.distillation
    weights = {"beta": settings.beta, "alpha": settings.alpha, "temperature": settings.temperature}
    defaults = DistillConfig(teacher=None)
    if all(getattr(defaults, name) == value for name, value in weights.items()):
        return None
    return DistillConfig(teacher=None, **weights)


def start_record(result: dict) -> dict:
    """The trial record's projection fields from a :class:`~budgetsearch.training.TrialResult`'s dict (None where
    the trial started from scratch)."""
    projection, initial = result.get("projection") or {}, result.get("initial") or {}
    return {"projection_weight_error": projection.get("weight_error"),
            "projection_output_error": projection.get("output_error"),
            "projection_layers": projection.get("layers"),
            "projection_batch_norms": projection.get("batch_norms_reestimated"),
            "initial_val_error": initial.get("val_error"), "initial_test_error": initial.get("test_error")}
