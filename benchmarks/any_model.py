"""Solve and count times on third-party models: transformers' ResNet-50 (every conv selected) and a ViT.

Models are built from transformers' default configs (no weights): ResNet-50
(``ResNetConfig()``, 1000 classes) with ``select="convs"``, and ViT-B/16
(``ViTConfig()``) with ``select="linear"`` (its patch embedding kept dense).
For each substitute that supports the selected layers the script times
``solve_budget`` at three budgets (the first solve of a model includes the
network counter's one-off trace, printed on its own line), then, on ResNet-50,
``count`` of the network each substitute's 0.5x solution builds, as a ratio to
the count of the dense network in the same run.

    python benchmarks/any_model.py [--input-size 3,224,224] [--budgets 0.3x 0.5x 0.7x] [--substitutes NAME ...]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from budgetsearch.counting import count
from budgetsearch.errors import InfeasibleBudgetError
from budgetsearch.solver import network_counter, solve_budget
from budgetsearch.solver._search import highest, lowest
from budgetsearch.substitutes import get_substitute, list_substitutes


class Logits(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(pixel_values=x).logits


def resnet50():
    import transformers

    return Logits(transformers.ResNetForImageClassification(transformers.ResNetConfig(num_labels=1000)))


def vit_b16():
    import transformers

    return Logits(transformers.ViTForImageClassification(transformers.ViTConfig(num_labels=1000)))


def seconds(call):
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def solve_times(label, make, selection, size, budgets, names):
    trace, counter = seconds(lambda: network_counter(make, 1000, size, **selection))
    kinds = {site.kind for site in counter.sites}
    print(f"\n{label}: {sum(counter.sites.values())} substitution points ({len(counter.sites)} distinct), "
          f"dense {counter.dense.params:,} params, fixed part {counter.fixed.params:,}; "
          f"network counter trace {trace:.1f} s")
    print(f"{'substitute':<14}" + "".join(f"{b:>16}" for b in budgets))
    for name in names:
        if not kinds <= set(get_substitute(name).layer_kinds):
            print(f"{name:<14}  (no linear form)")
            continue
        cells = []
        for budget in budgets:
            try:
                elapsed, solution = seconds(lambda: solve_budget(make, name, budget, input_size=size,
                                                                 num_classes=1000, **selection))
                cells.append(f"{elapsed:7.2f} s {solution.params / solution.dense_params:5.3f}")
            except InfeasibleBudgetError:
                cells.append(f"{'infeasible':>16}")
        print(f"{name:<14}" + "".join(f"{c:>16}" for c in cells), flush=True)


def count_times(make, selection, size, names):
    """``count`` of the network each substitute builds: its 0.5x solution, else halfway along its range."""
    counter = network_counter(make, 1000, size, **selection)
    dense_network = counter.build(get_substitute("conv").factory())
    baseline, _ = seconds(lambda: count(dense_network, size))
    print(f"\nResNet-50 count (whole network, fvcore trace) at {','.join(map(str, size))}: "
          f"dense {baseline:.2f} s (= 1.00)")
    for name in names:
        substitute = get_substitute(name)
        hp = substitute.hyperparameter
        try:
            setting = solve_budget(make, name, "0.5x", input_size=size, num_classes=1000, **selection).setting
        except InfeasibleBudgetError:  # out of its range: halfway along the range instead
            ends = [counter.params(substitute, end) for end in (lowest(hp), highest(hp))] if hp else [None]
            setting = None if hp is None else solve_budget(make, name, sum(ends) // 2, input_size=size,
                                                           num_classes=1000, **selection).setting
        network = counter.build(substitute.factory(setting))
        elapsed, _ = seconds(lambda: count(network, size))
        print(f"{name:<14} {elapsed:8.2f} s  {elapsed / baseline:6.2f}x dense  (setting {setting})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-size", default="3,224,224")
    parser.add_argument("--budgets", nargs="+", default=["0.3x", "0.5x", "0.7x"])
    parser.add_argument("--substitutes", nargs="+", default=None)
    parser.add_argument("--skip", nargs="*", default=[], choices=["resnet-solve", "vit-solve", "resnet-count"])
    args = parser.parse_args()
    size = tuple(int(s) for s in args.input_size.split(","))
    names = args.substitutes or list_substitutes()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, input {args.input_size}")
    if "resnet-solve" not in args.skip:
        solve_times("ResNet-50, select=convs", resnet50, {"select": "convs"}, size, args.budgets, names)
    if "vit-solve" not in args.skip:
        solve_times("ViT-B/16, select=linear", vit_b16, {"select": "linear", "exclude": ("*patch_embeddings*",)},
                    size, args.budgets, names)
    if "resnet-count" not in args.skip:
        count_times(resnet50, {"select": "convs"}, size, names)


if __name__ == "__main__":
    main()
