"""``run``, ``worker`` and ``status``: a study file's trials queued, trained by workers, and its progress shown."""

from __future__ import annotations

import json
import sys

from budgetsearch.errors import ConfigError

from ._commands import EXIT_TRIALS_FAILED, command
from ._options import add_runs_dir, library_value, whole_number
from ._output import print_json, print_table, with_init, with_short_fill


def _quiet_optuna() -> None:
    """Optuna logs every study creation and trial at INFO; the commands print their own progress."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _devices(text: str) -> tuple:
    from budgetsearch.study import parse_devices  # when run or worker is parsed, not at every start: it imports Optuna

    return parse_devices(text)


def _one_device(text: str) -> str:
    devices = _devices(text)
    if len(devices) != 1:
        raise ConfigError(f"must be one device ('cpu' or 'cuda:N'), but got {text!r}")
    return devices[0]


def _assignment(text: str) -> tuple:
    from budgetsearch.study import parse_assignment  # imported when used: --help stays fast

    return parse_assignment(text)


def study_file_config(args):
    """The study file's study with the command line's --set and --dataset values."""
    from budgetsearch.study import load_study_config

    config = load_study_config(args.study_file)
    changes = dict(args.settings) | ({} if args.dataset is None else {"dataset": args.dataset})
    return config.replace(changes) if changes else config


def _configure_run(parser):
    parser.add_argument("study_file", metavar="STUDY.toml", help="the study file")
    parser.add_argument("--storage", default=None,
                        help="Optuna RDB URL (postgresql://...) or journal file (default: the study file's, "
                             "else <runs-dir>/<study>/journal.log)")
    parser.add_argument("--workers", type=whole_number(1), default=None, help="worker processes on cpu (default: 1)")
    parser.add_argument("--devices", type=library_value(_devices), default="cpu",
                        help="'cpu' or 'cuda:0,cuda:1,...': one worker per GPU")
    parser.add_argument("--dataset", default=None, help="override the study's data set, e.g. cifar10:PATH")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        type=library_value(_assignment),
                        help="override one setting of the study file, e.g. training.epochs=1 or "
                             "'substitutes=[\"tucker\"]' (a TOML value; repeatable)")
    parser.add_argument("--threads", type=whole_number(1), default=1, help="torch CPU threads per worker (default: 1)")
    add_runs_dir(parser, "study files and checkpoints")
    parser.add_argument("--retry-failed", action="store_true",
                        help="queue again the cells whose trials failed (completed cells are never touched)")
    parser.add_argument("--json", action="store_true", help="print the plan and summary as JSON (no progress bar)")


def print_plan(plan) -> None:
    for cell in plan.skipped:
        print(f"skipped {cell.substitute} at {cell.budget.label}: {cell.reason}")
    rows = [{"substitute": c.substitute, "budget": c.budget.label, "setting": c.setting, "params": c.params,
             "budget_params": c.budget_params, "fill": c.fill, "mult_adds": c.mult_adds,
             "trained_at": c.trained_at} for c in plan.solved]
    if rows:
        print_table(with_short_fill(rows), list(rows[0]))


def _study_summary_json(plan, report) -> dict:
    from dataclasses import asdict

    return {"solved": [asdict(c) | {"fill": c.fill} for c in plan.solved], "skipped": [asdict(c) for c in plan.skipped],
            "queued": report.queued, "progress": asdict(report.progress), "summary": report.rows,
            "worker_exit_codes": list(report.worker_exit_codes)}


def _print_summary(rows, progress, skipped=()) -> None:
    print_table(with_short_fill(rows), with_init(["role", "substitute", "budget", "setting", "params", "fill",
                                                  "trained_at", "val_error", "test_error", "status"], rows))
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
    from budgetsearch.study import RunOptions, run_study

    _quiet_optuna()
    config = study_file_config(args)
    options = RunOptions(storage=args.storage, workers=args.workers, devices=args.devices,
                         runs_dir=args.runs_dir, threads=args.threads, retry_failed=args.retry_failed)
    bar = None

    def on_plan(plan):
        if not args.json:
            print_plan(plan)

    def on_progress(progress):
        nonlocal bar
        if args.json or not progress.total:  # no trial at all: nothing to show progress of
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
        skipped = [{"substitute": c.substitute, "budget": c.budget.label, "reason": c.reason}
                   for c in report.plan.skipped]
        _print_summary(report.rows, report.progress, skipped)
    if not report.plan.solved:  # nothing was queued: "0/0 trials recorded" is no success
        print(f"budgetsearch run: nothing to train: all {len(report.plan.skipped)} cells of study {config.name!r} were "
              f"skipped (the skipped lines say why: no setting meets the budget, or the fill is under min_fill = "
              f"{config.min_fill:g}); lower min_fill or change the budgets or substitutes", file=sys.stderr)
        return EXIT_TRIALS_FAILED
    failed_workers = [code for code in report.worker_exit_codes if code != 0]
    if failed_workers:
        print(f"budgetsearch run: {len(failed_workers)} worker(s) exited with an error "
              f"(codes {failed_workers}); run again to continue", file=sys.stderr)
        return 1
    return _report_failed_trials("run", report.trials)


def _report_failed_trials(command: str, trials) -> int:
    """One line saying how many of the study's trials failed and why; the exit status that goes with it."""
    from budgetsearch.study import failure_summary

    summary = failure_summary(trials)
    if summary is None:
        return 0
    (reason, count), others = summary.reasons[0], len(summary.reasons) - 1
    print(f"budgetsearch {command}: {summary.failed} of {summary.total} trials failed ({count} x {reason}"
          + (f" and {others} other reason(s)" if others else "")
          + "); fix the cause and `run --retry-failed` to train them again", file=sys.stderr)
    return EXIT_TRIALS_FAILED


