"""``train``: one model with a substitute trained for a few epochs (a trial), from a preset and overrides."""

from __future__ import annotations

import argparse
import sys

from budgetsearch.errors import ConfigError
from budgetsearch.projection import METHODS  # the names alone: no torch

from ._commands import command
from ._options import MAX_CLASSES, add_model_selection, model_selection, whole_number
from ._output import print_json, print_table


def _configure_train(parser):
    parser.add_argument("--model", default="wrn-16-2",
                        help="registered model name or package.module:callable (default: wrn-16-2)")
    add_model_selection(parser)
    parser.add_argument("--substitute", default="conv", help="NAME, NAME:SETTING or the original NAME_SETTING")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--setting", type=float, default=None, help="the substitute's hyperparameter value")
    size.add_argument("--budget", default=None, help="parameter budget (1.2M, 0.1x of the reference network); "
                      "the solver picks the setting")
    add_training_options(parser)
    add_weights_options(parser)
    parser.add_argument("--init", choices=("loaded", "projected"), default=None,
                        help="with --weights: loaded (the weights are this network's own, the default) or projected "
                             "(they are the dense model's, projected onto --substitute at its setting)")
    parser.add_argument("--projection", choices=METHODS, default="closed",
                        help="--init projected: how (see budgetsearch compress)")
    parser.add_argument("--save", default=None, help="write a checkpoint of the trained model here")
    parser.add_argument("--overwrite", action="store_true", help="let --save replace an existing file")
    parser.add_argument("--json", action="store_true", help="print the trial's result as one JSON object")


def add_weights_options(parser, required: bool = False) -> None:
    parser.add_argument("--weights", required=required, default=None,
                        help="trained weights: a state_dict saved with torch.save, a .safetensors file or a "
                             "budgetsearch checkpoint (a transformers folder: a --model reference calling "
                             "from_pretrained, see examples/pretrained.py)")
    parser.add_argument("--weights-strict", type=_true_or_false, default=True, metavar="true|false",
                        help="every key of --weights must fit the model (default: true); false loads what fits and "
                             "prints what stayed at its random initialisation")


def _true_or_false(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"must be true or false, but got {text[:100]!r}")
    return text.lower() == "true"


def add_training_options(parser, epochs_help: str = "epochs to train") -> None:
    """How a trial trains: the data, the preset and its overrides, the teacher (shared by train and compress)."""
    parser.add_argument("--dataset", default="digits", help="digits (default), cifar10:PATH or cifar100:PATH")
    parser.add_argument("--num-classes", type=whole_number(2, MAX_CLASSES), default=None,
                        help="classes of the head (default: the data set's)")
    parser.add_argument("--preset", default="short", help="training preset the options below override "
                        "(short, original, darts-original; default: short)")
    parser.add_argument("--epochs", type=int, default=None, help=epochs_help)
    parser.add_argument("--batch-size", type=int, default=None, help="images per step")
    parser.add_argument("--lr", type=float, default=None, help="initial learning rate")
    parser.add_argument("--weight-decay", type=float, default=None, help="SGD weight decay")
    parser.add_argument("--schedule", default=None, help="cosine or original-steps")
    parser.add_argument("--milestones", default=None,
                        help="original-steps: epochs at which the lr is multiplied by --gamma (default 60,120,160)")
    parser.add_argument("--gamma", type=float, default=None, help="original-steps: the lr factor (default 0.2)")
    parser.add_argument("--optimizer", default=None, help="sgd (default) or adamw")
    parser.add_argument("--betas", default=None, help="adamw: beta1,beta2 (default 0.9,0.999)")
    parser.add_argument("--warmup-epochs", type=float, default=None, help="linear lr warmup, in epochs (default 0)")
    parser.add_argument("--label-smoothing", type=float, default=None, help="cross-entropy label smoothing (default 0)")
    parser.add_argument("--grad-clip", type=float, default=None, help="clip the gradients' total norm (default: off)")
    parser.add_argument("--no-crs-wd", action="store_true", help="same weight decay for every parameter")
    parser.add_argument("--validation-size", type=float, default=None,
                        help="held-out training images: a fraction < 1 or a count (default 0.1)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the split, initialisation and batches")
    parser.add_argument("--device", default=None, help="auto (default), cpu, cuda or cuda:N")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (on CUDA with CUDA graphs)")
    parser.add_argument("--teacher", default=None, help="checkpoint of a teacher (written with --save) to distil from")
    parser.add_argument("--teacher-model", default=None,
                        help="the model the teacher checkpoint was trained as (needed for a package.module:callable "
                             "other than --model: a checkpoint never chooses code to import)")
    parser.add_argument("--beta", type=float, default=None, help="attention-transfer weight (default 1e3)")
    parser.add_argument("--alpha", type=float, default=None, help="KD weight (default 0: KD off)")
    parser.add_argument("--temperature", type=float, default=None, help="KD temperature (default 4)")


