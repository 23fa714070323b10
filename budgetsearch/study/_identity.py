"""When two study configurations are the same study: the settings that shape its results, compared by digest.

Where a study is stored, where its data and its dense weights lie on one
machine and where its model's module was found there may differ between the
machines and runs of one study; everything else must agree, or results would
be mixed. The data and the weights are compared by content instead
(:data:`DATA_ATTR`, :data:`~._inits.WEIGHTS_ATTR`).
"""

from __future__ import annotations

import hashlib
import json

from ..data import parse_dataset_spec
from ._config import StudyConfig

DATA_ATTR = "budgetsearch:data"  # study user attribute: what the data set is, by content (dataset_fingerprint)
_LOCAL = ("model_path",)  # where this machine found the model's module


def comparable(data: dict) -> dict:
    """A study's plain data (:meth:`StudyConfig.to_dict`) without what may differ between its machines and runs."""
    data = json.loads(json.dumps(data))
    data.get("storage", {}).pop("url", None)
    for key in _LOCAL:
        data.pop(key, None)
    if isinstance(data.get("dataset"), str):
        data["dataset"] = parse_dataset_spec(data["dataset"])[0]
    if data.get("weights") is not None:  # where the file lies; what it holds is compared by its digest
        data["weights"] = "given"
    return data


def config_digest(config: StudyConfig) -> str:
    """SHA-256 of the canonical JSON of ``comparable(config.to_dict())``."""
    canonical = json.dumps(comparable(config.to_dict()), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def changed_settings(old: dict, new: dict) -> dict:
    """``{dotted key: (old value, new value)}`` of the settings that differ between two plain-data studies, tables
    compared key by key (None: absent)."""
    changes = {}
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        if isinstance(before, dict) and isinstance(after, dict):
            changes |= {f"{key}.{k}": pair for k, pair in changed_settings(before, after).items()}
        elif before != after:
            changes[key] = (before, after)
    return changes


def described_differences(old: dict, new: dict, labels=("stored", "given"), shown: int = 3) -> str:
    """``"model (stored 'a', given 'b'), seeds (...)"``: the first ``shown`` differing keys with both values."""
    changes = list(changed_settings(old, new).items())
    parts = [f"{key} ({labels[0]} {_short(before)}, {labels[1]} {_short(after)})" for key, (before, after)
             in changes[:shown]]
    return ", ".join(parts) + (f" and {len(changes) - shown} more" if len(changes) > shown else "")


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
