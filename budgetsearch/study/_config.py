"""Study files: a TOML file naming what to train, parsed and validated (never executed).

A study is the grid (substitute x budget x seed) of short training trials of
one model on one data set. Every key has a default (written next to its field
below); an unknown key, a wrong type or an impossible value raises
:class:`~budgetsearch.errors.ConfigError` naming the file, the key, the value
and what is allowed. ``docs`` of the format: ``studies/quickstart.toml``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Tuple, Union

from ..data import parse_dataset_spec
from ..errors import BudgetSearchError, ConfigError
from ..timing import TimingSettings
from ..training import MAX_EPOCHS, MAX_SEED, PRESETS, DistillConfig, TrainConfig, check_optimizer_options
from ._fields import Table, describe_type
from ._inits import parse_inits

# Digits and CIFAR shapes, so a study needs no data on disk to be validated or solved.
DATASET_SHAPES = {"digits": ((1, 8, 8), 10), "cifar10": ((3, 32, 32), 10), "cifar100": ((3, 32, 32), 100)}
PRUNERS = ("none", "median", "hyperband")
SAMPLERS = ("tpe", "random")
# Hyperparameters a study may tune per cell; weight_decay_scale multiplies training.weight_decay.
TUNABLE = ("lr", "weight_decay_scale", "momentum")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")  # it names a folder: within any file system's name limit
MAX_STUDY_FILE_BYTES = 1_000_000  # the longest shipped study file is a few kB
# Bounds no real study reaches, so that a typo (an extra zero or three) is refused instead of running for ever.
MAX_SEEDS = 10_000
# A trial's seed, device and teacher come from the study's `seeds`, the worker and [distillation], not [training].
_PER_TRIAL = {"seed": "the top-level key seeds", "device": "the worker's --device",
              "distill": "the [distillation] table", "init": "the top-level key init (its cell)",
              "weights": "the top-level key weights", "projection": "the top-level key projection",
              "weights_strict": "the top-level key weights, which a study loads whole (strictly)"}
_DISTILL_DEFAULTS = {f.name: f.default for f in dataclasses.fields(DistillConfig)
                     if f.name not in ("teacher", "teacher_model")}  # the loss's weights


@dataclass(frozen=True)
class BudgetSpec:
    """One budget: a parameter cap (absolute "1.2M"/1200000 or a fraction of dense "0.1x") and an optional mult-adds cap."""

    params: Union[str, int]
    mult_adds: Union[str, int, None] = None

    @property
    def label(self) -> str:
        """How trials name this budget (the ``budget`` user attribute)."""
        return str(self.params) if self.mult_adds is None else f"{self.params}@{self.mult_adds}"


@dataclass(frozen=True)
class DistillationSettings:
    """Where the teacher comes from, and the distillation loss's weights (validated as a :class:`DistillConfig`)."""

    teacher: str = "none"  # "none", "train" (a dense teacher trial runs first) or a checkpoint path
    beta: float = _DISTILL_DEFAULTS["beta"]
    alpha: float = _DISTILL_DEFAULTS["alpha"]
    temperature: float = _DISTILL_DEFAULTS["temperature"]
    teacher_epochs: Optional[int] = None  # epochs of the "train" teacher; None: training.epochs
    teacher_model: Optional[str] = None  # the model a teacher checkpoint records; None: registered, or the study's

    @property
    def enabled(self) -> bool:
        return self.teacher != "none"

    def distill_config(self, checkpoint) -> DistillConfig:
        """The trainer's distillation settings, with the teacher's weights read from ``checkpoint``."""
        return DistillConfig(teacher=str(checkpoint), beta=self.beta, alpha=self.alpha, temperature=self.temperature,
                             teacher_model=self.teacher_model)


@dataclass(frozen=True)
class PruningSettings:
    pruner: str = "none"  # "median" or "hyperband" stop trials early against same-budget peers
    n_startup_trials: int = 2  # median: complete same-budget trials needed before any pruning
    n_warmup_steps: int = 1  # median: epochs a trial always runs before it can be pruned
    min_resource: int = 1  # hyperband: epochs of the smallest rung
    reduction_factor: int = 3  # hyperband: Optuna's default


