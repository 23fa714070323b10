"""Count a network with any substitute by counting each distinct substitution site once.

A network's count with substitute S is its fixed part (everything the factory
does not build) plus, for every substitution site, the count of S's layer at
that site's geometry and input size. Counting is additive because fvcore
counts the operators executed, and a layer executes the same operators alone
as inside the network. So the network is built and traced once, with the
cheap depthwise-separable substitute in every site (one forward finds the
sites and their input sizes, the trace the fixed part; a linear site gets the
dense ``nn.Linear``), and
after that a probe costs one layer per distinct site geometry, cached by what
the setting resolves to there (:meth:`Substitute.resolve`): parameters from the
substitute's own formula (``Substitute.params``) where it has one, else from a
layer built on the meta device (no trace), mult-adds (and the cost of its
rebuilds) from the dispatch counter run on that meta-device layer, only when
asked (a mult-adds cap, or the chosen setting). The dispatch counter on shapes
gives fvcore's counts on real layers for every substitute
(``tests/solver/test_site_counter.py``) in a fraction of the time, whichever
counter the user chose for the whole network (the fixed part); where that is
fvcore, the convention's ``counter`` names both. Under a rule table of the user's, the
sites are counted as the network is: the rules may read what only the chosen
counter provides. Every such
count, and the network's setup, is remembered for the whole process and across
processes (``_site_cache``): budgets, solves and networks that share a site
share its counts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
from collections import Counter
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import torch
from torch import nn

from ..compat import check_mode, compat_factory
from ..compat import hyperparameter as compat_hyperparameter
from ..counting import Convention, check_counter, count, reconstruction_mult_adds, zero_filled
from ..counting._count import DISPATCH
from ..counting._dispatch import meta_shortcuts
from ..models import (KeptDense, ModelSpec, check_forward, create_model, default_input_size, find_model, input_options,
                      is_registered, model_defaults, model_label)
from ..substitutes import ReconstructedModule, RecordingFactory, Substitute, get_substitute, shape_only
from ._search import highest, lowest
from ._site_cache import SITE_COUNTS, disk_key

# Built in every site to find the sites and trace the fixed part: no hyperparameter, cheap to build and run.
# Separable has no linear form; a linear site is probed with the dense nn.Linear, as cheap as any.
_PROBE_SUBSTITUTES = {"conv": "separable", "linear": "conv"}
# What a convention's counter adds when the sites were counted by another counter than the rest of the network.
SITES_ON_META = f"; substitution sites: {DISPATCH} on meta-device layers"
# A convention's counter when fvcore was asked for and the whole network was counted on the meta device: the
# dispatch counter gives fvcore's numbers (tests/solver/test_site_counter.py, tests/counting/test_meta_count.py).
ON_META = f"{DISPATCH} on the meta device, for fvcore (equal counts)"


@dataclass(frozen=True)
class Site:
    """One substitution point: the arguments the model passed its factory, and the input it is applied to.

    A ``"conv"`` site holds ``nn.Conv2d``'s arguments; a ``"linear"`` site is
    ``nn.Linear(in_channels, out_channels, bias)`` and holds a 1×1 geometry, so
    :meth:`Substitute.resolve` reads it as the 1×1 it is sized like. ``input_shape``
    is the input's shape without the batch: ``(C, H, W)``, or ``(..., features)``.
    """

    in_channels: int
    out_channels: int
    kernel_size: Tuple[int, int]
    stride: Tuple[int, int]
    padding: Tuple[int, int]
    dilation: Tuple[int, int]
    bias: bool
    input_shape: Tuple[int, ...]
    kind: str = "conv"

    @property
    def input_hw(self) -> Tuple[int, ...]:
        return self.input_shape[1:]

    @property
    def counting_shape(self) -> Tuple[int, int, int]:
        """The three-dimensional input :func:`count` takes, costing what ``input_shape`` costs.

        A linear layer treats every leading dimension as batch, so its leading shape
        counts as one of ``(1, rows, features)`` with as many rows.
        """
        if self.kind == "conv":
            return self.input_shape
        *leading, features = self.input_shape
        return 1, math.prod(leading), features

    def build(self, substitute: Substitute, setting, compat: Optional[str] = None) -> nn.Module:
        factory = compat_factory(substitute, setting, compat)
        if self.kind == "linear":
            return factory.linear(self.in_channels, self.out_channels, bias=self.bias)
        return factory(self.in_channels, self.out_channels, self.kernel_size, stride=self.stride,
                       padding=self.padding, dilation=self.dilation, bias=self.bias)


@dataclass(frozen=True)
class Totals:
    params: int
    mult_adds: Optional[float] = None  # unrounded: sums of counts round once, at the end


def _trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def inference_signature(layer: nn.Module) -> tuple:
    """Everything a layer's per-image mult-adds depend on, read off a meta-device build.

    Each module contributes its type, and either the shapes of its reconstructed
    tensors (a :class:`ReconstructedModule` computes with nothing else at
    inference) or its ``extra_repr`` and the shapes of its own parameters and
    buffers. Layers with equal signatures at the same site cost the same, so an
    ACDC stack of 113 factors is counted from one of a single factor.
    """
    signature = []
    for name, module in layer.named_modules():
        if isinstance(module, ReconstructedModule):
            signature.append((name, type(module).__name__, module.reconstructed_shapes()))
            continue
        if any(isinstance(parent, ReconstructedModule) for parent in _ancestors(layer, name)):
            continue
        tensors = [(n, tuple(t.shape)) for n, t in (*module.named_parameters(recurse=False),
                                                    *module.named_buffers(recurse=False)) if t is not None]
        signature.append((name, type(module).__name__, module.extra_repr(), tuple(tensors)))
    return tuple(signature)


def _ancestors(root: nn.Module, name: str):
    parts = name.split(".") if name else []
    return [root.get_submodule(".".join(parts[:i])) for i in range(len(parts))]


def build_recording_sites(model: ModelSpec, num_classes: Optional[int], input_size: tuple, factory,
                          linear_factory, options: Optional[dict] = None, select=None,
                          exclude=(), compat: Optional[str] = None, on_meta: bool = False) -> Tuple[nn.Module, Counter]:
    """``model`` built with ``factory`` in every conv substitution point and ``linear_factory.linear`` in every
    linear one, and its sites with their multiplicities.

    ``options``, ``select``, ``exclude`` and ``compat`` go to :func:`create_model`. One forward
    of a batch of one image reads each site's input size. ``on_meta``: built and run on the meta
    device (shapes only, no arithmetic), unless the model cannot run there (a forward or a
    constructor that reads values), when it is built and run for real, as without it.
    """
    build = dict(num_classes=num_classes, substitute=None, select=select, exclude=exclude, compat=compat,
                 input_size=input_size, **{**input_options(model, input_size), **(options or {})})
    if on_meta:
        try:
            return _recorded(model, build, RecordingFactory(factory, linear_factory), on_meta=True)
        except Exception:  # the model's own code, which the meta device may not run: run it for real below
            pass
    return _recorded(model, build, RecordingFactory(factory, linear_factory), on_meta=False)


def _recorded(model: ModelSpec, build: dict, recording: RecordingFactory, on_meta: bool) -> Tuple[nn.Module, Counter]:
    shapes: Dict[nn.Module, tuple] = {}
    with torch.random.fork_rng(devices=[]), shape_only() if on_meta else contextlib.nullcontext():
        network = create_model(model, **(build | {"substitute": recording}))
    hooks = [layer.register_forward_pre_hook(lambda module, args: shapes.__setitem__(module, tuple(args[0].shape[1:])))
             for layer in recording.built]
    try:
        if on_meta:
            was_training = network.training
            with torch.no_grad(), meta_shortcuts():
                network.eval()(torch.zeros(1, *build["input_size"], device="meta"))
            network.train(was_training)
        else:
            check_forward(network, model_label(model), build["input_size"])
    finally:
        for hook in hooks:
            hook.remove()
    # A site the forward never reaches (a training-only head) is not part of the count.
    sites = Counter(Site(**arguments, input_shape=shapes[layer]) for layer, arguments in recording.built.items()
                    if layer in shapes)
    return network, sites


class NetworkCounter:
    """Exact counts of ``model`` built with any substitute at any setting, without building the network.

    ``model`` is anything :func:`create_model` builds (a registered name, a
    reference, a callable, an ``nn.Module``), with its ``options`` and the layers
    ``select`` and ``exclude`` choose; ``rules`` is the operator table, as
    :func:`count` takes it. Its numbers equal ``count(create_model(model, ...,
    substitute, setting, compat=compat, select=select, exclude=exclude, **options),
    input_size, compat=compat, rules=rules)``.
    """

    def __init__(self, model: ModelSpec, num_classes: Optional[int] = None, input_size: Optional[tuple] = None,
                 compat: Optional[str] = None, *, options: Optional[dict] = None, select=None, exclude=(),
                 rules: Optional[dict] = None):
        default_classes, default_size, self.reference = model_defaults(model)
        self.source = model
        self.model = model_label(model)
        self.options = dict(options or {})
        self.select, self.exclude, self.rules = select, tuple(exclude), rules
        self.compat = check_mode(compat)
        self.num_classes = default_classes if num_classes is None else num_classes
        self.input_size = tuple(input_size or default_size or default_input_size(model))
        self._meta_layers: Dict[tuple, nn.Module] = {}
        self._rules_key = None if rules is None else tuple(sorted(rules.items(), key=lambda item: item[0]))
        try:
            hash(self._rules_key)
        except TypeError:  # an unhashable handle: counts under these rules are this counter's alone
            self._rules_key = object()
        setup_key = ("setup", model, self.num_classes, self.input_size, self.compat, _options_key(self.options), select,
                     self.exclude, self._rules_key)
        try:
            hash(setup_key)
        except TypeError:
            setup_key = None
        if setup_key is None or isinstance(model, nn.Module):  # a module may change between calls
            setup = self._setup()
        else:
            setup = SITE_COUNTS.get("setups", setup_key, lambda: self._stored_setup_key(model, select), self._setup)
        self.sites = Counter({_site(fields): n for fields, n in setup["sites"]})
        self.kept_dense = tuple(KeptDense(*kept) for kept in setup["kept_dense"])
        convention = Convention(**(setup["convention"] | {"input_size": tuple(setup["convention"]["input_size"])}))
        if setup["on_meta"] and check_counter(None) == "fvcore":  # counted for fvcore, by its stand-in
            convention = dataclasses.replace(convention, counter=convention.counter.replace(DISPATCH, ON_META, 1))
        elif self._site_counter() == "dispatch" and not convention.counter.startswith(DISPATCH):
            convention = dataclasses.replace(convention, counter=convention.counter + SITES_ON_META)
        self.convention = convention
        self.fixed = Totals(*setup["fixed"])
        # The probe rebuilds no weight, so every rebuild the probe network counts is in the fixed part.
        self.fixed_rebuild = setup["fixed_rebuild"]

    def _setup(self) -> dict:
        """The sites, found by one forward of the network with probes in them, and the fixed part, by one count.

        Where the sites are counted on the meta device, so is the network (when it runs there):
        its count then costs no arithmetic, whatever the network's size.
        """
        probes = {kind: get_substitute(name) for kind, name in _PROBE_SUBSTITUTES.items()}
        network, sites = build_recording_sites(self.source, self.num_classes, self.input_size,
                                               compat_factory(probes["conv"], None, self.compat),
                                               probes["linear"].factory(), self.options, self.select, self.exclude,
                                               self.compat, on_meta=self._site_counter() == "dispatch")
        on_meta = any(p.is_meta for p in network.parameters())
        whole = count(network, self.input_size, compat=self.compat, rules=self.rules,
                      counter="dispatch" if on_meta else None)
        in_sites_params = sum(n * self._site_params(site, probes[site.kind], None) for site, n in sites.items())
        in_sites_mult_adds = sum(n * self._site_mult_adds(site, probes[site.kind], None) for site, n in sites.items())
        return {"sites": [(dataclasses.asdict(site), n) for site, n in sites.items()],
                "kept_dense": [(kept.name, kept.reason) for kept in network.kept_dense],
                "convention": whole.convention.to_dict(), "on_meta": on_meta,
                "fixed": (whole.params - in_sites_params, whole.exact_mult_adds - in_sites_mult_adds),
                "fixed_rebuild": whole.reconstruction_mult_adds}

    def _site_counter(self) -> str:
        """The counter of per-site counts: dispatch on meta-device layers, unless the user's rules ask for theirs."""
        return "dispatch" if self.rules is None else check_counter(None)

    def _stored_setup_key(self, model, select) -> Optional[str]:
        """The setup's key on disk: only for a built-in family under the default rules, with plain options."""
        if self.rules is not None or not is_registered(model) or not (select is None or isinstance(select, str)):
            return None
        if not _builtin(find_model(model)[0].build) or not _plain(self.options):
            return None
        return disk_key(("setup", model, self.num_classes, self.input_size, self.compat,
                         _options_key(self.options), select, self.exclude))

    def build(self, factory) -> nn.Module:
        """The network with ``factory`` in its substitution points: the one these counts describe."""
        return create_model(self.source, num_classes=self.num_classes, substitute=factory, compat=self.compat,
                            select=self.select, exclude=self.exclude, input_size=self.input_size,
                            **{**input_options(self.source, self.input_size), **self.options})

    def _key(self, site: Site, substitute: Substitute, setting) -> tuple:
        """What a site's counts depend on. The substitute itself, not its name: a name may be registered anew."""
        resolved = substitute.resolve(site.in_channels, site.out_channels, site.kernel_size, setting)
        return site, substitute, resolved, self.compat, self._rules_key

    def _stored_key(self, table: str, key: tuple) -> Optional[str]:
        """``key`` on disk, or None where the count may change without the package changing."""
        site, substitute, resolved, compat, rules = key
        if rules is not None or not all(_builtin(f) for f in (substitute.build, substitute.sizes, substitute.linear,
                                                               substitute.params)):
            return None
        return disk_key((table, site, substitute.name, resolved, compat))

    def _remembered(self, table: str, site: Site, substitute: Substitute, setting, compute):
        key = self._key(site, substitute, setting)
        return SITE_COUNTS.get(table, key, lambda: self._stored_key(table, key), compute)

    def _meta_layer(self, site: Site, substitute: Substitute, setting) -> nn.Module:
        """The layer at ``setting``, built once per resolved size on the meta device (it holds no memory)."""
        key = self._key(site, substitute, setting)
        if key not in self._meta_layers:
            with shape_only():
                self._meta_layers[key] = site.build(substitute, setting, self.compat)
        return self._meta_layers[key]

    def _site_params(self, site: Site, substitute: Substitute, setting) -> int:
        return self._remembered("params", site, substitute, setting,
                                lambda: self._counted_params(site, substitute, setting))

    def _counted_params(self, site: Site, substitute: Substitute, setting) -> int:
        """By the substitute's own formula where it has one for what would be built, else off a meta-device build."""
        if substitute.params is None or self.compat is not None or site.kind not in substitute.layer_kinds:
            return _trainable(self._meta_layer(site, substitute, setting))
        substitute.check_setting(setting)  # as building it would
        resolved = substitute.resolve(site.in_channels, site.out_channels, site.kernel_size, setting)
        return substitute.params(site.in_channels, site.out_channels, site.kernel_size, site.bias, resolved)

    def _signature(self, site: Site, substitute: Substitute, setting) -> tuple:
        key = self._key(site, substitute, setting)
        if self.compat is not None:
            # A mode's rules may read a layer's hyperparameters (the original's ACDC cost
            # grows with its factors), not just the shapes it computes with.
            return key
        return SITE_COUNTS.get("signatures", key, None, lambda: (
            site, substitute, inference_signature(self._meta_layer(site, substitute, setting)), self._rules_key))

    def _site_mult_adds(self, site: Site, substitute: Substitute, setting) -> float:
        return self._remembered("mult_adds", site, substitute, setting,
                                lambda: self._traced_mult_adds(site, substitute, setting))

    def _traced_mult_adds(self, site: Site, substitute: Substitute, setting) -> float:
        """The layer's mult-adds, traced once per inference signature: settings that compute alike share a trace."""
        signature = self._signature(site, substitute, setting)

        def trace(setting=setting) -> float:
            # Any setting with this signature costs the same: count the cheapest one to build.
            hp = compat_hyperparameter(substitute, self.compat)
            cheapest = None if hp is None else lowest(hp) if hp.grows else highest(hp)
            if cheapest is not None and self._signature(site, substitute, cheapest) == signature:
                setting = cheapest
            counter = self._site_counter()
            if counter == "dispatch":  # shapes are all a count reads
                layer = self._meta_layer(site, substitute, setting)
            else:  # built for its shapes only (no initialisation, no calibration), then given zero storage to trace
                with shape_only():
                    layer = zero_filled(site.build(substitute, setting, self.compat))
            return count(layer, site.counting_shape, compat=self.compat, rules=self.rules, counter=counter,
                         rebuilds=False).exact_mult_adds

        return SITE_COUNTS.get("traces", signature, None, trace)

    def _sum(self, substitute_at, setting, with_mult_adds: bool) -> Totals:
        """The sites' totals, each site built with ``substitute_at(site)``."""
        params = sum(n * self._site_params(site, substitute_at(site), setting) for site, n in self.sites.items())
        if not with_mult_adds:
            return Totals(params)
        return Totals(params, sum(n * self._site_mult_adds(site, substitute_at(site), setting)
                                  for site, n in self.sites.items()))

    def params(self, substitute: Substitute, setting) -> int:
        """Trainable parameters of the network with ``substitute`` at ``setting``."""
        return self.fixed.params + self._sum(lambda site: substitute, setting, with_mult_adds=False).params

    def totals(self, substitute: Substitute, setting) -> Totals:
        """Parameters and per-image mult-adds (rounded as ``count`` rounds) with ``substitute`` at ``setting``."""
        in_sites = self._sum(lambda site: substitute, setting, with_mult_adds=True)
        return Totals(self.fixed.params + in_sites.params, round(self.fixed.mult_adds + in_sites.mult_adds))

    def _site_rebuild(self, site: Site, substitute: Substitute, setting) -> int:
        return self._remembered("rebuilds", site, substitute, setting,
                                lambda: reconstruction_mult_adds(self._meta_layer(site, substitute, setting),
                                                                 counter=self._site_counter()))

    def reconstruction_mult_adds(self, substitute: Substitute, setting) -> int:
        """Mult-adds of rebuilding the network's reconstructed weights once: per training step, any batch."""
        return self.fixed_rebuild + sum(n * self._site_rebuild(site, substitute, setting)
                                        for site, n in self.sites.items())

    @functools.cached_property
    def dense(self) -> Totals:
        """The network as its authors built it (the family's reference substitute)."""
        return self.totals(get_substitute(self.reference), None)


