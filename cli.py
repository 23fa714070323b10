"""budgetsearch command line: ``budgetsearch COMMAND [options]``.

Each command is one small function registered in ``COMMANDS``; commands parse
arguments, call the library and print. Errors the library raises on bad input
are printed as one line and exit with status 2; ``run`` and ``worker`` exit
with status 3 when trials of the study failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from typing import Callable, Optional

from budgetsearch.errors import BudgetSearchError, ConfigError

EXIT_BAD_INPUT = 2  # a usage or configuration error: nothing was done
EXIT_TRIALS_FAILED = 3  # run/worker: the study ended with failed trials (their messages say why)
EXIT_CODES = (f"exit status: 0 every trial recorded without failure, 1 a worker process crashed, {EXIT_BAD_INPUT} bad "
              f"input (nothing done), {EXIT_TRIALS_FAILED} trials failed")

COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int], str]] = {}


def command(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None]):
    """Register ``run(args)`` as a subcommand whose options ``configure(parser)`` adds."""

    def register(run):
        COMMANDS[name] = (configure, run, help)
        return run

    return register


def print_json(value) -> None:
    print(json.dumps(value, indent=2, default=str))


def print_table(rows: list[dict], columns: list[str]) -> None:
    """A plain fixed-width table (no dependency on pandas' wide-display settings)."""
    cells = [[_format(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for r in cells:
        print("  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(r, widths)))


def _format(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "").replace("-", "").replace("e", "").replace("+", "").isdigit()


MAX_CHANNELS, MAX_SIDE = 64, 1024  # an image counted with a forward pass: beyond this it cannot be allocated
MAX_CLASSES = 100_000
MAX_POINTS = 10_000  # settings per substitute in `curves`: each is one count of the network


def parse_input_size(text: str) -> tuple:
    try:
        size = tuple(int(part) for part in text.split(","))
    except ValueError:
        size = ()
    if len(size) != 3 or not (1 <= size[0] <= MAX_CHANNELS and all(1 <= side <= MAX_SIDE for side in size[1:])):
        raise argparse.ArgumentTypeError(f"--input-size must be C,H,W (e.g. 3,32,32) with C in [1, {MAX_CHANNELS}] and H, W in "
                          f"[1, {MAX_SIDE}], but got {text[:100]!r}")
    return size


def parse_num_classes(text: str) -> int:
    try:
        classes = int(text)
    except ValueError:
        classes = 0
    if not 2 <= classes <= MAX_CLASSES:
        raise argparse.ArgumentTypeError(f"--num-classes must be an integer in [2, {MAX_CLASSES:,}], but got {text[:100]!r}")
    return classes


def output_folder(path, flag: str):
    """The folder ``path`` given with ``flag``, created if missing; a one-line error if it cannot be one."""
    from pathlib import Path

    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"{flag} {str(path)!r} cannot be used as an output folder: "
                          f"{error.strerror or error}") from None
    return folder


def parse_model_option(text: str) -> tuple:
    """``KEY=VALUE`` with VALUE read as a TOML value (``width=64``, ``act='gelu'``, ``dims=[2, 2]``)."""
    import tomllib

    key, equals, value = text.partition("=")
    if not equals or not key.strip().isidentifier():
        raise ConfigError(f"--model-option must be KEY=VALUE (e.g. width=64), but got {text!r}")
    try:
        return key.strip(), tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        raise ConfigError(f"--model-option {key.strip()}: the value must be a TOML value (a number, true/false, "
                          f"'quoted text', [a, list]), but got {value!r}") from None


def add_model_selection(parser: argparse.ArgumentParser) -> None:
    """How any model is built and which of its layers are substituted."""
    parser.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE",
                        help="keyword argument for a package.module:callable model (VALUE read as TOML; repeatable)")
    parser.add_argument("--select", default=None, help="layers to substitute: spatial, pointwise, convs, linear or all "
                        "(default: a registered family's own points; spatial for other models)")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="keep the modules whose qualified names match GLOB dense (repeatable)")


def model_selection(args) -> dict:
    return {"options": dict(parse_model_option(text) for text in args.model_option), "select": args.select,
            "exclude": tuple(args.exclude)}


def print_kept_dense(kept: tuple) -> None:
    if kept:
        print("kept dense (selected, but no substitute fits): "
              + ", ".join(f"{k.name} ({k.reason})" for k in kept))


def add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="wrn-28-10",
                        help="registered model name or package.module:callable (default: wrn-28-10)")
    parser.add_argument("--input-size", type=parse_input_size, default=None,
                        help="C,H,W (default: the model's; required for a model that is not registered)")
    parser.add_argument("--num-classes", type=parse_num_classes, default=None,
                        help="classes of the head (default: the model's)")
    add_model_selection(parser)


def add_compat_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--compat", default=None, metavar="MODE",
                        help="build and count with another code's conventions: deficient-efficient")


