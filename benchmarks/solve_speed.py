"""Solving every substitute at three budgets, against one dense fvcore count of the same network, in one process.

Baseline: ``count(create_model(MODEL))``, one fvcore trace of the dense network
(after a warm-up count of a small network, so neither side pays torch's and
fvcore's first-call costs). Against it, ``solve_budget`` for every substitute
at each budget, in three states of the solver's count cache:

- cold: nothing remembered (a first call, on-disk cache off);
- warm from disk: a fresh process's memory, with the disk cache the cold run wrote
  (a second ``budgetsearch solve``);
- and, for the command line, three ``budgetsearch solve --model wrn-28-10
  --budget B --substitute all`` calls (one per budget, in a fresh cache
  directory, then again with the cache warm) against three
  ``budgetsearch substitutes`` calls plus 6 s.

Every time is printed beside the baseline it is compared to, as a ratio (the
target: at most 2x for a solve table, at most the substitutes calls plus 6 s for
the command line). The machine may be shared: compare ratios, not seconds.

    python benchmarks/solve_speed.py [--models wrn-28-10 vit-6-256] [--no-cli]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from budgetsearch.counting import count
from budgetsearch.errors import ConfigError, InfeasibleBudgetError
from budgetsearch.models import create_model, default_input_size
from budgetsearch.solver import solve_budget
from budgetsearch.solver._network import forget_counts
from budgetsearch.substitutes import get_substitute, list_substitutes

BUDGETS = {"wrn-28-10": ("0.6M", "1.2M", "2.4M"), "vit-6-256": ("0.05x", "0.1x", "0.2x")}
ROOT = Path(__file__).resolve().parents[1]


def dense_count_seconds(model: str) -> float:
    network = create_model(model)
    start = time.perf_counter()
    count(network, default_input_size(model))
    return time.perf_counter() - start


def solve_table_seconds(model: str, budgets) -> tuple:
    """(seconds, {substitute: seconds}, solutions) of solving every substitute at every budget."""
    per_substitute, solutions = {}, []
    start = time.perf_counter()
    for name in list_substitutes():
        began = time.perf_counter()
        for budget in budgets:
            try:
                solutions.append(solve_budget(model, name, budget))
            except (InfeasibleBudgetError, ConfigError) as error:  # a conv-only substitute at linear sites: refused
                solutions.append(str(error))
        per_substitute[name] = time.perf_counter() - began
    return time.perf_counter() - start, per_substitute, solutions


def in_process(model: str, budgets, cache: Path) -> None:
    count(create_model("wrn-10-1"), (3, 8, 8))  # torch's and fvcore's first-call costs, paid by neither side
    dense = dense_count_seconds(model)
    print(f"\n# {model}, budgets {', '.join(budgets)}; {torch.get_num_threads()} CPU threads")
    print(f"baseline: one dense fvcore count of {model}: {dense:.2f} s")

    os.environ["BUDGETSEARCH_NO_CACHE"] = "1"
    forget_counts()
    cold, per_substitute, solutions = solve_table_seconds(model, budgets)
    print("cold, per substitute (s): " + ", ".join(f"{n} {s:.2f}" for n, s in per_substitute.items()))
    print(f"cold (nothing remembered):        {cold:7.2f} s = {cold / dense:5.1f}x the dense count (target 2x)")

    os.environ.pop("BUDGETSEARCH_NO_CACHE")
    os.environ["BUDGETSEARCH_CACHE_DIR"] = str(cache)
    forget_counts()
    solve_table_seconds(model, budgets)  # writes the disk cache, as a first process would
    forget_counts()
    warm, _, again = solve_table_seconds(model, budgets)
    same = "same solutions" if again == solutions else "SOLUTIONS DIFFER"
    print(f"warm from disk (a second process): {warm:7.2f} s = {warm / dense:5.1f}x the dense count; {same}")


def cli_seconds(arguments: list, cache: Path, calls: int = 1) -> float:
    env = dict(os.environ, BUDGETSEARCH_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))
    env.pop("BUDGETSEARCH_NO_CACHE", None)
    start = time.perf_counter()
    for _ in range(calls):
        subprocess.run([sys.executable, "-m", "budgetsearch.cli", *arguments], env=env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def command_line(cache: Path) -> None:
    listing = cli_seconds(["substitutes"], cache, calls=3)
    allowed = listing + 6
    print(f"\n# command line: 3 `budgetsearch substitutes` calls {listing:.2f} s; allowed for 3 solves: {allowed:.2f} s")
    for state in ("cold cache directory", "warm cache directory"):
        seconds = sum(cli_seconds(["solve", "--model", "wrn-28-10", "--budget", budget, "--substitute", "all"], cache)
                      for budget in BUDGETS["wrn-28-10"])
        print(f"3 `solve --model wrn-28-10 --budget B --substitute all`, {state}: {seconds:.2f} s = "
              f"{seconds / allowed:.2f}x the allowance")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(BUDGETS), choices=list(BUDGETS))
    parser.add_argument("--no-cli", action="store_true", help="skip the command-line calls")
    args = parser.parse_args()
    get_substitute("conv")  # the registry's plugins, loaded before any timing
    with tempfile.TemporaryDirectory(prefix="budgetsearch-cache-") as directory:
        for model in args.models:
            in_process(model, BUDGETS[model], Path(directory) / model)
        if not args.no_cli:
            command_line(Path(directory) / "cli")


if __name__ == "__main__":
    main()
