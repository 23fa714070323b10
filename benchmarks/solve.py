"""The budget solver against the naive method it replaces, on WRN-28-10 at 0.6M, 1.2M and 2.4M parameters.

Naive (REFERENCE §4.1, the original set_for_budget): at every probe build the
real network with the substitute at that setting and count its parameters
with fvcore; scipy's ``minimize_scalar(method="bounded")`` minimises
|budget - count| over the substitute's declared domain (integer settings
rounded, as the original rounded ACDC's); the answer is then counted once more
for its mult-adds. Solver: ``solve_budget``, whose one-off trace of the
network is included in its total.

For every cell the script prints both times, both answers and whether each
respected the budget; then both totals and their ratio.

    python benchmarks/solve.py [--budgets 0.6M 1.2M 2.4M] [--substitutes NAME ...]
"""

from __future__ import annotations

import argparse
import time

import torch
from fvcore.nn import parameter_count
from scipy.optimize import minimize_scalar

from budgetsearch.counting import count
from budgetsearch.errors import InfeasibleBudgetError
from budgetsearch.models import create_model
from budgetsearch.solver import network_counter, parse_budget, solve_budget
from budgetsearch.substitutes import get_substitute, list_substitutes
from budgetsearch.solver._search import highest, lowest

MODEL = "wrn-28-10"


def naive_solve(name: str, cap: int):
    """(setting, params, mult_adds, probes) by bounded Brent search on |cap - params|, a real network per probe."""
    substitute = get_substitute(name)
    hp = substitute.hyperparameter
    probes = 0

    def as_setting(x):
        return None if hp is None else (int(round(x)) if hp.type is int else float(x))

    def params_at(x) -> int:
        nonlocal probes
        probes += 1
        with torch.no_grad():
            return parameter_count(create_model(MODEL, substitute=substitute.factory(as_setting(x))))[""]

    if hp is None:
        setting = None
    else:
        result = minimize_scalar(lambda x: abs(cap - params_at(x)), bounds=(lowest(hp), highest(hp)),
                                 method="bounded")
        setting = as_setting(result.x)
    counted = count(create_model(MODEL, substitute=substitute.factory(setting)), (3, 32, 32))
    return setting, counted.params, counted.mult_adds, probes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", nargs="+", default=["0.6M", "1.2M", "2.4M"])
    parser.add_argument("--substitutes", nargs="+", default=list_substitutes())
    parser.add_argument("--naive", nargs="*", default=None,
                        help="substitutes to run the naive method on (default: all); a naive ACDC cell builds "
                             "dozens of real 24-layer ACDC stacks and takes many minutes")
    args = parser.parse_args()
    naive_names = args.substitutes if args.naive is None else args.naive

    start = time.perf_counter()
    counter = network_counter(MODEL)
    setup = time.perf_counter() - start
    print(f"# {MODEL}: solver setup (one trace of the network, its sites and dense counts) {setup:.2f} s; "
          f"{torch.get_num_threads()} CPU threads")
    print(f"{'substitute':>12} {'budget':>6} | {'solver setting':>20} {'params':>10} {'ms':>8} {'ok':>4} | "
          f"{'naive setting':>20} {'params':>10} {'probes':>6} {'s':>7} {'ok':>4}")
    solver_total, naive_total = setup, 0.0
    solver_over = naive_over = naive_cells = 0
    for name in args.substitutes:
        for label in args.budgets:
            cap = parse_budget(label).resolve(counter.dense.params)
            start = time.perf_counter()
            try:
                solution = solve_budget(MODEL, name, label)
                solver = (repr(solution.setting), solution.params, solution.params <= cap)
            except InfeasibleBudgetError:
                solver = ("infeasible", None, True)  # nothing over budget is returned
            solver_seconds = time.perf_counter() - start
            solver_total += solver_seconds
            solver_over += not solver[2]
            row = (f"{name:>12} {label:>6} | {solver[0][:20]:>20} {solver[1] or '-':>10} {solver_seconds * 1e3:8.1f} "
                   f"{'yes' if solver[2] else 'OVER':>4} |")
            if name not in naive_names:
                print(f"{row} {'(naive not run)':>20}")
                continue
            start = time.perf_counter()
            setting, params, _, probes = naive_solve(name, cap)
            naive_seconds = time.perf_counter() - start
            naive_total += naive_seconds
            naive_cells += 1
            naive_over += params > cap
            shown = "-" if setting is None else f"{setting:.6g}"
            print(f"{row} {shown:>20} {params:>10} {probes:>6} {naive_seconds:7.1f} "
                  f"{'yes' if params <= cap else 'OVER':>4}", flush=True)
    cells = len(args.substitutes) * len(args.budgets)
    print(f"\nsolver: {solver_total:.2f} s for all {cells} cells (setup included), {solver_over} cells over budget")
    print(f"naive:  {naive_total:.1f} s for {naive_cells} cells, {naive_over} cells over budget")
    if naive_cells:
        # Conservative: the solver's whole table (with its setup) against the naive method's cells only.
        print(f"speed-up: at least {naive_total / solver_total:.0f}x")


if __name__ == "__main__":
    main()