def _configure_substitutes(parser):
    parser.add_argument("--json", action="store_true", help="print JSON")


@command("substitutes", "list the registered substitutes and their size hyperparameters", _configure_substitutes)
def run_substitutes(args) -> int:
    from budgetsearch.substitutes import get_substitute, list_substitutes

    rows = []
    for name in list_substitutes():
        s = get_substitute(name)
        hp = s.hyperparameter
        rows.append({
            "name": s.name, "original": s.original_name,
            "hyperparameter": hp.name if hp else None, "type": hp.type.__name__ if hp else None,
            "domain": hp.domain if hp else None,
            "params_with_setting": (("grow" if hp.grows else "shrink") if hp else None),
            "summary": s.summary, "paper": s.paper,
        })
    if args.json:
        print_json(rows)
    else:
        print_table(rows, ["name", "original", "hyperparameter", "domain", "params_with_setting", "summary"])
    return 0



def _configure_count(parser):
    add_model_options(parser)
    parser.add_argument("--substitute", default=None, help="NAME, NAME:SETTING or the original NAME_SETTING "
                                                          "(default: the network as published, e.g. dense for WRNs, "
                                                          "separable for DARTS)")
    parser.add_argument("--setting", type=float, default=None, help="the substitute's hyperparameter value")
    parser.add_argument("--per-layer", action="store_true", help="also print each module's own count")
    add_compat_option(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


@command("count", "count parameters and mult-adds of a model with a substitute", _configure_count)
def run_count(args) -> int:
    from budgetsearch.compat import compat_factory
    from budgetsearch.counting import build_for_counting, count, fixed_part
    from budgetsearch.models import default_input_size, model_defaults

    chosen = model_selection(args)
    substitute = args.substitute or model_defaults(args.model)[2]
    factory = compat_factory(substitute, args.setting, args.compat)
    input_size = args.input_size or default_input_size(args.model)
    model = build_for_counting(args.model, factory, num_classes=args.num_classes, input_size=input_size,
                               compat=args.compat, select=chosen["select"], exclude=chosen["exclude"],
                               **chosen["options"])
    result = count(model, input_size, compat=args.compat)
    fixed_params, fixed_mult_adds = fixed_part(result, model.substitution_points)
    summary = {"model": args.model, "substitute": factory.substitute.name, "setting": factory.setting,
               "compat": args.compat, "params": result.params, "mult_adds": result.mult_adds,
               "reconstruction_mult_adds": result.reconstruction_mult_adds, "fixed_params": fixed_params,
               "fixed_mult_adds": fixed_mult_adds}
    if args.json:
        kept = [{"name": k.name, "reason": k.reason} for k in model.kept_dense]
        print_json(summary | result.to_dict(per_layer=args.per_layer) | {"kept_dense": kept})
        return 0
    if args.per_layer:
        print_table(result.per_layer().to_dict("records"), ["name", "type", "params", "mult_adds"])
        print()
    print_table([summary], list(summary))
    print(f"counted with {result.convention.counter}; unit: {result.convention.unit}; "
          f"input {','.join(map(str, input_size))}, batch 1; mult_adds per image at inference, "
          f"reconstruction_mult_adds per training step (rebuilding the structured weights, any batch); fixed part: "
          f"what the {len(model.substitution_points)} substitution points do not hold")
    print_kept_dense(model.kept_dense)
    return 0



def _configure_frontier(parser):
    parser.add_argument("study_file", nargs="?", default=None, metavar="STUDY.toml",
                        help="the study file (or give --storage and --study instead)")
    parser.add_argument("--storage", default=None,
                        help="Optuna storage: an RDB URL or a journal file (default: the study file's)")
    parser.add_argument("--study", default=None, help="Optuna study name, with --storage and no STUDY.toml")
    parser.add_argument("--out", default=None, help="output folder (default: runs/<study name>/)")
    parser.add_argument("--metric", default="val_error", choices=["val_error", "test_error"],
                        help="error the fronts use (default: val_error, the studies' objective)")
    parser.add_argument("--json", action="store_true", help="print the frontier rows as JSON")


@command("frontier", "write the trials table, Pareto frontiers, plots and report of a study", _configure_frontier)
def run_frontier(args) -> int:
    from pathlib import Path

    from budgetsearch import analysis

    if args.study_file is not None and args.study is not None:
        raise ConfigError(f"give STUDY.toml or --study, not both (got {args.study_file!r} and --study {args.study!r})")
    if args.study_file is not None:
        name, trials = analysis.load_study_file_trials(args.study_file, storage=args.storage)
        skipped = analysis.load_study_file_skipped(args.study_file, storage=args.storage)
    elif args.storage is not None and args.study is not None:
        name, trials = args.study, analysis.load_trials(args.storage, args.study)
        skipped = analysis.load_skipped_cells(args.storage, args.study)
    else:
        raise ConfigError("frontier needs STUDY.toml, or both --storage URL and --study NAME")
    points = analysis.frontier_table(analysis.aggregate_seeds(trials), metric=args.metric)
    reference = analysis.teacher_error(trials, args.metric)
    out = output_folder(args.out if args.out else Path("runs") / name, "--out")
    analysis.trials_to_csv(trials, out / "trials.csv")
    points.to_csv(out / "frontier.csv", index=False)
    colors = analysis.substitute_colors(trials["substitute"].dropna())
    title, missing = analysis.study_title(name, trials), analysis.missing_points(trials, skipped)
    for cost in analysis.COSTS:
        figure = analysis.frontier_figure(points, cost, args.metric, reference, title=title, colors=colors,
                                          missing=missing)
        figure.savefig(out / f"frontier_{cost}.png", dpi=150)
    (out / "report.md").write_text(analysis.render_report(trials, points, args.metric, title=title, skipped=skipped))
    front = points[points["on_front_params"] | points["on_front_mult_adds"]]
    rows = json.loads(front.to_json(orient="records"))
    if args.json:
        print_json(rows)
        return 0
    mean = f"{args.metric}_mean"
    shown = [r | {"fill": None if r.get("fill") is None else round(r["fill"], 3)} for r in rows]
    print_table(shown, ["substitute", "budget", "setting", "params", "fill", "trained_at", "mult_adds", mean,
                        f"{args.metric}_std", "seeds", "on_front_params", "on_front_mult_adds"])
    problems = analysis.problem_trials(trials)
    print(f"{len(trials)} trials, {len(points)} points, {len(front)} on a front; wrote trials.csv, frontier.csv, "
          f"frontier_params.png, frontier_mult_adds.png, report.md to {out}")
    if len(problems):
        print(f"{len(problems)} failed or incomplete trial(s): see {out / 'report.md'}")
    return 0


def _configure_train(parser):
    parser.add_argument("--model", default="wrn-16-2",
                        help="registered model name or package.module:callable (default: wrn-16-2)")
    add_model_selection(parser)
    parser.add_argument("--substitute", default="conv", help="NAME, NAME:SETTING or the original NAME_SETTING")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--setting", type=float, default=None, help="the substitute's hyperparameter value")
    size.add_argument("--budget", default=None, help="parameter budget (1.2M, 0.1x of the reference network); "
                      "the solver picks the setting")
    parser.add_argument("--dataset", default="digits", help="digits (default), cifar10:PATH or cifar100:PATH")
    parser.add_argument("--num-classes", type=int, default=None, help="classes of the head (default: the data set's)")
    parser.add_argument("--preset", default="short", help="training preset the options below override "
                        "(short, original, darts-original; default: short)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs to train")
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
    parser.add_argument("--beta", type=float, default=None, help="attention-transfer weight (default 1e3)")
    parser.add_argument("--alpha", type=float, default=None, help="KD weight (default 0: KD off)")
    parser.add_argument("--temperature", type=float, default=None, help="KD temperature (default 4)")
    parser.add_argument("--save", default=None, help="write a checkpoint of the trained model here")
    parser.add_argument("--overwrite", action="store_true", help="let --save replace an existing file")
    parser.add_argument("--json", action="store_true", help="print the trial's result as one JSON object")


def _comma_separated(text: str, convert, flag: str, allowed: str) -> tuple:
    try:
        return tuple(convert(item) for item in text.split(","))
    except ValueError:
        raise ConfigError(f"{flag} must be {allowed}, but got {text!r}") from None


def _train_config(args):
    import dataclasses

    from budgetsearch.training import PRESETS, DistillConfig

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
    distill = {name: getattr(args, name) for name in ("beta", "alpha", "temperature")
               if getattr(args, name) is not None}
    if args.teacher is not None:
        overrides["distill"] = DistillConfig(args.teacher, **distill)
    elif distill:
        given = " ".join(f"--{name} {value:g}" for name, value in distill.items())
        raise ConfigError(f"--alpha, --beta and --temperature weigh distillation from a --teacher, "
                          f"but got {given} without --teacher")
    return dataclasses.replace(PRESETS[args.preset], **{k: v for k, v in overrides.items() if v is not None})


@command("train", "train one model with a substitute for a few epochs (a trial)", _configure_train)
def run_train(args) -> int:
    from tqdm import tqdm

    from budgetsearch.data import load_dataset
    from budgetsearch.training import check_checkpoint_path, load_checkpoint, train_trial

    config = _train_config(args)
    if args.save is not None:
        check_checkpoint_path(args.save, overwrite=args.overwrite)
    if args.teacher is not None:
        load_checkpoint(args.teacher)  # a teacher that cannot be read is told before any data is loaded
    dataset = load_dataset(args.dataset, validation_size=config.validation_size, seed=config.seed)
    chosen = model_selection(args)
    substitute, setting, solution = args.substitute, args.setting, None
    if args.budget is not None:
        from budgetsearch.solver import solve_budget

        solution = solve_budget(args.model, args.substitute, args.budget,
                                num_classes=args.num_classes or dataset.num_classes, input_size=dataset.input_size,
                                **chosen)
        substitute, setting = solution.substitute, solution.setting
        if not args.json:
            print(_solved_line(solution))
    bar = tqdm(total=config.epochs, desc=f"{args.model} {substitute}", unit="epoch", file=sys.stderr)

    def on_epoch(epoch, metrics):
        bar.set_postfix(loss=f"{metrics['train_loss']:.3f}", err=f"{metrics['train_error']:.1f}%",
                        val=f"{metrics['val_error']:.1f}%" if metrics["val_error"] is not None else "-",
                        img_s=f"{metrics['images_per_second']:.0f}")
        bar.update(1)

    try:
        result = train_trial(args.model, substitute, setting, dataset, config, on_epoch=on_epoch,
                             num_classes=args.num_classes, save=args.save, model_options=chosen["options"],
                             select=chosen["select"], exclude=chosen["exclude"])
    finally:
        bar.close()
    summary = result.to_dict() | {"budget": solution.to_dict() if solution is not None else None,
                                  "checkpoint": args.save if args.save and result.status == "complete" else None}
    if args.json:
        print_json(summary)
    else:
        columns = ["status", "val_error", "test_error", "train_error", "epochs_run", "params", "mult_adds",
                   "images_per_second", "wall_time"]
        if solution is not None:
            summary["fill"], columns = solution.fill, columns[:7] + ["fill"] + columns[7:]
        print_table([summary], columns)
        print(result.message)
        if summary["checkpoint"]:
            print(f"checkpoint written to {args.save}")
    return 0 if result.status == "complete" else 1


def _solved_line(solution) -> str:
    setting = "" if solution.hyperparameter is None else f" {solution.hyperparameter}={solution.setting!r}"
    saturated = " (saturated: the substitute's largest network)" if solution.saturated else ""
    return (f"budget {solution.budget} = {solution.budget_params:,} params: {solution.substitute}{setting}, "
            f"{solution.params:,} params, fill {solution.fill:.4f}{saturated}")


def _quiet_optuna() -> None:
    """Optuna logs every study creation and trial at INFO; the commands print their own progress."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _configure_run(parser):
    parser.add_argument("study_file", metavar="STUDY.toml", help="the study file")
    parser.add_argument("--storage", default=None,
                        help="Optuna RDB URL (postgresql://...) or journal file (default: the study file's, "
                             "else runs/<study>/journal.log)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes on cpu (default: 1)")
    parser.add_argument("--devices", default="cpu", help="'cpu' or 'cuda:0,cuda:1,...': one worker per GPU")
    parser.add_argument("--dataset", default=None, help="override the study's data set, e.g. cifar10:PATH")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads per worker (default: 1)")
    parser.add_argument("--runs-dir", default="runs", help="folder of study files and checkpoints (default: runs)")
    parser.add_argument("--retry-failed", action="store_true",
                        help="queue again the cells whose trials failed (completed cells are never touched)")
    parser.add_argument("--json", action="store_true", help="print the plan and summary as JSON (no progress bar)")


def _print_plan(plan) -> None:
    for cell in plan.skipped:
        print(f"skipped {cell.substitute} at {cell.budget.label}: {cell.reason}")
    rows = [{"substitute": c.substitute, "budget": c.budget.label, "setting": c.setting, "params": c.params,
             "budget_params": c.budget_params, "fill": round(c.fill, 3), "mult_adds": c.mult_adds,
             "trained_at": c.trained_at} for c in plan.solved]
    if rows:
        print_table(rows, list(rows[0]))


def _study_summary_json(plan, report) -> dict:
    from dataclasses import asdict

    return {"solved": [asdict(c) | {"fill": c.fill} for c in plan.solved], "skipped": [asdict(c) for c in plan.skipped],
            "queued": report.queued, "progress": asdict(report.progress), "summary": report.rows,
            "worker_exit_codes": list(report.worker_exit_codes)}


def _print_summary(rows, progress, skipped=()) -> None:
    shown = [r | {"fill": None if r.get("fill") is None else round(r["fill"], 3)} for r in rows]
    print_table(shown, ["role", "substitute", "budget", "setting", "params", "fill", "trained_at", "val_error",
                        "test_error", "status"])
    for cell in skipped:
        print(f"skipped {cell['substitute']} at {cell['budget']}: {cell['reason']}")
    counts = ", ".join(f"{n} {s}" for s, n in sorted(progress.statuses.items()))
    print(f"{progress.done}/{progress.total} trials recorded" + (f": {counts}" if counts else "")
          + (f"; {progress.lost} lost with a dead worker and queued again" if progress.lost else ""))


def _running_text(progress, config) -> str:
    """Each running trial's cell, epoch and last validation error, for the progress bar."""
    def epochs(role):
        return (config.distillation.teacher_epochs or config.training.epochs) if role == "teacher" \
            else config.training.epochs

    return "; ".join(f"{t.cell} epoch {t.epoch or 0}/{epochs(t.role)} val "
                     + ("-" if t.val_error is None else f"{t.val_error:.1f}%") for t in progress.running_trials)


@command("run", "solve every cell of a study file and train its trials (run again to continue)", _configure_run)
def run_run(args) -> int:
    from budgetsearch.study import RunOptions, load_study_config, parse_devices, run_study

    _quiet_optuna()
    config = load_study_config(args.study_file)
    if args.dataset is not None:
        config = config.replace(dataset=args.dataset)
    options = RunOptions(storage=args.storage, workers=args.workers, devices=parse_devices(args.devices),
                         runs_dir=args.runs_dir, threads=args.threads, retry_failed=args.retry_failed)
    bar = None

    def on_plan(plan):
        if not args.json:
            _print_plan(plan)

    def on_progress(progress):
        nonlocal bar
        if args.json:
            return
        if bar is None:  # trials recorded by an earlier run are the bar's start, not part of its rate and ETA
            from tqdm import tqdm

            bar = tqdm(total=progress.total, initial=progress.done, unit="trial", desc=config.name,
                       dynamic_ncols=True)
        bar.total = progress.total
        bar.update(progress.done - bar.n)
        counts = ", ".join(f"{s}={n}" for s, n in [("running", progress.running), *progress.statuses.items()])
        running = _running_text(progress, config)
        bar.set_postfix_str(counts + (f" | {running}" if running else ""), refresh=True)

    try:
        report = run_study(config, options, on_plan=on_plan, on_progress=on_progress)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        print_json(_study_summary_json(report.plan, report))
    else:
        skipped = [{"substitute": c.substitute, "budget": c.budget.label, "reason": c.reason} for c in report.plan.skipped]
        _print_summary(report.rows, report.progress, skipped)
    failed_workers = [code for code in report.worker_exit_codes if code != 0]
    if failed_workers:
        print(f"budgetsearch run: {len(failed_workers)} worker(s) exited with an error "
              f"(codes {failed_workers}); run again to continue", file=sys.stderr)
        return 1
    return _report_failed_trials("run", report.trials)


def _report_failed_trials(command: str, trials) -> int:
    """One line saying how many of the study's trials failed and why; the exit status that goes with it."""
    from collections import Counter

    from budgetsearch.study import final_trials

    failed = [t for t in final_trials(trials).values() if t.user_attrs.get("status") == "failed"]
    if not failed:
        return 0
    reasons = Counter(str(t.user_attrs.get("message")).splitlines()[0][:200] for t in failed)
    reason, count = reasons.most_common(1)[0]
    others = f" and {len(reasons) - 1} other reason(s)" if len(reasons) > 1 else ""
    print(f"budgetsearch {command}: {len(failed)} of {len(final_trials(trials))} trials failed ({count} x {reason}"
          f"{others}); fix the cause and `run --retry-failed` to train them again", file=sys.stderr)
    return EXIT_TRIALS_FAILED


def _configure_worker(parser):
    parser.add_argument("--study", required=True, help="the study's name (the study file's `name`)")
    parser.add_argument("--storage", default=None,
                        help="the study's storage: an RDB URL or journal file (default: runs/<study>/journal.log)")
    parser.add_argument("--device", default="cpu", help="'cpu' or 'cuda:N' (default: cpu)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    parser.add_argument("--runs-dir", default="runs", help="folder of checkpoints (default: runs)")
    parser.add_argument("--json", action="store_true", help="print one JSON line per trial")


@command("worker", "join a study started by `run` and train its trials until none is left", _configure_worker)
def run_worker_command(args) -> int:
    from budgetsearch.study import WorkerOptions, parse_devices, read_trials, run_worker

    _quiet_optuna()
    device = parse_devices(args.device, flag="--device")
    if len(device) != 1:
        raise ConfigError(f"--device must be one device ('cpu' or 'cuda:N'), but got {args.device!r}")

    def on_trial(event, attrs):
        line = {"event": event, "cell": attrs.get("cell"), "role": attrs.get("role"),
                "val_error": attrs.get("val_error"), "message": attrs.get("message")}
        if args.json:
            print(json.dumps(line), flush=True)
        elif event == "start":
            print(f"training {attrs.get('cell')} ({attrs.get('role')})", flush=True)
        else:
            error = attrs.get("val_error")
            print(f"  {attrs.get('cell')}: {event}" + (f", val error {error:.2f}%" if error is not None else "")
                  + (f" ({attrs.get('message')})" if attrs.get("message") else ""), flush=True)

    trained = run_worker(WorkerOptions(study_name=args.study, storage=args.storage, device=device[0],
                                       runs_dir=args.runs_dir, threads=args.threads), on_trial=on_trial)
    if not args.json:
        print(f"no trial left in study {args.study!r}; this worker trained {trained}")
    return _report_failed_trials("worker", read_trials(args.storage, args.study, args.runs_dir))


def _configure_status(parser):
    parser.add_argument("study_file", metavar="STUDY.toml", help="the study file")
    parser.add_argument("--storage", default=None, help="the study's storage (default: the study file's)")
    parser.add_argument("--runs-dir", default="runs", help="folder of the default journal file (default: runs)")
    parser.add_argument("--json", action="store_true", help="print progress and summary as JSON")


@command("status", "show how far a study has got, without training anything", _configure_status)
def run_status(args) -> int:
    from dataclasses import asdict

    from budgetsearch.study import (load_study_config, read_skipped_cells, read_study_trials, study_progress,
                                    summary_rows)

    _quiet_optuna()
    config = load_study_config(args.study_file)
    trials = read_study_trials(config, args.storage, args.runs_dir)
    skipped = read_skipped_cells(config, args.storage, args.runs_dir)
    progress, rows = study_progress(trials), summary_rows(trials)
    if args.json:
        print_json({"progress": asdict(progress), "summary": rows, "skipped": skipped})
    else:
        _print_summary(rows, progress, skipped)
    return 0


# solve's exit status when a requested substitute cannot meet the budget (2 is a bad input, as everywhere).
BUDGET_NOT_MET = 3


def _configure_solve(parser):
    add_model_options(parser)
    parser.add_argument("--budget", required=True, help="parameters: a count (1.2M, 600K, 1200000) or a fraction "
                                                        "of the dense model (0.1x)")
    parser.add_argument("--mult-adds", default=None, help="also cap mult-adds (6e8, 600M or 0.1x)")
    parser.add_argument("--substitute", nargs="+", default=["all"],
                        help=f"names, or all (default). Exit status {BUDGET_NOT_MET} if a substitute cannot meet the "
                             f"budget: no setting fits, or even its largest network is below it (saturated); with "
                             f"all, the substitutes without a setting (conv, separable) are not held to it")
    add_compat_option(parser)
    parser.add_argument("--json", action="store_true", help="print a JSON list, one object per substitute")



@command("solve", "turn a parameter budget into each substitute's setting", _configure_solve)
def run_solve(args) -> int:
    from budgetsearch.errors import InfeasibleBudgetError
    from budgetsearch.solver import network_counter, parse_budget, solve_budget
    from budgetsearch.substitutes import get_substitute, list_substitutes

    budget = parse_budget(args.budget)
    chosen = model_selection(args)
    counter = network_counter(args.model, args.num_classes, args.input_size, args.compat, **chosen)
    kinds = {site.kind for site in counter.sites}
    names = ([n for n in list_substitutes() if kinds <= set(get_substitute(n).layer_kinds)]
             if args.substitute == ["all"] else [get_substitute(n).name for n in args.substitute])
    rows = []
    for name in names:
        try:
            solution = solve_budget(args.model, name, budget, mult_adds=args.mult_adds, num_classes=args.num_classes,
                                    input_size=args.input_size, compat=args.compat, **chosen)
        except InfeasibleBudgetError as error:
            rows.append({"substitute": name, "budget": budget.label, "feasible": False, "reason": str(error)})
            continue
        rows.append(solution.to_dict())
    # With "all", a substitute of one fixed size (conv, separable) is listed but not held to the budget.
    held = [r for r in rows if args.substitute != ["all"] or get_substitute(r["substitute"]).hyperparameter]
    status = BUDGET_NOT_MET if any(not r["feasible"] or r["saturated"] for r in held) else 0
    fixed = {"fixed_params": counter.fixed.params, "fixed_mult_adds": round(counter.fixed.mult_adds)}
    if args.json:
        print_json([fixed | row for row in rows])
        return status
    feasible = [r for r in rows if r["feasible"]]
    if feasible:
        # The exact setting (repr): a rounded one may fall on a lower plateau and count less.
        # The fill rounded down: a budget missed by one parameter must not read 1.0000.
        shown = [r | {"setting": "-" if r["setting"] is None else repr(r["setting"]),
                      "fill": f"{math.floor(r['fill'] * 1e4) / 1e4:.4f}",
                      "saturated": "saturated" if r["saturated"] else ""} for r in feasible]
        print_table(shown, ["substitute", "hyperparameter", "setting", "params", "mult_adds", "ratio", "fill", "slack",
                            "saturated"])
        first = feasible[0]
        cap = f"budget {first['budget']} = {first['budget_params']:,} params"
        if first["budget_mult_adds"] is not None:
            cap += f", {first['budget_mult_adds']:,} mult-adds"
        print(f"\n{cap}; dense {args.model} ({first['reference']}): {first['dense_params']:,} params, "
              f"{first['dense_mult_adds']:,} mult-adds; counted with {first['convention']['counter']}, "
              f"input {','.join(map(str, first['input_size']))}, batch 1")
    print(f"fixed part (no substitution point holds it): {fixed['fixed_params']:,} params, "
          f"{fixed['fixed_mult_adds']:,} mult-adds")
    print_kept_dense(counter.kept_dense)
    for row in rows:
        if not row["feasible"]:
            print(f"infeasible: {row['reason']}")
    if any(r["saturated"] for r in feasible):
        print("saturated: the budget is above the substitute's largest network, which is shown (fill < 1)")
    return status


def _configure_curves(parser):
    add_model_options(parser)
    parser.add_argument("--substitute", nargs="+", default=None, help="names (default: every one with a setting)")
    parser.add_argument("--points", type=int, default=40, help="settings per substitute (default: 40)")
    parser.add_argument("--out", default="curves", help="folder for curves.csv and curves.png (default: curves)")
    add_compat_option(parser)
    parser.add_argument("--json", action="store_true", help="print the table as JSON")


@command("curves", "sweep every substitute's setting and plot the network's counts against it", _configure_curves)
def run_curves(args) -> int:
    import matplotlib
    from tqdm import tqdm

    from budgetsearch.solver import draw_settings_curves, network_counter, settings_curve
    from budgetsearch.substitutes import get_substitute

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not 2 <= args.points <= MAX_POINTS:
        raise ConfigError(f"--points must be in [2, {MAX_POINTS:,}], but got {args.points}")
    out = output_folder(args.out, "--out")  # before the sweep, so a bad folder is told at once
    names = None if args.substitute is None else [get_substitute(n).name for n in args.substitute]
    with tqdm(desc="sweeping", unit="substitute", disable=args.json) as bar:
        curves = settings_curve(args.model, names, args.points, args.num_classes, args.input_size, args.compat,
                                progress=lambda name: (bar.set_postfix_str(name), bar.update()),
                                **model_selection(args))
    dense = network_counter(args.model, args.num_classes, args.input_size, args.compat, **model_selection(args)).dense
    curves.to_csv(out / "curves.csv", index=False)
    figure, (ax_params, ax_mult_adds) = plt.subplots(1, 2, figsize=(13, 5), constrained_layout=True)
    draw_settings_curves(curves, ax_params, ax_mult_adds, dense=(dense.params, dense.mult_adds))
    figure.suptitle(f"{args.model}: network size over each substitute's setting")
    figure.savefig(out / "curves.png", dpi=120)
    plt.close(figure)
    if args.json:
        print_json(curves.to_dict("records"))
    else:
        print(f"wrote {out / 'curves.csv'} ({len(curves)} rows) and {out / 'curves.png'}")
    return 0


class _OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line, like every other error (``--help`` shows the usage)."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message[:500]}\n")


class DefaultsHelp(argparse.HelpFormatter):
    """Every option's default in --help: the value, or for ``train``'s preset overrides the short preset's."""

    def _get_help_string(self, action) -> str:
        text = action.help or ""
        if "default" in text or action.default is argparse.SUPPRESS or not action.option_strings \
                or isinstance(action, (argparse._StoreTrueAction, argparse._HelpAction)):
            return text
        if action.default is None:
            preset = _short_preset_value(action.dest) if self._prog.endswith(" train") else None
            return text + (f" (default: the --preset's; short: {preset})" if preset is not None else "")
        return text + " (default: %(default)s)"


def _short_preset_value(field: str):
    from budgetsearch.training import PRESETS  # only when train --help is shown: it imports torch

    return getattr(PRESETS["short"], field, None)


def build_parser() -> argparse.ArgumentParser:
    # the module docstring's first line without its reST markup
    parser = _OneLineParser(prog="budgetsearch", description=__doc__.splitlines()[0].replace("``", ""))
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (configure, _, help) in COMMANDS.items():
        epilog = EXIT_CODES if name in ("run", "worker") else None
        configure(subparsers.add_parser(name, help=help, description=help, epilog=epilog, formatter_class=DefaultsHelp))
    return parser


class _StderrLines(logging.Handler):
    """The library's warnings (a repaired journal, a lost trial), one line each on the stderr of the moment."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"budgetsearch: {record.getMessage()}", file=sys.stderr)


def _show_library_warnings() -> None:
    library = logging.getLogger("budgetsearch")
    if not any(isinstance(h, _StderrLines) for h in library.handlers):
        handler = _StderrLines(logging.WARNING)
        library.addHandler(handler)


def main(argv: Optional[list] = None) -> int:
    args = build_parser().parse_args(argv)
    _show_library_warnings()
    try:
        return COMMANDS[args.command][1](args)
    except BudgetSearchError as error:
        print(f"budgetsearch {args.command}: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # the reader left (`budgetsearch substitutes --json | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush finds no closed pipe
        return 1


if __name__ == "__main__":
    sys.exit(main())
