"""Forward+backward time of every substitute against the dense conv, at WRN-28-10's layer shapes.

Each substitute is set (by the budget solver) so that the whole WRN-28-10 has
about 1/10 of the dense network's parameters, or, where even its largest
setting stays below that (shuffle, acdc), at its largest setting; the
params/dense column says what each got. For each distinct substitution
site of WRN-28-10 the script times one training step's forward and backward of
that layer on a batch (32 on the CPU, 128 on a CUDA GPU) and prints the time as
a ratio to the dense conv at the same site, plus the network-weighted total
(each site counted as often as it occurs).

    python benchmarks/layers.py [--device cuda] [--batch 32] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from budgetsearch.solver import network_counter, solve_budget
from budgetsearch.substitutes import get_substitute, list_substitutes

MODEL = "wrn-28-10"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=None, help="default: 32 on CPU, 128 on CUDA")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--budget", default="0.1x", help="network budget the settings are solved for")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    batch = args.batch or (128 if device.type == "cuda" else 32)
    counter = network_counter(MODEL)
    sites = counter.sites

    settings = {}
    for name in ["conv"] + [n for n in list_substitutes() if n != "conv"]:
        if get_substitute(name).hyperparameter is None:
            settings[name] = None
            continue
        # A budget above a substitute's reach (shuffle, acdc) gives its largest network: timed as that.
        settings[name] = solve_budget(MODEL, name, args.budget).setting

    print(f"# {MODEL} layer shapes, batch {batch}, device {device} ({torch.get_num_threads()} CPU threads), "
          f"median of {args.repeats}; settings solved for {args.budget} of the dense network")
    header = ["substitute", "setting", "params/dense"] + [f"{s.in_channels}->{s.out_channels}/s{s.stride[0]}@{s.input_hw[0]}"
                                          for s in sites] + ["network"]
    print("  ".join(f"{h:>16}" for h in header))
    dense_times = None
    for name, setting in settings.items():
        substitute = get_substitute(name)
        times = {}
        for site in sites:
            torch.manual_seed(0)
            layer = site.build(substitute, setting).to(device)
            x = torch.randn(batch, site.in_channels, *site.input_hw, device=device, requires_grad=True)
            times[site] = step_seconds(layer, x, args.repeats)
        if dense_times is None:
            dense_times = times  # "conv" comes first: the baseline of every ratio
        network = sum(n * times[s] for s, n in sites.items()) / sum(n * dense_times[s] for s, n in sites.items())
        cells = [f"{times[s] / dense_times[s]:.2f}x" for s in sites] + [f"{network:.2f}x"]
        size = counter.params(substitute, setting) / counter.dense.params
        print("  ".join(f"{c:>16}" for c in [name, "-" if setting is None else f"{setting:.4g}", f"{size:.3f}",
                                             *cells]))
    print("dense seconds per step: " + ", ".join(f"{t * 1e3:.1f} ms" for t in dense_times.values()))


if __name__ == "__main__":
    main()