@dataclass(frozen=True)
class TunedParam:
    name: str
    low: float
    high: float
    log: bool = True  # learning rates and decay scales vary over orders of magnitude


@dataclass(frozen=True)
class TuningSettings:
    trials: int = 0  # tuning trials per cell; 0 = each cell is trained once at the training settings
    sampler: str = "tpe"  # sees only the trials of the same cell
    params: tuple = ()  # TunedParam, in the file's order

    @property
    def enabled(self) -> bool:
        return self.trials > 0


@dataclass(frozen=True)
class StorageSettings:
    url: Optional[str] = None  # None: a journal file runs/<name>/journal.log; else any Optuna RDB URL
    heartbeat_interval: int = 30  # RDB only: seconds between a running trial's heartbeats
    grace_period: Optional[int] = None  # RDB only: silence after which a trial is stale; None = 2 x interval


@dataclass(frozen=True)
class StudyConfig:
    name: str  # default: the file's stem
    model: str = "wrn-10-1"  # default: small enough for digits on a laptop CPU; or package.module:callable
    dataset: str = "digits"  # built in, no download
    input_size: tuple = (1, 8, 8)  # default: the data set's image shape
    num_classes: int = 10  # default: the data set's
    substitutes: tuple = ("generic", "tucker", "tensor-train", "shuffle")  # or "all" in the file
    budgets: tuple = (BudgetSpec("0.1x"), BudgetSpec("0.2x"), BudgetSpec("0.4x"))
    seeds: tuple = (0,)  # `seeds = N` means 0..N-1
    # How students start (a study axis, see ._inits): from random initialisation, or from `weights` projected.
    init: tuple = ("scratch",)
    weights: Optional[str] = None  # the dense model's trained weights; required when init holds "projected"
    projection: str = "closed"  # budgetsearch.projection's method: "closed", "fit" or "whitened"
    # A cell whose solution uses less than this fraction of its parameter budget is skipped: substitutes with
    # coarse settings (shuffle's groups) can land 20-35% under a budget and would be compared as if they met it,
    # while the continuous ones land within ~5% of every budget; 0.9 keeps every compared point within 10%.
    min_fill: float = 0.9
    training: TrainConfig = field(default_factory=TrainConfig)  # seed, device and distill are set per trial
    distillation: DistillationSettings = field(default_factory=DistillationSettings)
    pruning: PruningSettings = field(default_factory=PruningSettings)
    tuning: TuningSettings = field(default_factory=TuningSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    # `measure = true` (or a [measure] table of TimingSettings' keys): each trial that completes also times its
    # trained network's forward on its own device. None: not timed (training throughput is recorded either way).
    measure: Optional[TimingSettings] = None
    model_options: dict = field(default_factory=dict)  # keyword arguments of a package.module:callable model
    select: Optional[str] = None  # default: a registered family's own substitution points, "spatial" otherwise
    exclude: tuple = ()  # globs on qualified module names kept dense
    # The sys.path entry a referenced model's module was found under when the file was read; workers
    # append it, so they import the same file whatever their working directory.
    model_path: Optional[str] = None
    source: str = field(default="<dict>", compare=False)  # where it was read from, for messages

    def __post_init__(self):
        _check_trial_settings(self)

    @property
    def model_selection(self) -> dict:
        """The model's options and layer choice, as the solver and the trainer take them."""
        return {"select": self.select, "exclude": self.exclude}

    def to_dict(self) -> dict:
        """The study as the plain data a study file holds (every default written out); parses back equal."""
        data = dataclasses.asdict(self)
        data.pop("source")
        data["input_size"] = list(self.input_size)
        data["substitutes"] = list(self.substitutes)
        data["seeds"] = list(self.seeds)
        data["init"] = list(self.init)
        data["exclude"] = list(self.exclude)
        data["training"] = {k: v for k, v in self.training.to_dict().items() if k not in _PER_TRIAL}
        data["budgets"] = [b["params"] if b["mult_adds"] is None else b for b in data["budgets"]]
        tuning = data["tuning"]
        for p in tuning.pop("params"):
            tuning[p.pop("name")] = p
        return _drop_none(data)

    def replace(self, changes: Optional[dict] = None, /, **fields) -> "StudyConfig":
        """A copy with settings changed and the whole study validated again.

        ``replace(dataset="cifar10:PATH")`` changes top-level keys; ``replace({"training.epochs": 1})``
        takes dotted keys into the file's tables (what ``run --set training.epochs=1`` passes). A new
        data set brings its own input size and classes unless those are changed too.
        """
        changes = dict(changes or {}) | fields
        data = self.to_dict()
        for key, value in changes.items():
            *tables, name = key.split(".")
            target = data
            for table in tables:
                if not isinstance(target.get(table, {}), dict):
                    raise ConfigError(f"{self.source}: cannot set {key!r}: {table!r} is not a table")
                target = target.setdefault(table, {})
            target[name] = value
        if "dataset" in changes and not {"input_size", "num_classes"} & changes.keys():
            data.pop("input_size"), data.pop("num_classes")  # follow the new data set
        return parse_study(data, self.source)


def _check_trial_settings(config: StudyConfig) -> None:
    """Refuse a study some of whose trials could not train, naming the study keys that make it so.

    Each kind of trial's settings are built as a worker builds them (:func:`._trial.train_config`): a
    student's, the dense teacher's, and each tuned parameter at both of its bounds.
    """
    from ._trial import train_config

    student = f"with distillation.teacher = {config.distillation.teacher!r} (students are distilled), " \
        if config.distillation.enabled else ""
    kinds = [(student, "student", {})]
    if "projected" in config.init:
        kinds.append(("in a projected student, ", "student", {"init": "projected"}))
    if config.distillation.teacher == "train":
        kinds.append(("in the teacher trial (its epochs: distillation.teacher_epochs, else training.epochs), ",
                      "teacher", {}))
    kinds += [(f"with tuning.{p.name}.{end} = {bound!r}, ", "student", {p.name: bound})
              for p in config.tuning.params for end, bound in (("low", p.low), ("high", p.high))]
    for context, role, attrs in kinds:
        start = {"init": attrs.pop("init")} if "init" in attrs else {}
        try:
            train_config(config, {"role": role, "seed": 0, **start}, attrs, "cpu", "runs")
        except ConfigError as error:  # it names TrainConfig's field, which is the [training] key of the same name
            raise ConfigError(f"{config.source}: {context}training.{str(error).removeprefix('TrainConfig.')}") \
                from None


def parse_assignment(text: str) -> Tuple[str, object]:
    """``"training.epochs=1"`` -> ``("training.epochs", 1)``: a dotted key and a TOML value (a bare word is a string)."""
    key, equals, value = str(text).partition("=")
    key = key.strip()
    if not equals or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", key):
        raise ConfigError(f"a setting must be KEY=VALUE with a dotted key, e.g. training.epochs=1, but got {text!r}")
    try:
        return key, tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return key, value.strip()  # model=wrn-16-4 needs no quotes


def _drop_none(value):
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value


def load_study_config(path) -> StudyConfig:
    """Read and validate the study file at ``path``."""
    path = Path(path)
    try:
        kind = os.stat(path).st_mode
        if not stat.S_ISREG(kind):  # a FIFO would block the read, a device never end it
            raise ConfigError(f"study file {str(path)!r} is not a regular file "
                              f"({'a directory' if stat.S_ISDIR(kind) else 'a device, FIFO or socket'})")
        with open(path, "rb") as handle:
            text = handle.read(MAX_STUDY_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"study file {str(path)!r} does not exist") from None
    except OSError as error:  # a symlink loop, a path under a file, a name too long, no permission...
        raise ConfigError(f"study file {str(path)!r} cannot be read: {error.strerror or error}") from None
    if len(text) > MAX_STUDY_FILE_BYTES:
        raise ConfigError(f"study file {str(path)!r} is larger than {MAX_STUDY_FILE_BYTES:,} bytes; a study file "
                          f"is a short TOML file")
    try:
        data = tomllib.loads(text.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (TOML files are UTF-8): byte {error.start}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except RecursionError:
        raise ConfigError(f"{path}: not valid TOML here: arrays or tables nested too deeply") from None
    data.setdefault("name", path.stem)
    config = parse_study(data, str(path))
    # A key the file writes was given even at its default value (a stored study writes every key out).
    check_optimizer_options(config.training.optimizer, data.get("training", {}), f"{path}: training.")
    return config


def parse_study(data: dict, source: str = "<dict>") -> StudyConfig:
    """Validate a study held as plain data (a parsed TOML file, or :meth:`StudyConfig.to_dict`).

    From Python, ``model`` may also be a callable importable as ``package.module:callable``:
    the study records that reference, which its workers import.
    """
    from ..models import is_reference

    if callable(data.get("model")):
        from ..models import reference_of

        data = data | {"model": reference_of(data["model"])}
    top = Table(source, "", data)
    name = top.get("name", str, check=_NAME.fullmatch,
                   allowed="letters, digits, '.', '_', '-' (it names the folder runs/<name>/)")
    model = top.get("model", str, StudyConfig.model,
                    allowed="a registered model name, e.g. 'wrn-16-4', or package.module:callable")
    if not _names_a_model(model):
        raise top.error("model", model, _model_allowed())
    model_path = top.get("model_path", str, None,
                         allowed="a folder the model's module is imported from (recorded when `run` resolves it)")
    model_options = top.get("model_options", dict, {}, allowed="a table of the model callable's keyword arguments")
    # A registered constructor is budgetsearch's: checked now, where a reference waits for resolve. No options,
    # nothing to check: the family's module (and torch) is not imported to read its signature.
    if model_options and not is_reference(model):
        _check_options(top.source, model, model_options)
    select = top.get("select", str, None, check=_valid_selection,
                     allowed="spatial, pointwise, convs, linear or all")
    exclude = top.get("exclude", list, (), check=lambda v: all(isinstance(g, str) for g in v), convert=tuple,
                      allowed="a list of globs on qualified module names")
    dataset = top.get("dataset", str, StudyConfig.dataset, check=_valid_dataset,
                      allowed="'digits', 'cifar10:PATH' or 'cifar100:PATH'")
    kind = parse_dataset_spec(dataset)[0]
    shape, classes = DATASET_SHAPES[kind]
    input_size = top.get("input_size", list, tuple(shape), convert=tuple,
                         check=lambda v: len(v) == 3 and all(_positive_int(x) for x in v),
                         allowed="[C, H, W], three integers >= 1")
    num_classes = top.get("num_classes", int, classes, check=lambda v: v >= 2, allowed="an integer >= 2")
    substitutes = _substitutes(top)
    budgets = _budgets(top)
    seeds = _seeds(top)
    init, weights, projection = parse_inits(top)
    min_fill = top.get("min_fill", float, StudyConfig.min_fill, check=lambda v: 0 <= v <= 1,
                       allowed="a fraction of the budget in [0, 1] (0: never skip a cell for falling short)")
    training = _training(top)
    config = StudyConfig(
        name=name, model=model, dataset=dataset, input_size=input_size, num_classes=num_classes,
        substitutes=substitutes, budgets=budgets, seeds=seeds, init=init, weights=weights, projection=projection,
        min_fill=min_fill, training=training,
        distillation=_distillation(top), pruning=_pruning(top), tuning=_tuning(top),
        storage=_storage(top), measure=_measure(top), model_options=model_options, select=select, exclude=exclude,
        model_path=model_path,
        source=source,
    )
    top.finish()
    return config


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _valid_dataset(spec: str) -> bool:
    try:
        parse_dataset_spec(spec)
    except ConfigError:
        return False
    return True


def _names_a_model(model: str) -> bool:
    """A registered name, or a syntactically valid reference (importing it is :func:`resolve_model`'s)."""
    from ..models import is_reference, is_registered, split_reference

    if not is_reference(model):
        return is_registered(model)
    try:
        split_reference(model)
    except ConfigError:
        return False
    return True


def _model_allowed() -> str:
    from ..models import list_models

    return "a registered model, e.g. " + ", ".join(list_models()) + ", or package.module:callable"


def _check_options(source: str, model: str, options: dict) -> None:
    from ..models import check_model_options

    try:
        check_model_options(model, options)
    except ConfigError as error:
        raise ConfigError(f"{source}: model_options: {error}") from None


def resolve_model(config: StudyConfig) -> StudyConfig:
    """``config`` with its model imported, its options checked against the model's signature, and ``model_path``
    recorded (the ``sys.path`` entry its module came from, which ``run`` hands its workers).

    Only commands that build the model call this; reading a study (``status``,
    ``frontier``) never imports anything.
    """
    from ..models import add_search_path, is_reference
    from ..models._reference import reference_path_entry

    if not is_reference(config.model):
        return config
    if config.model_path is not None:
        add_search_path(config.model_path)
    try:
        model_path = reference_path_entry(config.model)
    except ConfigError as error:
        raise ConfigError(f"{config.source}: {error}") from None
    _check_options(config.source, config.model, config.model_options)
    return dataclasses.replace(config, model_path=model_path)


def _valid_selection(select: str) -> bool:
    from ..models._names import SELECTION_NAMES

    return select in SELECTION_NAMES


def _substitutes(top: Table) -> tuple:
    from ..substitutes import list_substitutes

    registered = list_substitutes()
    allowed = "'all' or a non-empty list of distinct names from: " + ", ".join(registered)
    value = top.get("substitutes", (str, list), list(StudyConfig.substitutes), allowed=allowed)
    if value == "all":  # every substitute except the dense reference it is compared against
        return tuple(name for name in registered if name != "conv")
    if isinstance(value, str) or not value or len(set(map(str, value))) != len(value) or \
            not all(isinstance(v, str) and v in registered for v in value):
        raise top.error("substitutes", value, allowed)
    return tuple(value)


def _budgets(top: Table) -> tuple:
    allowed = ("a non-empty list of budgets: a parameter count (1200000, '1.2M') or a fraction of dense ('0.1x'), "
               "or a table {params = ..., mult_adds = ...}; labels must be distinct")
    value = top.get("budgets", list, None, allowed=allowed)
    if value is None:
        return StudyConfig.budgets
    if not value:
        raise top.error("budgets", value, allowed)
    budgets = []
    for index, entry in enumerate(value):
        if isinstance(entry, dict):
            table = Table(top.source, f"budgets[{index}]", entry)
            spec = BudgetSpec(table.get("params", (str, int), allowed="a parameter count or fraction of dense"),
                              table.get("mult_adds", (str, int), None, allowed="a mult-adds count or fraction of dense"))
            table.finish()
        elif isinstance(entry, (str, int)) and not isinstance(entry, bool):
            spec = BudgetSpec(entry)
        else:
            raise top.error(f"budgets[{index}]", entry, allowed)
        _check_budget(top, f"budgets[{index}]", spec)
        budgets.append(spec)
    labels = [b.label for b in budgets]
    if len(set(labels)) != len(labels):
        raise top.error("budgets", value, allowed)
    return tuple(budgets)


def _check_budget(top: Table, key: str, spec: BudgetSpec) -> None:
    from ..solver import parse_budget

    for part, text in (("params", spec.params), ("mult_adds", spec.mult_adds)):
        if text is None:
            continue
        try:
            parse_budget(text)
        except BudgetSearchError as error:
            raise top.error(f"{key}.{part}" if spec.mult_adds is not None else key, text,
                            f"a count (1200000, '1.2M') or a fraction of dense ('0.1x') ({error})") from None
        if "|" in str(text):
            raise top.error(key, text, "a budget without '|' (it separates the parts of a cell name)")


def _seeds(top: Table) -> tuple:
    allowed = (f"an integer N in [1, {MAX_SEEDS}] (seeds 0..N-1) or a non-empty list of at most {MAX_SEEDS} distinct "
               f"integers in [0, {MAX_SEED}]")
    value = top.get("seeds", (int, list), 1, allowed=allowed)
    if isinstance(value, int):
        if not 1 <= value <= MAX_SEEDS:
            raise top.error("seeds", value, allowed)
        return tuple(range(value))
    if not value or len(value) > MAX_SEEDS or len(set(map(repr, value))) != len(value) or \
            not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in value):
        raise top.error("seeds", value, allowed)
    return tuple(value)


def _training(top: Table) -> TrainConfig:
    """The ``[training]`` table as a :class:`TrainConfig`: its fields, over a preset's, checked together on load."""
    table = top.sub("training")
    preset = table.get("preset", str, None, check=lambda v: v in PRESETS, allowed=", ".join(map(repr, PRESETS)))
    base = PRESETS[preset] if preset is not None else TrainConfig()
    hints = typing.get_type_hints(TrainConfig)
    values = {}
    for name in (f.name for f in dataclasses.fields(TrainConfig)):
        if name in _PER_TRIAL:
            if table.has(name):
                raise table.error(name, table.values[name], f"no value here: a trial's {name} comes from "
                                  f"{_PER_TRIAL[name]}")
            continue
        kind = _toml_kind(hints[name])
        value = table.get(name, kind, getattr(base, name), allowed=describe_type(kind))
        values[name] = tuple(value) if isinstance(value, list) else value
    table.finish()
    try:
        training = dataclasses.replace(base, **values)
    except ConfigError as error:  # it names TrainConfig's field, which is the [training] key of the same name
        raise ConfigError(f"{table.source}: training.{str(error).removeprefix('TrainConfig.')}") from None
    if not training.validation_size:  # a trial's objective is its validation error
        raise table.error("validation_size", training.validation_size,
                          "a fraction in (0, 1) or an image count >= 1 (a study ranks trials by validation error)")
    return training


def _toml_kind(hint) -> Union[type, tuple]:
    """The TOML value type(s) that hold a :class:`TrainConfig` field of type ``hint``."""
    kinds = typing.get_args(hint) if typing.get_origin(hint) is Union else (hint,)
    kinds = tuple(list if typing.get_origin(k) is tuple else k for k in kinds if k is not type(None))
    return kinds if len(kinds) > 1 else kinds[0]


def _distillation(top: Table) -> DistillationSettings:
    allowed = "'none', 'train' (train a dense teacher first) or a teacher checkpoint path"
    if top.has("distillation") and isinstance(top.values["distillation"], str):
        teacher = top.get("distillation", str, check=bool, allowed=allowed)
        return DistillationSettings(teacher=teacher)
    table = top.sub("distillation")
    teacher = table.get("teacher", str, "none", check=bool, allowed=allowed)
    weights = {name: table.get(name, float, default, allowed="a number") for name, default in _DISTILL_DEFAULTS.items()}
    teacher_epochs = table.get("teacher_epochs", int, None, check=lambda v: 1 <= v <= MAX_EPOCHS,
                               allowed=f"an integer in [1, {MAX_EPOCHS}]")
    teacher_model = table.get("teacher_model", str, None, check=_names_a_model,
                              allowed="the model the teacher checkpoint records: a registered name or "
                                      "package.module:callable")
    table.finish()
    try:
        DistillConfig(teacher=teacher, **weights)
    except ConfigError as error:  # it names DistillConfig's field, which is the [distillation] key of the same name
        raise ConfigError(f"{table.source}: distillation.{str(error).removeprefix('DistillConfig.')}") from None
    return DistillationSettings(teacher=teacher, teacher_epochs=teacher_epochs, teacher_model=teacher_model, **weights)


def _pruning(top: Table) -> PruningSettings:
    allowed = " or ".join(map(repr, PRUNERS))
    if top.has("pruning") and isinstance(top.values["pruning"], str):
        return PruningSettings(pruner=top.get("pruning", str, check=lambda v: v in PRUNERS, allowed=allowed))
    table = top.sub("pruning")
    at_least = lambda low: dict(check=lambda v: v >= low, allowed=f"an integer >= {low}")  # noqa: E731
    settings = PruningSettings(
        pruner=table.get("pruner", str, "none", check=lambda v: v in PRUNERS, allowed=allowed),
        n_startup_trials=table.get("n_startup_trials", int, 2, **at_least(0)),
        n_warmup_steps=table.get("n_warmup_steps", int, 1, **at_least(0)),
        min_resource=table.get("min_resource", int, 1, **at_least(1)),
        reduction_factor=table.get("reduction_factor", int, 3, **at_least(2)),
    )
    table.finish()
    return settings


def _tuning(top: Table) -> TuningSettings:
    table = top.sub("tuning")
    trials = table.get("trials", int, 0, check=lambda v: v >= 0, allowed="an integer >= 0")
    sampler = table.get("sampler", str, "tpe", check=lambda v: v in SAMPLERS, allowed=" or ".join(map(repr, SAMPLERS)))
    params = []
    for name in list(table.values):
        if name in ("trials", "sampler"):
            continue
        if name not in TUNABLE:
            break  # finish() names it with the allowed keys
        spec = table.sub(name)
        low = spec.get("low", float, allowed="a number > 0")
        high = spec.get("high", float, check=lambda v: v > low, allowed=f"a number > low ({low})")
        log = spec.get("log", bool, True, allowed="true or false")
        if low <= 0 and log:
            raise spec.error("low", low, "a number > 0 on a log scale")
        if name == "momentum" and not (0 <= low and high < 1):
            raise spec.error("high", high, "momentum bounds within [0, 1)")
        spec.finish()
        params.append(TunedParam(name, low, high, log))
    table.used.extend(TUNABLE)
    table.finish()
    if trials and not params:
        raise table.error("trials", trials, "0, or tuned parameters as tables, e.g. lr = {low = 0.01, high = 0.3}, "
                          f"from: {', '.join(TUNABLE)}")
    return TuningSettings(trials=trials, sampler=sampler, params=tuple(params))


def _storage(top: Table) -> StorageSettings:
    allowed = "an Optuna RDB URL, e.g. 'postgresql://user@host/db' or 'sqlite:///study.db' (default: journal file)"
    if top.has("storage") and isinstance(top.values["storage"], str):
        return StorageSettings(url=top.get("storage", str, check=lambda v: "://" in v, allowed=allowed))
    table = top.sub("storage")
    settings = StorageSettings(
        url=table.get("url", str, None, check=lambda v: "://" in v, allowed=allowed),
        heartbeat_interval=table.get("heartbeat_interval", int, 30, check=lambda v: v >= 1,
                                     allowed="an integer >= 1 (seconds)"),
        grace_period=table.get("grace_period", int, None, check=lambda v: v >= 1, allowed="an integer >= 1 (seconds)"),
    )
    if settings.grace_period is not None and settings.grace_period <= settings.heartbeat_interval:
        raise table.error("grace_period", settings.grace_period,
                          f"an integer > heartbeat_interval ({settings.heartbeat_interval})")
    table.finish()
    return settings


def _measure(top: Table) -> Optional[TimingSettings]:
    """``measure = true|false``, or a ``[measure]`` table of :class:`TimingSettings`' keys, which times the trials."""
    value = top.get("measure", (bool, dict), False, allowed="true, false or a table of batch_size, warmup, repeats")
    if isinstance(value, bool):
        return TimingSettings() if value else None
    table = Table(top.source, "measure", value)
    values = {f.name: table.get(f.name, int, f.default, allowed="an integer")
              for f in dataclasses.fields(TimingSettings)}
    table.finish()
    try:
        return TimingSettings(**values)
    except ConfigError as error:  # it names TimingSettings' field, which is the [measure] key of the same name
        raise ConfigError(f"{table.source}: measure.{str(error).removeprefix('timing ')}") from None
