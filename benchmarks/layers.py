"""Forward+backward time of every substitute against dense, at WRN-28-10's and a ViT's layer shapes.

Each substitute is set (by the budget solver) so that the whole network has
about 1/10 of the dense network's parameters, or, where even its largest
setting stays below that (shuffle, acdc), at its largest setting; the
params/dense column says what each got. For each distinct substitution
site the script times one training step's forward and backward of that layer
on a batch of images (32 on the CPU, 128 on a CUDA GPU; a ViT's linear layers
see all their tokens, 64 per image) and prints the time as a ratio to the dense
layer at the same site, plus the network-weighted total (each site counted as
often as it occurs). The ViT table holds the substitutes with a linear form.

Beside each time ratio stands the mult-adds ratio at the same site (per image, as
``count`` counts them), so a family slower than dense says why: a time ratio far
above its mult-adds ratio is the kernels' doing, not the arithmetic's. A family
slower than dense over the network is listed under the table with both ratios, and
the mult-adds of a whole step's forward beside dense's, weights rebuilt from their
parameters included (once per step, whatever the batch: ACDC's product of factors).
``--quick`` times one step after the warm-up and only WRN-28-10 (about 2 minutes
on one thread of the loaded 2-core machine, the default 5); the default takes the median of 3.

    python benchmarks/layers.py [--quick] [--device cuda] [--batch 32] [--repeats 3] [--threads 1]
                                [--models wrn-28-10 vit-6-256] [--substitutes butterfly acdc]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from budgetsearch.counting import count
from budgetsearch.errors import InfeasibleBudgetError
from budgetsearch.solver import network_counter, solve_budget
from budgetsearch.solver._search import highest, lowest
from budgetsearch.substitutes import get_substitute, linear_substitutes, list_substitutes

MODELS = ("wrn-28-10", "vit-6-256")


def step_seconds(layer, x, repeats: int) -> float:
    """Median wall time of forward + backward (gradients into the layer and its input)."""
    def step():
        x.grad = None
        layer.zero_grad(set_to_none=True)
        layer(x).square().mean().backward()
        if x.is_cuda:
            torch.cuda.synchronize()

    step()  # warm-up: allocator, kernels, lazy init
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def solved_settings(model: str, budget: str, names: list) -> dict:
    settings = {}
    for name in names:
        substitute = get_substitute(name)
        if substitute.hyperparameter is None:
            settings[name] = None
            continue
        try:
            settings[name] = solve_budget(model, name, budget).setting
        except InfeasibleBudgetError:
            # Out of reach from below: even the smallest setting exceeds the budget (btt on vit-6-256 at
            # 0.1x); time the smallest. (A budget above the largest is solved as its largest, saturated.)
            hp = substitute.hyperparameter
            settings[name] = lowest(hp) if hp.grows else highest(hp)
    return settings


def site_label(site) -> str:
    if site.kind == "linear":
        return f"{site.in_channels}->{site.out_channels}@{site.input_shape[0]}tok"
    return f"{site.in_channels}->{site.out_channels}/s{site.stride[0]}@{site.input_hw[0]}"


def print_table(model: str, args, device: torch.device, batch: int) -> None:
    counter = network_counter(model)
    sites = counter.sites
    linear = any(site.kind == "linear" for site in sites)
    names = ["conv"] + [n for n in (linear_substitutes() if linear else list_substitutes()) if n != "conv"
                        and (args.substitutes is None or n in args.substitutes)]
    settings = solved_settings(model, args.budget, names)

    print(f"# {model} layer shapes, batch {batch}, device {device} ({torch.get_num_threads()} CPU threads), "
          f"median of {args.repeats}; settings solved for {args.budget} of the dense network")
    print("# each cell: forward+backward time / dense's, then mult-adds / dense's at that site")
    header = ["substitute", "setting", "params/dense"] + [site_label(s) for s in sites] + ["network"]
    print("  ".join(f"{h:>18}" for h in header))
    dense_times = dense_mult_adds = None
    slower = []
    for name, setting in settings.items():
        substitute = get_substitute(name)
        times, mult_adds, step_mult_adds = {}, {}, {}
        for site in sites:
            torch.manual_seed(0)
            layer = site.build(substitute, setting)
            result = count(layer, site.counting_shape)
            mult_adds[site] = result.exact_mult_adds
            step_mult_adds[site] = batch * result.exact_mult_adds + result.reconstruction_mult_adds
            layer = layer.to(device)
            x = torch.randn(batch, *site.input_shape, device=device, requires_grad=True)
            times[site] = step_seconds(layer, x, args.repeats)
        if dense_times is None:
            dense_times, dense_mult_adds = times, mult_adds  # "conv" comes first: the baseline of every ratio
        network = weighted(sites, times) / weighted(sites, dense_times)
        network_mult_adds = weighted(sites, mult_adds) / weighted(sites, dense_mult_adds)
        cells = [f"{times[s] / dense_times[s]:.2f}x {mult_adds[s] / dense_mult_adds[s]:.2f}" for s in sites]
        cells.append(f"{network:.2f}x {network_mult_adds:.2f}")
        size = counter.params(substitute, setting) / counter.dense.params
        print("  ".join(f"{c:>18}" for c in [name, "-" if setting is None else f"{setting:.4g}", f"{size:.3f}",
                                             *cells]))
        if network > 1:
            step = weighted(sites, step_mult_adds) / (batch * weighted(sites, dense_mult_adds))
            slower.append(f"{name} {network:.2f}x dense's time at {network_mult_adds:.2f}x its mult-adds per image, "
                          f"{step:.2f}x per step with the rebuilt weights")
    print("dense seconds per step: " + ", ".join(f"{t * 1e3:.1f} ms" for t in dense_times.values()))
    if slower:
        print("slower than dense over the network: " + "; ".join(slower))


def weighted(sites, per_site: dict) -> float:
    """The network's total: each site counted as often as it occurs."""
    return sum(n * per_site[s] for s, n in sites.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=None, help="images per step; default: 32 on CPU, 128 on CUDA")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per layer, after one warm-up")
    parser.add_argument("--quick", action="store_true",
                        help="one timed step per layer, and only wrn-28-10 unless --models is given")
    parser.add_argument("--budget", default="0.1x", help="network budget the settings are solved for")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--models", nargs="+", default=None, help=f"default: {' '.join(MODELS)}")
    parser.add_argument("--substitutes", nargs="+", default=None, help="only these (dense is always timed)")
    args = parser.parse_args()
    if args.quick:
        args.repeats = 1
    args.models = args.models or (list(MODELS[:1]) if args.quick else list(MODELS))
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    batch = args.batch or (128 if device.type == "cuda" else 32)
    for model in args.models:
        print_table(model, args, device, batch)
        print()


if __name__ == "__main__":
    main()
