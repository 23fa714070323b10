"""``frontier``: a study's trials table, Pareto frontiers, plots and report, written to a folder."""

from __future__ import annotations

import json

from budgetsearch.errors import ConfigError

from ._commands import command
from ._options import add_runs_dir, output_folder
from ._output import print_json, print_table, with_init, with_short_fill


def _configure_frontier(parser):
    parser.add_argument("study_file", nargs="?", default=None, metavar="STUDY.toml",
                        help="the study file (or give --storage and --study instead)")
    parser.add_argument("--storage", default=None,
                        help="Optuna storage: an RDB URL or a journal file (default: the study file's)")
    parser.add_argument("--study", default=None, help="Optuna study name, with --storage and no STUDY.toml")
    add_runs_dir(parser, "the study file's default journal and of the default --out, <runs-dir>/<study name>/")
    parser.add_argument("--out", default=None, help="output folder (default: <runs-dir>/<study name>/)")
    parser.add_argument("--metric", default="val_error", choices=["val_error", "test_error"],
                        help="error the fronts use (default: val_error, the studies' objective)")
    parser.add_argument("--interval", default="t", choices=["t", "bootstrap"],
                        help="the 95%% interval of each point's mean over its seeds: Student's t (default) or a "
                             "percentile bootstrap (fixed seed: the same study gives the same interval)")
    parser.add_argument("--json", action="store_true", help="print the frontier rows as JSON")


@command("frontier", "write the trials table, Pareto frontiers, plots and report of a study", _configure_frontier)
def run_frontier(args) -> int:
    from budgetsearch import analysis
    from budgetsearch.study import study_dir

    if args.study_file is not None and args.study is not None:
        raise ConfigError(f"give STUDY.toml or --study, not both (got {args.study_file!r} and --study {args.study!r})")
    if args.study_file is not None:
        frontier = analysis.load_study_file_frontier(args.study_file, args.storage, args.runs_dir, args.metric,
                                                     args.interval)
    elif args.storage is not None and args.study is not None:
        frontier = analysis.load_frontier(args.storage, args.study, args.metric, args.interval)
    else:
        raise ConfigError("frontier needs STUDY.toml, or both --storage URL and --study NAME")
    out = output_folder(args.out if args.out else study_dir(frontier.name, args.runs_dir), "--out")
    written = analysis.write_frontier(frontier, out)
    rows = json.loads(frontier.front.to_json(orient="records"))
    if args.json:
        print_json(rows)
        return 0
    mean = f"{args.metric}_mean"
    print_table(with_short_fill(rows), with_init(["substitute", "budget", "setting", "params", "fill", "trained_at",
                                                  "mult_adds", mean, f"{args.metric}_std", f"{args.metric}_low",
                                                  f"{args.metric}_high", "seeds", "on_front_params",
                                                  "on_front_mult_adds"], rows))
    print(f"{len(frontier.trials)} trials, {len(frontier.points)} points, {len(rows)} on a front; wrote "
          f"{', '.join(written)} to {out}")
    if len(frontier.cells):
        print(f"{len(frontier.cells)} cell(s) without a point (skipped, failed or unfinished): rows of frontier.csv "
              "with their status and reason, marked beside the plots")
    if len(frontier.problems):
        print(f"{len(frontier.problems)} failed or incomplete trial(s): see {written['report.md']}")
    return 0
