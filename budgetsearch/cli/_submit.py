"""``submit``: a study's workers as a Slurm job array (or as local processes), through submitit."""

from __future__ import annotations

from budgetsearch.errors import ConfigError

from ._commands import command
from ._options import add_runs_dir, library_value, whole_number
from ._output import print_json
from ._study import _assignment, print_plan, study_file_config

STORAGE_HELP = ("storage every task reaches (default: the study file's, else <runs-dir>/<study>/journal.log): a "
                "PostgreSQL URL (postgresql://user@host/db), or a journal file on a shared file system. A journal "
                "file relies on the file system's locks: on NFS they work only where the clients and server support "
                "them (NFSv4, or v3 with lockd), and a lock lost there can corrupt the study; prefer PostgreSQL. "
                "SQLite is refused")


def _time(text: str) -> int:
    from budgetsearch.study import parse_time_minutes  # when --time is given: it imports Optuna

    return parse_time_minutes(text)


def _configure_submit(parser):
    parser.add_argument("study_file", metavar="STUDY.toml", help="the study file")
    scheduler = parser.add_mutually_exclusive_group(required=True)
    scheduler.add_argument("--slurm", dest="scheduler", action="store_const", const="slurm",
                           help="submit the workers as one Slurm job array (sbatch, from a login node)")
    scheduler.add_argument("--local", dest="scheduler", action="store_const", const="local",
                           help="start the workers as processes on this machine, through the same submitit path")
    parser.add_argument("--array", type=whole_number(1), required=True, metavar="N", help="number of workers")
    parser.add_argument("--partition", default=None, help="Slurm partition (default: the cluster's default)")
    parser.add_argument("--gpus-per-task", type=whole_number(0), default=None,
                        help="GPUs of each Slurm worker (default: 1; local workers train on the CPU)")
    parser.add_argument("--time", type=library_value(_time), default=None, metavar="T",
                        help="each task's time limit in sbatch's forms (minutes, HH:MM:SS, D-HH...); a task that "
                             "reaches it is requeued and its trial resumed from its last epoch (default: 1-00)")
    parser.add_argument("--storage", default=None, help=STORAGE_HELP)
    parser.add_argument("--dataset", default=None, help="override the study's data set, e.g. cifar10:PATH")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                        type=library_value(_assignment), help="override one setting of the study file (repeatable)")
    parser.add_argument("--threads", type=whole_number(1), default=None,
                        help="torch CPU threads per worker (default: torch's, the task's CPUs)")
    add_runs_dir(parser, "study files, resume states and checkpoints; on a shared file system")
    parser.add_argument("--log-dir", default=None, help="submitit's files and the workers' logs "
                                                        "(default: <runs-dir>/<study>/submitit)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the sbatch script of --slurm and submit nothing (nothing is queued either)")
    parser.add_argument("--json", action="store_true", help="print the plan and the jobs as JSON")


@command("submit", "queue a study's trials and submit its workers as a Slurm job array (submitit)", _configure_submit)
def run_submit(args) -> int:
    from budgetsearch.study import SubmitOptions, sbatch_script, submit_study

    from ._study import _quiet_optuna

    _quiet_optuna()
    config = study_file_config(args)
    time = {} if args.time is None else {"time_min": args.time}
    options = SubmitOptions(tasks=args.array, scheduler=args.scheduler, partition=args.partition,
                            gpus_per_task=args.gpus_per_task, storage=args.storage, runs_dir=args.runs_dir,
                            threads=args.threads, log_dir=args.log_dir, **time)
    if args.dry_run:
        if options.scheduler != "slurm":
            raise ConfigError("--dry-run prints the sbatch script of --slurm; --local starts processes, it has none")
        script = sbatch_script(config, options)
        if args.json:
            print_json({"sbatch": script})
        else:
            print(script, end="")
        return 0
    report = submit_study(config, options)
    ids = [job.job_id for job in report.jobs]
    if args.json:
        from dataclasses import asdict

        print_json({"solved": [asdict(c) for c in report.plan.solved], "skipped": [asdict(c) for c in
                                                                                  report.plan.skipped],
                    "queued": report.queued, "storage": report.storage, "job_ids": ids, "log_dir": report.log_dir})
        return 0
    print_plan(report.plan)
    print(f"queued {report.queued} trials; submitted {len(ids)} workers ({options.scheduler} job "
          f"{', '.join(ids)}) on storage {_shown_storage(report.storage)}; logs in {report.log_dir}")
    same = (f" --storage {args.storage}" if args.storage is not None else "") \
        + (f" --runs-dir {args.runs_dir}" if args.runs_dir != "runs" else "")
    print(f"watch: budgetsearch status {args.study_file}{same}\n"
          f"collect: budgetsearch frontier {args.study_file}{same}")
    return 0


def _shown_storage(url: str) -> str:
    """An RDB URL without its password (a journal file path as it is)."""
    if "://" not in url:
        return url
    import sqlalchemy

    return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
