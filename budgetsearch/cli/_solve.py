"""``solve`` and ``curves``: a budget turned into each substitute's setting, and the sizes over every setting."""

from __future__ import annotations

import math

from budgetsearch.errors import InfeasibleBudgetError

from ._commands import command
from ._options import (add_compat_option, add_counter_option, add_model_options, model_selection, output_folder,
                       whole_number)
from ._output import print_json, print_kept_dense, print_table

# solve's exit status when a requested substitute cannot meet the budget (2 is a bad input, as everywhere).
BUDGET_NOT_MET = 3
MAX_POINTS = 10_000  # settings per substitute in `curves`: each is one count of the network


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
    add_counter_option(parser)
    parser.add_argument("--json", action="store_true", help="print a JSON list, one object per substitute")


@command("solve", "turn a parameter budget into each substitute's setting", _configure_solve)
def run_solve(args) -> int:
    from budgetsearch.counting import counter_in_use

    with counter_in_use(args.counter):
        return _solve(args)


def _solve(args) -> int:
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
        _print_solutions(feasible, args.model)
    print(f"fixed part (no substitution point holds it): {fixed['fixed_params']:,} params, "
          f"{fixed['fixed_mult_adds']:,} mult-adds")
    print_kept_dense(counter.kept_dense)
    for row in rows:
        if not row["feasible"]:
            print(f"infeasible: {row['reason']}")
    if any(r["saturated"] for r in feasible):
        print("saturated: the budget is above the substitute's largest network, which is shown (fill < 1)")
    return status


def _print_solutions(feasible: list[dict], model: str) -> None:
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
    print(f"\n{cap}; dense {model} ({first['reference']}): {first['dense_params']:,} params, "
          f"{first['dense_mult_adds']:,} mult-adds; counted with {first['convention']['counter']}, "
          f"input {','.join(map(str, first['input_size']))}, batch 1")


def _configure_curves(parser):
    add_model_options(parser)
    parser.add_argument("--substitute", nargs="+", default=None, help="names (default: every one with a setting)")
    parser.add_argument("--points", type=whole_number(2, MAX_POINTS), default=40,
                        help="settings per substitute (default: 40)")
    parser.add_argument("--out", default="curves", help="folder for curves.csv and curves.png (default: curves)")
    add_compat_option(parser)
    add_counter_option(parser)
    parser.add_argument("--json", action="store_true", help="print the table as JSON")


@command("curves", "sweep every substitute's setting and plot the network's counts against it", _configure_curves)
def run_curves(args) -> int:
    from budgetsearch.counting import counter_in_use

    with counter_in_use(args.counter):
        return _curves(args)


def _curves(args) -> int:
    import matplotlib
    from tqdm import tqdm

    from budgetsearch.solver import draw_settings_curves, network_counter, settings_curve
    from budgetsearch.substitutes import get_substitute

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = output_folder(args.out, "--out")  # before the sweep, so a bad folder is told at once
    names = None if args.substitute is None else [get_substitute(n).name for n in args.substitute]
    chosen = model_selection(args)
    with tqdm(desc="sweeping", unit="substitute", disable=args.json) as bar:
        curves = settings_curve(args.model, names, args.points, args.num_classes, args.input_size, args.compat,
                                progress=lambda name: (bar.set_postfix_str(name), bar.update()), **chosen)
    dense = network_counter(args.model, args.num_classes, args.input_size, args.compat, **chosen).dense
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
