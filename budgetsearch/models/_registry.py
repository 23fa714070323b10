"""Models created by name: ``create_model("wrn-16-4", num_classes=10, substitute="tucker", setting=0.4)``.

The families are found by name in :mod:`._families`; this module builds them.
"""

from __future__ import annotations

import inspect
from typing import Optional

from torch import nn

from ..compat import check_mode, compat_factory
from ..errors import ConfigError
from ..substitutes import RecordingFactory, get_substitute
from ._capabilities import complete_declaration
from ._families import ModelFamily, registered_family
from ._reference import ModelSpec, build_any, check_options, default_num_classes, load_reference, model_label
from ._size_check import check_buildable
from ._substitute import substitute as substitute_layers


def create_model(name: ModelSpec, num_classes: Optional[int] = None, substitute="conv", setting=None,
                 compat: Optional[str] = None, select=None, exclude=(), *, input_size: Optional[tuple] = None,
                 **options) -> nn.Module:
    """Build a model with its substitution points built by ``substitute`` at ``setting``.

    ``name`` is a registered name, a reference ``package.module:callable``, a
    callable returning an ``nn.Module`` (called with ``options``, and with
    ``num_classes`` where it accepts it) or an ``nn.Module`` (copied, never modified).
    ``substitute`` is a registered name (``"tucker"``, ``"Tucker_0.41"``), a
    :class:`~budgetsearch.substitutes.ConvFactory`, or any callable with ``nn.Conv2d``'s signature.
    ``compat="deficient-efficient"`` builds the substitutes with the original code's quirks
    and accepts its fixed setting strings (``HashedDecimate``, ``OriginalACDC``); see
    :mod:`budgetsearch.compat`.

    A registered family builds its own substitution points; ``select`` and
    ``exclude`` (see :func:`~budgetsearch.models.substitute`) choose others, and are
    how any other model chooses its layers (``select=None``: ``"spatial"``).
    The model records the qualified names of the modules ``substitute`` built as
    ``model.substitution_points``: :func:`~budgetsearch.models.substitute` replaces
    exactly those by default, so substituting a dense build gives the same network.
    Whatever it builds implements :class:`~budgetsearch.models.ModelCapabilities`: a
    family declares what it offers, any other model is declared to offer nothing more
    than its logits (unless it declares otherwise itself).

    A registered family is first built on the meta device, where a size that
    cannot work is refused before any tensor is allocated: more parameters or
    modules than the limits allow (see :mod:`budgetsearch.models._size_check`)
    or, where ``input_size`` (C, H, W) is given, a network that does not run at it
    (:func:`check_model`).
    """
    factory = compat_factory(substitute, setting, compat)
    registered = registered_family(name)
    if registered is not None:
        family, arguments = registered
        classes = family.num_classes if num_classes is None else num_classes
        compat_options = family.compat_options.get(check_mode(compat), {})
        check_options(family.build, options, name, fixed=_fixed_by_name(family, arguments) + tuple(compat_options))
        own_points = select is None and not exclude
        # Chosen points are substituted into the family as its authors built it, every point dense.
        recording = RecordingFactory(factory if own_points else get_substitute("conv").factory())
        check_model(name, classes, compat, input_size=input_size, **options)
        model = family.build(*arguments, num_classes=classes, conv=recording, **compat_options, **options)
        model.substitution_points = recording.points(model)
        model.kept_dense = ()
        if own_points:
            return complete_declaration(model)
    else:
        model = build_any(name, num_classes, **options)
    report = substitute_layers(model, factory, select=select, exclude=exclude)
    model.substitution_points = tuple(r.name for r in report.replaced)
    model.kept_dense = report.kept_dense  # selected, but grouped or otherwise not substitutable
    return complete_declaration(model)


def _fixed_by_name(family: ModelFamily, arguments: tuple) -> tuple:
    """The constructor arguments a family's name and budgetsearch set: its groups (wrn-DEPTH-WIDTH), classes, convs."""
    parameters = list(inspect.signature(family.build).parameters)
    return tuple(parameters[:len(arguments)]) + ("num_classes", "conv")


def check_model_options(model: str, options: dict) -> None:
    """Refuse, without building anything, options the model's constructor does not take (see
    :func:`~budgetsearch.models.check_options`); a reference is imported to read its signature."""
    registered = registered_family(model)
    if registered is not None:
        family, arguments = registered
        check_options(family.build, options, model, fixed=_fixed_by_name(family, arguments))
    else:
        check_options(load_reference(model), options, model, fixed=("num_classes",))


def _builder(family: ModelFamily, arguments: tuple, num_classes: int, compat: Optional[str], options: dict):
    """``build(conv)``: the family's network with ``conv`` in its substitution points."""
    def build(conv) -> nn.Module:
        return family.build(*arguments, num_classes=num_classes, conv=conv,
                            **family.compat_options.get(check_mode(compat), {}), **options)

    return build


def check_model(name: ModelSpec, num_classes: Optional[int] = None, compat: Optional[str] = None, *,
                input_size: Optional[tuple] = None, training: bool = False, select=None, exclude=(),
                **options) -> None:
    """Refuse a registered ``name`` that cannot work, as :func:`create_model` with the same arguments would
    build it, before anything is allocated (see :func:`~budgetsearch.models._size_check.check_buildable`):
    too many parameters or modules, or a network that does not run at ``input_size`` (in training mode
    too, with ``training``). Any other model is the user's code, and is not built here."""
    registered = registered_family(name)
    if registered is None:
        return
    family, arguments = registered
    classes = family.num_classes if num_classes is None else num_classes
    runs_at = None if input_size is None else (tuple(input_size)[0], *family.input_size[1:])
    if runs_at == tuple(input_size or ()) and set(options) <= {"in_channels"}:
        input_size = None  # the family's own size, as built without options: its tests run it there
    check_buildable(name, _builder(family, arguments, classes, compat, options), input_size, runs_at, training)


def model_defaults(model: ModelSpec) -> tuple:
    """``(num_classes, input_size, reference)`` a model is built and counted with when the caller gives none.

    A model that is not registered has no known input size (None) and is relative to dense convs.
    """
    registered = registered_family(model)
    if registered is not None:
        family = registered[0]
        return family.num_classes, family.input_size, family.reference
    return default_num_classes(model), None, "conv"


def default_input_size(name: ModelSpec) -> tuple:
    registered = registered_family(name)
    if registered is None:
        raise ConfigError(f"model {model_label(name)!r} is not registered, so its input size must be given "
                          f"(--input-size C,H,W on the command line, input_size= in Python, or a study's dataset)")
    return registered[0].input_size


def input_options(name: ModelSpec, input_size) -> dict:
    """Constructor arguments for inputs whose channels (digits: 1) or side (where the family's shapes depend
    on it) differ from the family's; an input size the family does not run at is refused, saying what it needs."""
    registered = registered_family(name)
    if registered is None:
        return {}  # the user's own model is built as they wrote it
    family = registered[0]
    size = tuple(input_size)
    needs = family.input_rule(size) if family.input_rule is not None else None
    if needs is not None:
        raise ConfigError(f"model {name!r} does not run at input size {','.join(map(str, size))}: it needs {needs}")
    options = {"in_channels": size[0]} if size[0] != family.input_size[0] else {}
    if family.image_size_option is not None and size[1] != family.input_size[1]:
        options[family.image_size_option] = size[1]
    return options
