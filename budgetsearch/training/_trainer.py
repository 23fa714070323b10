"""``train_trial``: train one (model, substitute, setting) for a few epochs and return a TrialResult.

The whole data set lives on the training device as uint8; each batch is
augmented there in one batched call (budgetsearch.data.augment), so the hot
loop has no per-image Python work and no DataLoader. Randomness comes from
generators seeded by ``config.seed`` (model init and dropout or drop-path
under a forked global RNG, data order and augmentation from a private
``torch.Generator``), so a trial leaves the process's random state and
backend flags as it found them, and on CPU the same seed gives the same result.

A diverging loss or running out of memory ends the trial with a status; any
other exception propagates.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import time
from typing import Callable, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..counting import count
from ..data import Dataset, augment, iterate_batches, load_dataset
from ..errors import ConfigError
from ..models import AuxiliaryOutput, ModelCapabilities, check_model, class_scores
from ..projection import check_closed_forms
from ..timing import TimingSettings, measure
from ._architecture import Architecture, resolve_architecture
from ._checkpoint import Checkpoint, check_checkpoint_path, load_teacher, save_checkpoint
from ._config import TrainConfig
from ._device import Kernels, autocast, is_out_of_memory, memory_format, resolve_device
from ._evaluate import evaluate
from ._initialise import Start, default_distillation, initialise
from ._losses import student_loss
from ._param_groups import reference_ratio, weight_decay_groups
from ._result import TrialResult
from ._resume import read_training_state, restore_training_state, save_training_state, training_identity
from ._schedule import learning_rate, set_learning_rate
from ._speed import speed_record

logger = logging.getLogger(__name__)

EpochCallback = Callable[[int, dict], Optional[bool]]

# On CUDA, reading the loss forces a device sync; NaN propagates into the running sum,
# so checking it every few steps (and at every epoch's end) loses nothing but a few steps.
CUDA_FINITE_CHECK_EVERY = 25


class _Stop(Exception):
    """Raised inside the loop to end the trial with a status."""

    def __init__(self, status: str, message: str, epoch: int):
        super().__init__(message)
        self.status, self.message, self.epoch = status, message, epoch


@dataclasses.dataclass
class _Progress:
    """What the loop has done so far; survives an exception thrown out of it."""

    history: list = dataclasses.field(default_factory=list)
    epoch_throughput: list = dataclasses.field(default_factory=list)  # (images, seconds) of each epoch's training
    epoch: int = 0  # the epoch being run, 1-based
    stage: str = "training"  # or "validation", "testing", "timing": where an out-of-memory happened
    test: Optional[object] = None
    resumed_from: Optional[int] = None  # epochs restored from the trial's training state, if it resumed
    initial: dict = dataclasses.field(default_factory=dict)  # the errors at epoch 0, before any training
    inference: Optional[object] = None  # the trained network's measured forward (a Timing), when asked for

    def images_per_second(self) -> Optional[float]:
        """Training images per second of training-loop time, without the first epoch (compilation, warm-up)
        when later ones ran."""
        counted = self.epoch_throughput[1:] or self.epoch_throughput
        seconds = sum(s for _, s in counted)
        return sum(n for n, _ in counted) / seconds if seconds > 0 else None


@contextlib.contextmanager
def _seeded_global_rng(device: torch.device, seed: int):
    """Seed torch's global generator of ``device`` for the trial and restore it afterwards.

    Dropout and drop-path draw from the global generator, not the trial's own, so
    without this their masks depend on whatever drew from it before the trial.
    """
    cuda = device.type == "cuda"
    with torch.random.fork_rng(devices=[device] if cuda else []):
        if cuda:
            with torch.cuda.device(device):
                torch.cuda.manual_seed(seed)
        else:
            torch.default_generator.manual_seed(seed)
        yield


def _resolve_dataset(dataset: Union[str, Dataset], config: TrainConfig) -> Dataset:
    if isinstance(dataset, Dataset):
        return dataset
    if isinstance(dataset, str):
        return load_dataset(dataset, validation_size=config.validation_size, seed=config.seed)
    raise ConfigError(f"dataset must be a spec string ('digits', 'cifar10:PATH', ...) or a loaded "
                      f"budgetsearch.data.Dataset, but got {dataset!r}")


def _split_output(output, with_maps: bool):
    """``(logits, aux_logits or None, maps or None)`` from a model's forward.

    A forward returns ``logits``, or ``(logits, maps)`` when asked for attention maps;
    a network with an auxiliary head (DARTS, in training mode) returns an
    :class:`AuxiliaryOutput` in place of ``logits``.
    """
    maps = None
    if with_maps:
        output, maps = output
    if isinstance(output, AuxiliaryOutput):
        return output.logits, output.auxiliary, maps
    return class_scores(output), None, maps


def _gives_attention_maps(network: nn.Module) -> bool:
    return isinstance(network, ModelCapabilities) and network.gives_attention_maps


def _attention_sizes(network: nn.Module, example) -> list:
    """Positions of each attention map ``network`` returns for ``example`` (in eval mode, without gradients)."""
    was_training = network.training
    network.eval()
    try:
        with torch.no_grad():
            _, maps = network(example, return_attention=True)
    finally:
        network.train(was_training)
    return [m.shape[1] for m in maps]


def _load_teacher(config: TrainConfig, data: Dataset, num_classes: int, device, fmt, student: nn.Module,
                  architecture: Architecture, start: Start):
    path = config.distill.teacher
    if path is None:  # the dense original the student was projected from
        path = f"the dense original ({start.weights})"
        checkpoint = Checkpoint(start.dense, start.dense_architecture, {"weights": start.weights})
    else:
        checkpoint = load_teacher(config.distill, architecture.model)
    arch = checkpoint.architecture
    if tuple(arch.input_size) != tuple(data.input_size) or arch.num_classes != num_classes:
        raise ConfigError(f"teacher {path} ({arch.label()}) takes inputs {arch.input_size} with "
                          f"{arch.num_classes} classes, but this trial's data set has inputs {data.input_size} "
                          f"with {num_classes} classes")
    teacher = checkpoint.model.to(device=device, memory_format=fmt).eval()
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    if config.distill.beta == 0:  # KD alone: no attention maps to pair
        return teacher, checkpoint
    # Attention transfer pairs the maps one to one: check before training, not at its first step.
    cannot_teach = f"teacher {path} ({arch.label()}) cannot teach {architecture.label()} by attention transfer"
    for role, network, label in (("teacher", teacher, arch.label()), ("student", student, architecture.label())):
        if not _gives_attention_maps(network):
            raise ConfigError(f"{cannot_teach}: the {role} {label} gives no attention maps "
                              f"(its model does not declare gives_attention_maps)")
    example = torch.zeros(2, *data.input_size, device=device).contiguous(memory_format=fmt)
    theirs, ours = _attention_sizes(teacher, example), _attention_sizes(student, example)
    if theirs != ours:
        raise ConfigError(f"{cannot_teach}: its attention maps have {theirs} positions, the student's {ours}, "
                          f"and maps are paired one to one at equal resolutions; use a teacher whose maps match "
                          f"(one of the student's model family)")
    return teacher, checkpoint


def make_optimizer(groups, config: TrainConfig, kernels: Kernels) -> torch.optim.Optimizer:
    """SGD (the CNN recipe) or AdamW, over the weight-decay groups; fused kernels where the device has them."""
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, fused=kernels.fused_sgd or None)
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=False, fused=kernels.fused_sgd)


def _measure_start(network, teacher, start: Start, data: Dataset, config: TrainConfig, device, fmt, mean, std,
                   progress: _Progress) -> None:
    """The errors of weights the trial starts from (loaded or projected), and of the dense original, at epoch 0."""
    if start.init == "scratch":
        return
    progress.stage = "testing"
    splits = {"val": (data.val_images, data.val_labels), "test": (data.test_images, data.test_labels)}
    dense = start.dense.to(device=device, memory_format=fmt) if start.dense is not None else None
    for split, (images, labels) in splits.items():
        images, labels = images.to(device), labels.to(device)
        ours = evaluate(network, images, labels, mean, std, config.eval_batch_size, device, fmt)
        progress.initial |= {f"{split}_error": ours.top1_error, f"{split}_loss": ours.loss}
        if dense is not None:
            progress.initial[f"dense_{split}_error"] = evaluate(dense, images, labels, mean, std,
                                                                config.eval_batch_size, device, fmt).top1_error
    if dense is not None and dense is not teacher:  # only the teacher keeps it on the device
        start.dense.cpu()


def _fit(network, groups, data: Dataset, num_classes: int, config: TrainConfig, device, kernels: Kernels, on_epoch,
         progress: _Progress, teacher_info: dict, architecture: Architecture, save, start: Start, timing,
         resume=None):
    fmt = memory_format(config.channels_last)
    network = network.to(device=device, memory_format=fmt)
    optimizer = make_optimizer(groups, config, kernels)
    teacher = None
    if config.distill is not None:
        teacher, checkpoint = _load_teacher(config, data, num_classes, device, fmt, network, architecture, start)
        teacher_info.update(checkpoint.architecture.to_dict() | {"summary": checkpoint.summary})
    runner = kernels.compiled(network) if config.compile else network

    images, labels = data.train_images.to(device), data.train_labels.to(device)
    val_images, val_labels = data.val_images.to(device), data.val_labels.to(device)
    mean, std = (torch.tensor(values, dtype=torch.float32, device=device) for values in (data.mean, data.std))
    _measure_start(network, teacher, start, data, config, device, fmt, mean, std, progress)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    drop_last = len(images) >= config.batch_size  # fixed batch shape (compile, BN); a fresh order every epoch
    steps = len(images) // config.batch_size if drop_last else 1
    check_every = 1 if device.type == "cpu" else CUDA_FINITE_CHECK_EVERY
    distill, smoothing = config.distill, config.label_smoothing
    with_maps = teacher is not None and distill.beta > 0  # attention transfer pairs the maps
    declared = isinstance(network, ModelCapabilities)
    aux_weight = network.auxiliary_weight if declared else 0.0
    # A network with drop-path (DARTS) declares its final rate; the DARTS recipe raises
    # it linearly from 0 over the epochs.
    final_drop_path = network.drop_path_prob if declared else None

    first_epoch, identity = 0, training_identity(config, architecture, data)
    state = read_training_state(resume, identity) if resume is not None else None
    if state is not None:
        first_epoch = restore_training_state(resume, state, network, optimizer, generator, device)
        progress.history, progress.resumed_from = list(state["history"]), first_epoch
        progress.epoch_throughput = [tuple(pair) for pair in state["epoch_throughput"]]
        logger.info("%s: resumed from %s after epoch %d", architecture.label(), resume, first_epoch)
        for metrics in progress.history:  # this attempt's callback (a study's new trial) sees every epoch
            _report_epoch(on_epoch, metrics)
    for epoch in range(first_epoch, config.epochs):
        progress.epoch, progress.stage = epoch + 1, "training"
        network.train()
        if final_drop_path is not None:
            network.drop_path_prob = final_drop_path * epoch / config.epochs
        started = time.perf_counter()
        sums = {name: torch.zeros((), device=device, dtype=torch.float64) for name in ("loss", "ce", "at", "kd")}
        wrong = torch.zeros((), device=device, dtype=torch.int64)
        seen = 0
        rate = config.lr
        batches = iterate_batches(images, labels, config.batch_size, shuffle=True, generator=generator,
                                  drop_last=drop_last)
        for step, (batch, targets) in enumerate(batches):
            if kernels.cuda_graphs:  # the previous step's graph outputs may be overwritten from here on
                torch.compiler.cudagraph_mark_step_begin()
            rate = learning_rate(config, epoch, step, steps)
            set_learning_rate(optimizer, rate)
            inputs = augment(batch, data.augmentation, mean, std, generator).contiguous(memory_format=fmt)
            with autocast(device):
                logits, aux, maps = _split_output(runner(inputs, return_attention=True) if with_maps
                                                  else runner(inputs), with_maps)
                if teacher is not None:
                    with torch.no_grad():
                        teacher_logits, _, teacher_maps = _split_output(
                            teacher(inputs, return_attention=True) if with_maps else teacher(inputs), with_maps)
                    terms = student_loss(logits, maps, teacher_logits, teacher_maps, targets, distill)
                else:
                    terms = {"loss": F.cross_entropy(logits.float(), targets, label_smoothing=smoothing)}
                if aux is not None:  # the network declares the head's weight (DARTS: 0.4)
                    if not aux_weight:
                        raise ConfigError(f"{architecture.label()} returned an auxiliary output but declares "
                                          f"auxiliary_weight={aux_weight!r}; a model with an auxiliary head "
                                          f"declares the weight (> 0) of its loss")
                    terms["loss"] = terms["loss"] + aux_weight * F.cross_entropy(aux.float(), targets,
                                                                                 label_smoothing=smoothing)
            loss = terms["loss"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip is not None:
                nn.utils.clip_grad_norm_(network.parameters(), config.grad_clip, foreach=True)
            optimizer.step()
            for name, value in terms.items():
                sums[name] += value.detach().double() * len(targets)
            wrong += (logits.detach().argmax(1) != targets).sum()
            seen += len(targets)
            if (step + 1) % check_every == 0 and not torch.isfinite(sums["loss"]):
                raise _Stop("diverged", f"non-finite training loss in epoch {epoch + 1} (by step {step + 1} of "
                                        f"{steps}) at lr {rate:.4g}", epoch + 1)
        if not torch.isfinite(sums["loss"]):  # also syncs the device before the clock stops
            raise _Stop("diverged", f"non-finite training loss in epoch {epoch + 1} at lr {rate:.4g}", epoch + 1)
        seconds = time.perf_counter() - started
        progress.epoch_throughput.append((seen, seconds))

        progress.stage = "validation"
        val = evaluate(network, val_images, val_labels, mean, std, config.eval_batch_size, device, fmt)
        metrics = {
            "epoch": epoch + 1, "lr": rate,
            "train_loss": float(sums["loss"]) / seen, "train_error": 100.0 * int(wrong) / seen,
            "val_loss": val.loss, "val_error": val.top1_error, "val_top5_error": val.top5_error,
            "images_per_second": seen / seconds, "epoch_time": seconds,
        }
        if final_drop_path is not None:
            metrics["drop_path_prob"] = network.drop_path_prob
        if teacher is not None:
            metrics |= {f"train_{name}_loss": float(sums[name]) / seen for name in ("ce", "at", "kd")}
        progress.history.append(metrics)
        _report_epoch(on_epoch, metrics)
        if resume is not None:
            save_training_state(resume, identity, epoch + 1, network, optimizer, generator, device,
                                progress.history, progress.epoch_throughput)

    test_images, test_labels = data.test_images.to(device), data.test_labels.to(device)
    progress.stage = "testing"
    progress.test = evaluate(network, test_images, test_labels, mean, std, config.eval_batch_size, device, fmt)
    if save is not None:
        last = progress.history[-1] if progress.history else progress.initial
        save_checkpoint(save, network, architecture, {
            "dataset": data.name, "dataset_source": data.source, "epochs": config.epochs, "init": config.init,
            "val_error": last["val_error"], "test_error": progress.test.top1_error})
    if timing is not None:  # the eager network, as `count --measure` times it
        progress.stage = "timing"
        progress.inference = measure(network, tuple(data.input_size), timing.batch_size, device, timing.warmup,
                                     timing.repeats, train_step=False)


def _report_epoch(on_epoch, metrics: dict) -> None:
    epoch = metrics["epoch"]
    if on_epoch is not None and on_epoch(epoch, dict(metrics)) is True:
        raise _Stop("pruned", f"pruned by the epoch callback after epoch {epoch}", epoch)


def train_trial(model, substitute="conv", setting=None, dataset: Union[str, Dataset] = "digits",
                config: Optional[TrainConfig] = None, on_epoch: Optional[EpochCallback] = None,
                num_classes: Optional[int] = None, save=None, *, model_options: Optional[dict] = None,
                select: Optional[str] = None, exclude=(), resume=None,
                timing: Optional[TimingSettings] = None) -> TrialResult:
    """Train ``model`` with ``substitute`` at ``setting`` on ``dataset`` and return the trial's result.

    ``dataset``: a spec (``"digits"``, ``"cifar10:PATH"``) loaded with
    ``config.validation_size`` and ``config.seed``, or a loaded Dataset used
    as it is. ``on_epoch(epoch, metrics)`` is called after every epoch
    (``epoch`` = epochs completed, from 1) with the keys of ``history``;
    returning True stops the trial as ``"pruned"``. ``save``: write a
    checkpoint there when the trial completes (replacing a file already
    there); a path that cannot be written is refused before training.
    ``model`` is a registered name, a ``package.module:callable`` reference or a
    callable importable by one (recorded as that reference), built with
    ``model_options``, its layers chosen by ``select`` and ``exclude``. ``resume``:
    a file the training state is written to at each epoch's end and, if it holds
    a state of this same trial, continued from (its epochs are passed to
    ``on_epoch`` again); the caller removes it once the result is recorded.
    ``timing``: once the trial completes, time the trained network's forward
    on its device (:func:`budgetsearch.timing.measure`) and record its latency.
    """
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise ConfigError(f"config must be a TrainConfig, but got {type(config).__name__}")
    if timing is not None and not isinstance(timing, TimingSettings):
        raise ConfigError(f"timing must be a budgetsearch.timing.TimingSettings or None, but got {timing!r}")
    if on_epoch is not None and not callable(on_epoch):
        raise ConfigError(f"on_epoch must be callable or None, but got {on_epoch!r}")
    if save is not None:
        check_checkpoint_path(save, overwrite=True)
    if resume is not None:
        check_checkpoint_path(resume, overwrite=True)
    started = time.perf_counter()
    device = resolve_device(config.device)
    data = _resolve_dataset(dataset, config)
    classes = data.num_classes if num_classes is None else num_classes
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < data.num_classes:
        raise ConfigError(f"num_classes must be an int >= the data set's {data.num_classes} classes, "
                          f"but got {num_classes!r}")
    architecture = resolve_architecture(model, substitute, setting, classes, data.input_size, model_options, select,
                                        exclude)
    if config.init == "projected":
        check_closed_forms([architecture.substitute], config.projection)
    # A size that cannot work is refused before anything is allocated, in training mode too (a training-only head).
    check_model(architecture.model, architecture.num_classes, input_size=data.input_size, training=True,
                **architecture.build_options())

    network = architecture.build(config.seed)
    start = initialise(network, architecture, config, data)
    config = default_distillation(config)
    counted = count(network, data.input_size)  # on the CPU, before the model moves
    ratio, _, reference_params = reference_ratio(architecture)
    groups, decay_records = weight_decay_groups(network, architecture.factory, ratio, config.weight_decay,
                                                config.crs_weight_decay)
    logger.info("%s: weight-decay groups %s", architecture.label(), [g.to_dict() for g in decay_records])

    progress, teacher_info = _Progress(), {}
    status, message, stopped = "complete", f"completed {config.epochs} epochs", None
    out_of_memory = None
    kernels = Kernels.choose(device, config.compile)
    try:
        with kernels.tuned(), _seeded_global_rng(device, config.seed):
            _fit(network, groups, data, classes, config, device, kernels, on_epoch, progress, teacher_info,
                 architecture, save, start, timing, resume)
    except _Stop as stop:
        status, message, stopped = stop.status, stop.message, stop.epoch
    except Exception as error:
        if not is_out_of_memory(error):
            raise
        out_of_memory = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
    if out_of_memory is not None:
        # Outside the except block the traceback (and the tensors its frames hold) is gone.
        del groups, network
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
        stopped = progress.epoch
        status = "oom"
        batch_size = config.batch_size if progress.stage == "training" else \
            timing.batch_size if progress.stage == "timing" else config.eval_batch_size
        message = (f"out of memory in {progress.stage} at batch size {batch_size} in epoch {progress.epoch} "
                   f"on {device}: {out_of_memory}")

    last = progress.history[-1] if progress.history else {}
    test = progress.test
    resolved = config.to_dict() | {
        "device": str(device), "device_requested": config.device,
        "precision": "bf16 autocast" if device.type == "cuda" else "float32",
        "memory_format": "channels_last" if config.channels_last else "contiguous",
        **dataclasses.asdict(kernels),
        "architecture": architecture.to_dict(),
        "dataset": dataset if isinstance(dataset, str) else data.name, "dataset_source": data.source,
        "validation_seed": data.seed, "train_images": len(data.train_images), "val_images": len(data.val_images),
        "test_images": len(data.test_images), "augmentation": dataclasses.asdict(data.augmentation),
        "teacher": teacher_info or None, "stopped_epoch": stopped,
    }
    return TrialResult(
        status=status, message=message,
        val_error=last.get("val_error"), val_top5_error=last.get("val_top5_error"),
        test_error=test.top1_error if test is not None else None,
        test_top5_error=test.top5_error if test is not None else None,
        train_error=last.get("train_error"), train_loss=last.get("train_loss"), val_loss=last.get("val_loss"),
        test_loss=test.loss if test is not None else None,
        epochs_run=len(progress.history), wall_time=time.perf_counter() - started,
        images_per_second=progress.images_per_second(),
        params=counted.params, mult_adds=counted.mult_adds,
        reconstruction_mult_adds=counted.reconstruction_mult_adds, reference_params=reference_params,
        compression_ratio=ratio, convention=counted.convention.to_dict(), config=resolved,
        weight_decay_groups=[g.to_dict() for g in decay_records], history=progress.history,
        resumed_from_epoch=progress.resumed_from,
        initial=start.record() | progress.initial if start.init != "scratch" else None,
        projection=start.projection,
        **speed_record(device, config, resolved["precision"], progress.epoch_throughput, progress.inference),
    )
