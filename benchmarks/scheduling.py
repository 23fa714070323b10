"""Scheduling benchmark: one study of 16 short digits cells run by 1 and by 2 local worker processes.

Prints each run's wall time, the speed-up of 2 workers over the 1-worker
baseline (the target on a 2-core machine is near 2x), and the scheduler's
overhead: time a trial spends in the scheduler rather than in the trainer
(claiming, recording, pruning checks), and the run's whole non-training time
(process start-up, solving, queueing, polling), each as a fraction of the
trainer's own time.

    python benchmarks/scheduling.py [--epochs 5] [--repeats 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import optuna

from budgetsearch.study import RunOptions, load_study_config, open_storage, run_study

STUDY = """
name = "bench"
model = "wrn-10-1"
dataset = "digits"
substitutes = ["generic", "tucker", "tensor-train", "shuffle"]
budgets = ["0.08x", "0.1x"]          # the range where all four reach the budget on wrn-10-1
seeds = 2                       # 4 substitutes x 2 budgets x 2 seeds = 16 cells

[training]
epochs = {epochs}
batch_size = 128
validation_size = 100
"""


def measure(study_file: Path, workers: int, runs_dir: Path) -> dict:
    config = load_study_config(study_file)
    started = time.perf_counter()
    report = run_study(config, RunOptions(workers=workers, runs_dir=str(runs_dir)))
    wall = time.perf_counter() - started
    trials = optuna.load_study(study_name=config.name,
                               storage=open_storage(None, config.name, runs_dir=runs_dir)).get_trials()
    training = sum(t.user_attrs["wall_time"] for t in trials)
    in_trial = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in trials)
    assert report.progress.done == len(trials) == 16, report.progress
    return {
        "workers": workers, "trials": len(trials), "wall_s": wall, "training_s": training,
        "mean_trial_s": training / len(trials),
        # Claim to finish, minus the trainer's own time: what the scheduler adds to each trial.
        "scheduler_overhead_per_trial": (in_trial - training) / training,
        # Everything but training, over the whole run and all workers: start-up, solving, queueing, idle polling.
        "run_overhead": (wall * workers - training) / training,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs per trial (default 5: a few seconds each)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="alternate 1- and 2-worker runs this many times; the fastest of each counts "
                             "(the machine is shared: the minimum is the least disturbed run)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        study_file = Path(folder) / "bench.toml"
        study_file.write_text(STUDY.format(epochs=args.epochs))
        for repeat in range(args.repeats):
            for workers in (1, 2):
                rows.append(measure(study_file, workers, Path(folder) / f"runs-{repeat}-{workers}") | {"repeat": repeat})
    best = {w: min((r for r in rows if r["workers"] == w), key=lambda r: r["wall_s"]) for w in (1, 2)}
    result = {"cpus": os.cpu_count(), "runs": rows, "speedup_2_over_1": best[1]["wall_s"] / best[2]["wall_s"]}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{'repeat':>6} {'workers':>7} {'trials':>6} {'wall s':>8} {'train s':>8} {'mean trial s':>12} "
          f"{'sched/trial':>11} {'run overhead':>12}")
    for r in rows:
        print(f"{r['repeat']:>6} {r['workers']:>7} {r['trials']:>6} {r['wall_s']:>8.1f} {r['training_s']:>8.1f} "
              f"{r['mean_trial_s']:>12.2f} {r['scheduler_overhead_per_trial']:>11.1%} {r['run_overhead']:>12.1%}")
    print(f"speed-up of 2 workers over 1 (baseline), fastest run of each: {result['speedup_2_over_1']:.2f}x "
          f"on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