def _site(fields: dict) -> Site:
    """A :class:`Site` from its fields as stored (JSON turns its tuples into lists)."""
    return Site(**{name: tuple(value) if isinstance(value, list) else value for name, value in fields.items()})


def _options_key(options: dict) -> tuple:
    return tuple(sorted(options.items()))


def _plain(value) -> bool:
    """Whether ``value``'s ``repr`` says all there is to it (so it can key a count on disk)."""
    if isinstance(value, (tuple, list)):
        return all(_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return value is None or isinstance(value, (bool, int, float, str))


def _builtin(code) -> bool:
    """Whether ``code`` is budgetsearch's own (so the package's version and source cover it); None is."""
    return code is None or (getattr(code, "__module__", None) or "").startswith("budgetsearch.")


def network_counter(model: ModelSpec, num_classes: Optional[int] = None, input_size: Optional[tuple] = None,
                    compat: Optional[str] = None, *, options: Optional[dict] = None, select=None, exclude=(),
                    rules: Optional[dict] = None) -> NetworkCounter:
    """A shared :class:`NetworkCounter`: its traces and per-site counts are reused across solves.

    An ``nn.Module`` (which may change between calls) or unhashable options get a counter of their own.
    """
    default_classes, default_size, _ = model_defaults(model)
    classes = default_classes if num_classes is None else num_classes
    size = tuple(input_size or default_size or default_input_size(model))
    key = (model, classes, size, check_mode(compat), tuple(sorted((options or {}).items())), select, tuple(exclude),
           None if rules is None else tuple(sorted(rules.items())), check_counter(None))
    try:
        hash(key)
    except TypeError:
        key = None
    if key is None or isinstance(model, nn.Module):
        return NetworkCounter(model, classes, size, compat, options=options, select=select, exclude=exclude,
                              rules=rules)
    return _shared_counter(key)


@functools.lru_cache(maxsize=16)
def _shared_counter(key: tuple) -> NetworkCounter:
    model, classes, size, compat, options, select, exclude, rules, _ = key  # each counter in use has its own
    return NetworkCounter(model, classes, size, compat, options=dict(options), select=select, exclude=exclude,
                          rules=None if rules is None else dict(rules))


def forget_counts() -> None:
    """Forget every count and counter this process remembers, as a new process starts (the disk copy stays)."""
    SITE_COUNTS.clear()
    _shared_counter.cache_clear()
