"""``compress``: a trained dense model's weights projected onto a substitute at a budget, fine-tuned, saved."""

from __future__ import annotations

from budgetsearch.projection import METHODS  # the names alone: no torch

from ._commands import command
from ._options import add_model_selection
from ._output import print_json, print_table
from ._train import _percent, _train_config, add_training_options, add_weights_options, print_start, \
    run_trial


def _configure_compress(parser):
    parser.add_argument("--model", required=True, help="registered model name or package.module:callable")
    add_model_selection(parser)
    add_weights_options(parser, required=True)
    parser.add_argument("--substitute", required=True, help="the family to compress into (NAME)")
    parser.add_argument("--budget", required=True, help="parameter budget (1.2M, 0.25x of the dense network)")
    parser.add_argument("--projection", choices=METHODS, default="closed",
                        help="closed: each family's closed form (SVD, HOSVD/HOOI, TT-SVD, Van Loan, ...); whitened: "
                             "low rank on the calibration data's inputs (SVD-LLM); fit: the closed form refined by "
                             "least squares on each layer's outputs (every family)")
    parser.add_argument("--out", required=True, help="the checkpoint to write (only once everything completed)")
    parser.add_argument("--overwrite", action="store_true", help="let --out replace an existing file")
    add_training_options(parser, epochs_help="epochs of fine-tuning after the projection (default: 0), distilling "
                                             "from the dense model unless --teacher names another (--beta 0: "
                                             "labels only)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.set_defaults(init="projected", setting=None, epochs=0)


@command("compress", "project a trained dense model's weights onto a substitute at a budget, fine-tune and save",
         _configure_compress)
def run_compress(args) -> int:
    result, solution = run_trial(args, _train_config(args, "projected"), args.out)
    initial = result.initial
    accuracy = {"dense": _accuracy(initial["dense_test_error"]), "projected": _accuracy(initial["test_error"]),
                "fine_tuned": _accuracy(result.test_error) if result.epochs_run else None}
    written = result.status == "complete"
    if args.json:
        print_json(result.to_dict() | {"budget": solution.to_dict(), "test_accuracy": accuracy,
                                       "checkpoint": args.out if written else None})
        return 0 if written else 1
    print_start(result)
    projection = result.projection
    rows = [{"layer": layer["name"], "family": layer["family"], "method": layer["method"],
             "weight_error": layer["weight_error"], "output_error": layer["output_error"]}
            for layer in projection["layers"]]
    rows.append({"layer": "total", "weight_error": projection["weight_error"],
                 "output_error": projection["output_error"]})
    print_table(rows, ["layer", "family", "method", "weight_error", "output_error"])
    print("errors: relative Frobenius norm of each layer's weight, and of its outputs on the calibration images; "
          "total: pooled over the layers, weighed by their norms")
    if projection["batch_norms_reestimated"]:
        print(f"running statistics of {projection['batch_norms_reestimated']} batch norms recomputed on the "
              f"calibration images")
    tuned = f", after {result.epochs_run} epochs of fine-tuning {_percent(accuracy['fine_tuned'])}" \
        if result.epochs_run else ""
    print(f"test accuracy: dense {_percent(accuracy['dense'])}, projected {_percent(accuracy['projected'])}{tuned}")
    print(f"{result.params:,} params ({solution.substitute}, setting {solution.setting!r}); {result.message}")
    print(f"checkpoint written to {args.out}" if written else f"nothing written to {args.out}")
    return 0 if written else 1


def _accuracy(error):
    return None if error is None else 100.0 - error
