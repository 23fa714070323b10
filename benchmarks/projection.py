"""Projection plus fine-tuning against training from scratch, for every family at three budgets.

A dense network is trained on a data set, saved as a state_dict, then for each family and
budget: the budget is solved, the dense weights projected onto the family at that setting
(each family's closed form; ``fit`` for the families without one, as the table's method
column says), and the projected network measured at epoch 0, saved, and from there after 1
and after 3 epochs of fine-tuning (two separate trials from the one projection, each with
its own cosine schedule, distilling from the dense network by KD as a projected trial does),
against the same network trained for 3 epochs from scratch. The last
column is the baseline's ratio: (error from scratch) / (error after projection and 3 epochs).

    python benchmarks/projection.py [--model wrn-16-4] [--dataset cifar10:PATH] [--dense-epochs 10]
        [--budgets 0.5x 0.25x 0.1x] [--families NAME ...] [--train-images N] [--quick]

``--quick`` is a run a contended CPU finishes in minutes: vit-1-64 (linears: no depthwise
split), 1,500 training images, 3 dense epochs, 0.25x only, fine-tuning 1 epoch (no 3-epoch
column) against 1 epoch from scratch.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
import time
from pathlib import Path

import torch

from budgetsearch.data import load_dataset
from budgetsearch.errors import InfeasibleBudgetError
from budgetsearch.projection import NoClosedFormError
from budgetsearch.solver import network_counter, solve_budget
from budgetsearch.substitutes import get_substitute, list_substitutes
from budgetsearch.training import PROJECTED_DISTILLATION, DistillConfig, TrainConfig, load_checkpoint, train_trial

CIFAR_MINI = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar-10-mini" / "cifar-10-batches-py"


def arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="wrn-16-4")
    parser.add_argument("--dataset", default=f"cifar10:{CIFAR_MINI}")
    parser.add_argument("--dense-epochs", type=int, default=10)
    parser.add_argument("--budgets", nargs="+", default=["0.5x", "0.25x", "0.1x"])
    parser.add_argument("--families", nargs="+", default=None, help="default: every family with a setting")
    parser.add_argument("--train-images", type=int, default=None, help="the first N training images (default: all)")
    parser.add_argument("--fine-tune-epochs", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--scratch-epochs", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.model, args.train_images, args.dense_epochs, args.budgets = "vit-1-64", 1500, 3, ["0.25x"]
        args.fine_tune_epochs, args.scratch_epochs = [1], 1
    return args


def recipe(model: str, device: str, **changes) -> TrainConfig:
    """The short recipe: SGD for CNNs, AdamW for ViTs (as the study files use them)."""
    vit = model.startswith("vit")
    base = dict(optimizer="adamw", lr=2e-3, weight_decay=0.05, batch_size=64) if vit else dict(lr=0.05, batch_size=64)
    return TrainConfig(**base, device=device, validation_size=0, **changes)


def accuracy(error):
    return None if error is None else 100.0 - error


def projected_start(args, data, weights, family, setting, save: Path):
    """The network projected onto ``family`` (its closed form, else ``fit``), measured at epoch 0 and saved."""
    for method in ("closed", "fit"):
        config = recipe(args.model, args.device, epochs=0, init="projected", weights=str(weights), projection=method)
        try:
            return train_trial(args.model, family, setting, data, config, save=save)
        except NoClosedFormError:
            continue
    raise AssertionError("fit projects every family")


def fine_tuned(args, data, start: Path, dense: Path, family, setting, epochs: int):
    """``epochs`` of fine-tuning from the saved projection at a tenth of training's rate, distilled from the dense
    network as a projected trial distils from its dense original."""
    config = recipe(args.model, args.device, epochs=epochs, init="loaded", weights=str(start),
                    distill=DistillConfig(teacher=str(dense), **PROJECTED_DISTILLATION))
    return train_trial(args.model, family, setting, data, dataclasses.replace(config, lr=config.lr / 10))


def main():
    args = arguments()
    data = load_dataset(args.dataset, validation_size=0, seed=0)
    if args.train_images:
        data = dataclasses.replace(data, train_images=data.train_images[:args.train_images],
                                   train_labels=data.train_labels[:args.train_images])
    kinds = {site.kind for site in network_counter(args.model, data.num_classes, data.input_size).sites}
    families = args.families or [name for name in list_substitutes() if get_substitute(name).hyperparameter
                                 and kinds <= set(get_substitute(name).layer_kinds)]
    folder = Path(tempfile.mkdtemp(prefix="projection-"))
    started = time.perf_counter()
    dense = train_trial(args.model, "conv", None, data, recipe(args.model, args.device, epochs=args.dense_epochs),
                        save=folder / "dense.ckpt")
    weights = folder / "dense.pt"
    torch.save(load_checkpoint(folder / "dense.ckpt").model.state_dict(), weights)
    print(f"dense {args.model}: {dense.params:,} params, {args.dense_epochs} epochs on {len(data.train_images)} "
          f"images, test accuracy {accuracy(dense.test_error):.2f}% ({time.perf_counter() - started:.0f} s)")
    rows = []
    for budget in args.budgets:
        for family in families:
            try:
                solution = solve_budget(args.model, family, budget, num_classes=data.num_classes,
                                        input_size=data.input_size)
            except InfeasibleBudgetError:
                rows.append({"family": family, "budget": budget, "note": "infeasible"})
                continue
            start = folder / f"{family}-{solution.setting}.ckpt"
            projected = projected_start(args, data, weights, family, solution.setting, start)
            tuned = {epochs: fine_tuned(args, data, start, folder / "dense.ckpt", family, solution.setting, epochs)
                     for epochs in args.fine_tune_epochs}
            scratch = train_trial(args.model, family, solution.setting, data,
                                  recipe(args.model, args.device, epochs=args.scratch_epochs))
            last = tuned[args.fine_tune_epochs[-1]]
            ratio = scratch.test_error / last.test_error if last.test_error else math.nan
            row = {"family": family, "budget": budget, "setting": solution.setting, "params": solution.params,
                   "method": projected.projection["layers"][0]["method"],
                   "weight_err": projected.projection["weight_error"],
                   "output_err": projected.projection["output_error"],
                   "acc_projected": accuracy(projected.test_error)}
            row |= {f"acc_ft{epochs}": accuracy(result.test_error) for epochs, result in tuned.items()}
            row |= {f"acc_scratch{args.scratch_epochs}": accuracy(scratch.test_error), "err_ratio": ratio}
            rows.append(row)
            print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
                  flush=True)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    print()
    print(" | ".join(columns))
    for row in rows:
        print(" | ".join(f"{row[c]:.3f}" if isinstance(row.get(c), float) else str(row.get(c, "")) for c in columns))
    print(f"\nerr_ratio: test error from scratch / after projection and fine-tuning (> 1: projection helps); "
          f"{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
