"""What a trained network is, by name: enough to rebuild it (for a teacher, a checkpoint, a result)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple, Union

import torch
from torch import nn

from ..errors import ConfigError
from ..models import create_model, input_options, reference_of
from ..substitutes import ConvFactory, Substitute, parse_substitute


@dataclass(frozen=True)
class Architecture:
    """A model (a registered name or a ``package.module:callable`` reference) with one registered substitute
    at one setting, in the layers ``select`` and ``exclude`` choose."""

    model: str
    substitute: str  # registry name
    setting: Union[int, float, None]
    num_classes: int
    input_size: Tuple[int, int, int]
    options: dict = field(default_factory=dict)  # keyword arguments of a referenced model's callable
    select: Optional[str] = None  # None: a registered family's own substitution points, else "spatial"
    exclude: Tuple[str, ...] = ()

    @property
    def factory(self) -> ConvFactory:
        return parse_substitute(self.substitute, self.setting)

    def build(self, seed: int = 0) -> nn.Module:
        """The network, initialised from ``seed`` without touching torch's global random state."""
        # The model is built on the CPU: seed (and afterwards restore) only the CPU generator.
        # torch.manual_seed would also reseed every CUDA generator, which fork_rng(devices=[])
        # does not restore.
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(seed)
            return create_model(self.model, num_classes=self.num_classes, substitute=self.factory,
                                **self.build_options())

    def build_options(self) -> dict:
        """Extra :func:`create_model` arguments: the layers chosen, the model's options, and the input
        channels when they differ from the family's (digits: 1)."""
        return {"select": self.select, "exclude": self.exclude, **input_options(self.model, self.input_size),
                **self.options}

    def label(self) -> str:
        return f"{self.model} {self.factory.label}"

    def to_dict(self) -> dict:
        record = {"model": self.model, "substitute": self.substitute, "setting": self.setting,
                  "num_classes": self.num_classes, "input_size": list(self.input_size)}
        # Only what differs from a family's own build, so records of registered models read as before.
        chosen = {"options": dict(self.options), "select": self.select, "exclude": list(self.exclude)}
        return record | {key: value for key, value in chosen.items() if value}

    @classmethod
    def from_dict(cls, record: dict) -> "Architecture":
        try:
            return cls(str(record["model"]), str(record["substitute"]), record["setting"],
                       int(record["num_classes"]), tuple(int(s) for s in record["input_size"]),
                       dict(record.get("options", {})), record.get("select"), tuple(record.get("exclude", ())))
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"an architecture record needs model, substitute, setting, num_classes and "
                              f"input_size, but got {record!r} ({error})") from None


def resolve_architecture(model, substitute: Union[str, Substitute, ConvFactory], setting,
                         num_classes: int, input_size, options: Optional[dict] = None, select: Optional[str] = None,
                         exclude=()) -> Architecture:
    """Normalise the names a caller passes (``"acdc"`` + 4, ``"acdc:4"``, ``"ACDC_4"``, a factory).

    A callable model is recorded as the reference it is importable by, so its
    checkpoint can be rebuilt in another process.
    """
    if not isinstance(model, str):
        model = reference_of(model)
    if isinstance(substitute, ConvFactory):
        if setting is not None:
            raise ConfigError(f"{substitute.label!r} is already bound to a setting, but setting={setting!r} was also given")
        factory = substitute
    elif isinstance(substitute, Substitute):
        factory = substitute.factory(setting)
    elif isinstance(substitute, str):
        factory = parse_substitute(substitute, setting)
    else:
        raise ConfigError(f"substitute must be a registered name or factory, but got {substitute!r}")
    return Architecture(model, factory.substitute.name, factory.setting, int(num_classes), tuple(input_size),
                        dict(options or {}), select, tuple(exclude))

