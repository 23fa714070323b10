"""Solving every substitute at three budgets, against one dense fvcore count of the same network, in one process.

Baseline: ``count`` of the dense network, one fvcore trace (after a warm-up
count of a small network, so neither side pays torch's and fvcore's first-call
costs). Measured against it, on WRN-28-10, the built-in ViT (vit-6-256) and
transformers' ResNet-50 (every conv selected, 224×224, from its default config,
no weights):

- ``solve_budget`` for every substitute at each of three budgets, cold: nothing
  remembered (a first call, on-disk cache off), the network counter's setup included;
- on WRN-28-10 again, warm from disk: a fresh process's memory with the disk cache
  the cold run wrote (a second ``budgetsearch solve``);
- on ResNet-50, ``count`` of the network each substitute's 0.5x solution builds;
- for the command line, three ``budgetsearch solve --model wrn-28-10 --budget B
  --substitute all`` calls (one per budget, in a fresh cache directory, then again
  with the cache warm) against three ``budgetsearch substitutes`` calls plus 6 s.

Every time is printed beside its baseline as a ratio, of wall-clock and of this
process's CPU time (the machine may be shared: compare ratios, not seconds; CPU
time is the steadier of the two under load). Targets: at most 2x for a solve
table and for every count, at most the substitutes calls plus 6 s for the command line.

    python benchmarks/solve_speed.py [--models wrn-28-10 vit-6-256 resnet-50] [--no-cli]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch

from budgetsearch.counting import count
from budgetsearch.errors import ConfigError, InfeasibleBudgetError
from budgetsearch.models import create_model, default_input_size
from budgetsearch.solver import solve_budget
from budgetsearch.solver._network import forget_counts, network_counter
from budgetsearch.substitutes import get_substitute, list_substitutes

from any_model import resnet50

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    model: object  # a registered name or a callable building the network
    budgets: tuple
    dense: Callable[[], torch.nn.Module]  # the dense network, for the baseline count
    input_size: Optional[tuple] = None
    selection: dict = field(default_factory=dict)
    num_classes: Optional[int] = None


CASES = {
    "wrn-28-10": Case("wrn-28-10", ("0.6M", "1.2M", "2.4M"), lambda: create_model("wrn-28-10")),
    "vit-6-256": Case("vit-6-256", ("0.05x", "0.1x", "0.2x"), lambda: create_model("vit-6-256")),
    "resnet-50": Case(resnet50, ("0.3x", "0.5x", "0.7x"), resnet50, (3, 224, 224), {"select": "convs"}, 1000),
}


def timed(call):
    """(wall seconds, CPU seconds of this process, value) of ``call()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = call()
    return time.perf_counter() - wall, time.process_time() - cpu, value


def ratio(seconds: tuple, baseline: tuple) -> str:
    return (f"{seconds[0]:7.2f} s = {seconds[0] / baseline[0]:5.2f}x wall, "
            f"{seconds[1] / baseline[1]:5.2f}x CPU the dense count")


def solve_table(case: Case) -> tuple:
    """((wall, CPU) seconds, {substitute: wall seconds}, solutions) of solving every substitute at every budget."""
    per_substitute, solutions = {}, []

    def solve_all():
        for name in list_substitutes():
            began = time.perf_counter()
            for budget in case.budgets:
                try:
                    solutions.append(solve_budget(case.model, name, budget, input_size=case.input_size,
                                                  num_classes=case.num_classes, **case.selection))
                except (InfeasibleBudgetError, ConfigError) as error:  # a conv-only substitute at linear sites
                    solutions.append(str(error))
            per_substitute[name] = time.perf_counter() - began

    wall, cpu, _ = timed(solve_all)
    return (wall, cpu), per_substitute, solutions


def in_process(label: str, case: Case, cache: Path) -> None:
    size = case.input_size or default_input_size(case.model)
    network = case.dense()
    wall, cpu, _ = timed(lambda: count(network, size))
    dense = (wall, cpu)
    print(f"\n# {label}, budgets {', '.join(case.budgets)}, input {size}; {torch.get_num_threads()} CPU threads")
    print(f"baseline: one dense fvcore count: {wall:.2f} s wall, {cpu:.2f} s CPU")

    os.environ["BUDGETSEARCH_NO_CACHE"] = "1"
    forget_counts()
    cold, per_substitute, solutions = solve_table(case)
    print("cold, per substitute (s): " + ", ".join(f"{n} {s:.2f}" for n, s in per_substitute.items()))
    print(f"solve table, cold (nothing remembered): {ratio(cold, dense)} (target 2x)")
    if label == "wrn-28-10":
        os.environ.pop("BUDGETSEARCH_NO_CACHE")
        os.environ["BUDGETSEARCH_CACHE_DIR"] = str(cache)
        forget_counts()
        solve_table(case)  # writes the disk cache, as a first process would
        forget_counts()
        warm, _, again = solve_table(case)
        same = "same solutions" if again == solutions else "SOLUTIONS DIFFER"
        print(f"solve table, warm from disk (a second process): {ratio(warm, dense)}; {same}")
        os.environ.pop("BUDGETSEARCH_CACHE_DIR")
    if label == "resnet-50":
        count_table(case, size, dense)


def count_table(case: Case, size: tuple, dense: tuple) -> None:
    """``count`` of the network each substitute's 0.5x solution builds (else its largest), against the dense one."""
    counter = network_counter(case.model, case.num_classes, size, **case.selection)
    worst = 0.0
    for name in list_substitutes():
        try:
            setting = solve_budget(case.model, name, "0.5x", input_size=size, num_classes=case.num_classes,
                                   **case.selection).setting
        except InfeasibleBudgetError:  # out of its range: its largest network instead
            setting = solve_budget(case.model, name, 10 ** 12, input_size=size, num_classes=case.num_classes,
                                   **case.selection).setting
        network = counter.build(get_substitute(name).factory(setting))
        wall, cpu, _ = timed(lambda: count(network, size))
        worst = max(worst, wall / dense[0])
        print(f"count {name:<14} (setting {setting}): {ratio((wall, cpu), dense)}", flush=True)
    print(f"count, the slowest substitute: {worst:.2f}x wall the dense count (target 2x)")


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
                      for budget in CASES["wrn-28-10"].budgets)
        print(f"3 `solve --model wrn-28-10 --budget B --substitute all`, {state}: {seconds:.2f} s = "
              f"{seconds / allowed:.2f}x the allowance")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--no-cli", action="store_true", help="skip the command-line calls")
    args = parser.parse_args()
    count(create_model("wrn-10-1"), (3, 8, 8))  # torch's and fvcore's first-call costs, paid by neither side
    with tempfile.TemporaryDirectory(prefix="budgetsearch-cache-") as directory:
        for label in args.models:
            in_process(label, CASES[label], Path(directory) / label)
        if not args.no_cli:
            command_line(Path(directory) / "cli")


if __name__ == "__main__":
    main()