def _configure_worker(parser):
    parser.add_argument("study_file", metavar="STUDY.toml", nargs="?", default=None,
                        help="the study file `run` was started with: the worker runs this study, and refuses a stored "
                             "one that differs from it")
    parser.add_argument("--study", default=None,
                        help="without a study file: the study's name (registered models only, unless --model names "
                             "the stored package.module:callable)")
    parser.add_argument("--model", dest="models", action="append", default=[], metavar="REF",
                        help="with --study: a package.module:callable the stored study may build (repeatable)")
    parser.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE",
                        help="with --study: the options of the --model callable, as the study was started with")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        type=library_value(_assignment), help="with a study file: the --set values `run` was given")
    parser.add_argument("--dataset", default=None, help="with a study file: where the data set is on this machine")
    parser.add_argument("--storage", default=None,
                        help="the study's storage: an RDB URL or journal file "
                             "(default: the study file's, else <runs-dir>/<study>/journal.log)")
    parser.add_argument("--device", type=library_value(_one_device), default="cpu",
                        help="'cpu' or 'cuda:N' (default: cpu)")
    parser.add_argument("--threads", type=whole_number(1), default=1, help="torch CPU threads (default: 1)")
    add_runs_dir(parser, "checkpoints")
    parser.add_argument("--json", action="store_true", help="print one JSON line per trial")


def _worker_options(args):
    """What the worker may run: its study file's study, or a named study with the references named here."""
    from budgetsearch.study import WorkerOptions

    from ._options import parse_model_option

    common = {"device": args.device, "runs_dir": args.runs_dir, "threads": args.threads}
    if args.study_file is None:
        if args.study is None:
            raise ConfigError("worker needs the study file (budgetsearch worker STUDY.toml) or, for a study of "
                              "registered models, its name (--study NAME)")
        if args.settings or args.dataset is not None:
            raise ConfigError("--set and --dataset change a study file's settings, but no study file was given")
        return WorkerOptions(study_name=args.study, storage=args.storage, models=tuple(args.models),
                             model_options=dict(parse_model_option(text) for text in args.model_option), **common)
    if args.models or args.model_option:
        raise ConfigError("--model and --model-option name what a study given by --study may build; with a study "
                          "file, the file names its model")
    config = study_file_config(args)
    if args.study is not None and args.study != config.name:
        raise ConfigError(f"--study {args.study!r} is not the study file's name {config.name!r}")
    storage = args.storage if args.storage is not None else config.storage.url
    return WorkerOptions(study_name=config.name, storage=storage, config=config, **common)


@command("worker", "join a study started by `run` and train its trials until none is left", _configure_worker)
def run_worker_command(args) -> int:
    from budgetsearch.study import read_trials, run_worker

    _quiet_optuna()
    options = _worker_options(args)

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

    trained = run_worker(options, on_trial=on_trial)
    if not args.json:
        print(f"no trial left in study {options.study_name!r}; this worker trained {trained}")
    return _report_failed_trials("worker", read_trials(options.storage, options.study_name, args.runs_dir))


def _configure_status(parser):
    parser.add_argument("study_file", metavar="STUDY.toml", help="the study file")
    parser.add_argument("--storage", default=None, help="the study's storage (default: the study file's)")
    add_runs_dir(parser, "the default journal file")
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