def _comma_separated(text: str, convert, flag: str, allowed: str) -> tuple:
    try:
        return tuple(convert(item) for item in text.split(","))
    except ValueError:
        raise ConfigError(f"{flag} must be {allowed}, but got {text!r}") from None


def _train_config(args, init: str = "scratch"):
    import dataclasses

    from budgetsearch.training import PRESETS, PROJECTED_DISTILLATION, DistillConfig, check_optimizer_options

    if args.preset not in PRESETS:
        raise ConfigError(f"--preset must be one of {sorted(PRESETS)}, but got {args.preset!r}")
    overrides = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                 "weight_decay": args.weight_decay, "schedule": args.schedule, "seed": args.seed,
                 "device": args.device, "gamma": args.gamma, "optimizer": args.optimizer,
                 "warmup_epochs": args.warmup_epochs, "label_smoothing": args.label_smoothing,
                 "grad_clip": args.grad_clip}
    if args.betas is not None:
        overrides["betas"] = _comma_separated(args.betas, float, "--betas", "two comma-separated numbers such as "
                                                                            "0.9,0.999")
    if args.milestones is not None:
        overrides["milestones"] = _comma_separated(args.milestones, int, "--milestones",
                                                   "comma-separated epochs such as 60,120,160")
    if args.validation_size is not None:
        size = args.validation_size
        # "--validation-size 500" is a count; a non-integral or non-finite value goes to TrainConfig to be refused
        overrides["validation_size"] = int(size) if size >= 1 and size.is_integer() else size
    if args.no_crs_wd:
        overrides["crs_weight_decay"] = False
    if args.compile:
        overrides["compile"] = True
    if args.weights is not None:
        overrides |= {"init": init, "weights": args.weights, "weights_strict": args.weights_strict,
                      "projection": args.projection}
    elif args.init is not None or not args.weights_strict:
        raise ConfigError("--init and --weights-strict describe how --weights start the trial, but got no --weights")
    distill = {name: getattr(args, name) for name in ("beta", "alpha", "temperature")
               if getattr(args, name) is not None}
    if args.teacher is not None:
        overrides["distill"] = DistillConfig(args.teacher, teacher_model=args.teacher_model, **distill)
    elif distill and init == "projected":  # the default teacher, the dense original, as the options change it
        overrides["distill"] = DistillConfig(None, **(PROJECTED_DISTILLATION | distill))
    elif distill or args.teacher_model is not None:
        given = " ".join([f"--{name} {value:g}" for name, value in distill.items()]
                         + ([f"--teacher-model {args.teacher_model}"] if args.teacher_model is not None else []))
        raise ConfigError(f"--alpha, --beta, --temperature and --teacher-model describe distillation from a --teacher, "
                          f"but got {given} without --teacher")
    config = dataclasses.replace(PRESETS[args.preset], **{k: v for k, v in overrides.items() if v is not None})
    if args.betas is not None:  # refused even at its default value: given, it was meant to matter
        check_optimizer_options(config.optimizer, {"betas": config.betas}, "--")
    return config


