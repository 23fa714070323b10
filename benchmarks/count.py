"""Counting a network for its shapes against building it for real, on WRN-28-10.

Baseline: ``count(create_model(...))``, the network initialised as for
training (ACDC calibrates its whole product at construction) and every
structured weight rebuilt before the trace. Against it: ``count_model``, built
on the meta device, zero-filled, rebuilds stood in for by zeros of their
shapes. For each substitute the script checks that both counts agree, then
prints both times and their ratio (medians of ``--repeats``, in one process).

    python benchmarks/count.py [--substitutes acdc:128 hashed:0.1 ...] [--repeats 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

from budgetsearch.counting import count, count_model
from budgetsearch.models import create_model

MODEL = "wrn-28-10"
DEFAULT = ["conv", "separable", "hashed:0.1", "sep-hashed:0.1", "generic:0.2", "lowrank:0.2", "shuffle:4", "acdc:12",
           "acdc:128", "tensor-train:0.3", "tucker:0.3", "cp:0.3"]


def seconds(run, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--substitutes", nargs="+", default=DEFAULT)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    count_model(MODEL, "separable")  # warm fvcore's and torch's first-call costs for both
    print(f"# {MODEL}, {torch.get_num_threads()} CPU threads, median of {args.repeats}")
    print(f"{'substitute':>16} {'real build s':>12} {'count_model s':>13} {'ratio':>7} {'same':>5}")
    for name in args.substitutes:
        real_s, real = seconds(lambda: count(create_model(MODEL, substitute=name), (3, 32, 32)), args.repeats)
        shapes_s, shapes = seconds(lambda: count_model(MODEL, name), args.repeats)
        same = dataclasses.asdict(real) == dataclasses.asdict(shapes)
        print(f"{name:>16} {real_s:12.2f} {shapes_s:13.2f} {real_s / shapes_s:6.1f}x {'yes' if same else 'NO':>5}")


if __name__ == "__main__":
    main()