@command("train", "train one model with a substitute for a few epochs (a trial)", _configure_train)
def run_train(args) -> int:
    result, solution = run_trial(args, _train_config(args, args.init or "loaded"), args.save)
    summary = result.to_dict() | {"budget": solution.to_dict() if solution is not None else None,
                                  "checkpoint": args.save if args.save and result.status == "complete" else None}
    if args.json:
        print_json(summary)
    else:
        print_start(result)
        columns = ["status", "val_error", "test_error", "train_error", "epochs_run", "params", "mult_adds",
                   "images_per_second", "wall_time"]
        if solution is not None:
            summary["fill"], columns = solution.fill, columns[:7] + ["fill"] + columns[7:]
        print_table([summary], columns)
        print(result.message)
        if summary["checkpoint"]:
            print(f"checkpoint written to {args.save}")
    return 0 if result.status == "complete" else 1


def run_trial(args, config, save) -> tuple:
    """Solve ``--budget`` if given, then train the trial with a progress bar: ``(TrialResult, BudgetSolution or None)``.

    Every input is checked before the data is loaded or anything trained; ``save`` is written only when the
    trial completes (see ``train_trial``).
    """
    from tqdm import tqdm

    from budgetsearch.data import load_dataset
    from budgetsearch.training import check_checkpoint_path, load_teacher, train_trial

    chosen = model_selection(args)
    if save is not None:
        check_checkpoint_path(save, overwrite=args.overwrite)
    if config.distill is not None and config.distill.teacher is not None:
        load_teacher(config.distill, args.model)  # a teacher that cannot be read is told before any data is loaded
    dataset = load_dataset(args.dataset, validation_size=config.validation_size, seed=config.seed)
    substitute, setting, solution = args.substitute, args.setting, None
    if args.budget is not None:
        from budgetsearch.solver import solve_budget

        solution = solve_budget(args.model, args.substitute, args.budget,
                                num_classes=args.num_classes or dataset.num_classes, input_size=dataset.input_size,
                                **chosen)
        substitute, setting = solution.substitute, solution.setting
        if not args.json:
            print(_solved_line(solution))
    elif chosen["select"] is not None or chosen["exclude"]:
        _check_layer_choice(args.model, args.num_classes or dataset.num_classes, dataset.input_size, chosen)
    bar = tqdm(total=config.epochs, desc=f"{args.model} {substitute}", unit="epoch", file=sys.stderr)

    def on_epoch(epoch, metrics):
        bar.set_postfix(loss=f"{metrics['train_loss']:.3f}", err=f"{metrics['train_error']:.1f}%",
                        val=f"{metrics['val_error']:.1f}%" if metrics["val_error"] is not None else "-",
                        img_s=f"{metrics['images_per_second']:.0f}")
        bar.update(1)

    try:
        result = train_trial(args.model, substitute, setting, dataset, config, on_epoch=on_epoch,
                             num_classes=args.num_classes, save=save, model_options=chosen["options"],
                             select=chosen["select"], exclude=chosen["exclude"])
    finally:
        bar.close()
    return result, solution


def print_start(result) -> None:
    """What a trial from weights started at: a partial load's random part, and its errors before training."""
    if result.initial is None:
        return
    left = result.initial["left_at_init"]
    if left:
        shown = ", ".join(left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")
        print(f"left at random initialisation ({len(left)} of the model's tensors, --weights-strict false): {shown}")
    print(f"from {result.initial['weights']} ({result.initial['init']}): test error at epoch 0 "
          f"{_percent(result.initial['test_error'])}")


def _percent(value) -> str:
    return "-" if value is None else f"{value:.2f}%"


def _check_layer_choice(model: str, num_classes: int, input_size: tuple, chosen: dict) -> None:
    """Build the dense network on the meta device (no memory, no time), so that a choice of layers that
    cannot work is told before the progress bar starts (the solver checks it with ``--budget``)."""
    import torch

    from budgetsearch.training import Architecture

    with torch.device("meta"):
        Architecture(model, "conv", None, num_classes, input_size, chosen["options"], chosen["select"],
                     chosen["exclude"]).build()


def _solved_line(solution) -> str:
    setting = "" if solution.hyperparameter is None else f" {solution.hyperparameter}={solution.setting!r}"
    saturated = " (saturated: the substitute's largest network)" if solution.saturated else ""
    return (f"budget {solution.budget} = {solution.budget_params:,} params: {solution.substitute}{setting}, "
            f"{solution.params:,} params, fill {solution.fill:.4f}{saturated}")
