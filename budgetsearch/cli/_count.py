"""``substitutes`` and ``count``: what is registered, and what a model with a substitute counts."""

from __future__ import annotations

from budgetsearch.timing import MAX_BATCH  # plain settings: parsing the command line imports no torch

from ._commands import command
from ._options import (add_compat_option, add_counter_option, add_model_options, library_value, model_selection,
                       whole_number)
from ._output import print_json, print_kept_dense, print_table
from ._train import add_weights_options


def _configure_substitutes(parser):
    parser.add_argument("--json", action="store_true", help="print JSON")


@command("substitutes", "list the registered substitutes and their size hyperparameters", _configure_substitutes)
def run_substitutes(args) -> int:
    from budgetsearch.substitutes import describe_substitute, list_substitutes  # neither imports torch

    rows = []
    for name in list_substitutes():
        s = describe_substitute(name)
        hp = s.hyperparameter
        rows.append({
            "name": s.name, "original": s.original_name,
            "hyperparameter": hp.name if hp else None, "type": hp.type.__name__ if hp else None,
            "domain": hp.domain if hp else None,
            "params_with_setting": (("grow" if hp.grows else "shrink") if hp else None),
            "summary": s.summary, "paper": s.paper,
        })
    if args.json:
        print_json(rows)
    else:
        print_table(rows, ["name", "original", "hyperparameter", "domain", "params_with_setting", "summary"])
    return 0


def _timing_device(name: str) -> str:
    from budgetsearch.timing import check_device  # when --device is given: it imports torch

    check_device(name)
    return name


def _configure_count(parser):
    add_model_options(parser)
    parser.add_argument("--substitute", default=None, help="NAME, NAME:SETTING or the original NAME_SETTING "
                                                          "(default: the network as published, e.g. dense for WRNs, "
                                                          "separable for DARTS)")
    parser.add_argument("--setting", type=float, default=None, help="the substitute's hyperparameter value")
    parser.add_argument("--per-layer", action="store_true", help="also print each module's own count")
    add_weights_options(parser)
    add_compat_option(parser)
    add_counter_option(parser)
    parser.add_argument("--measure", action="store_true",
                        help="also time the network's forward and training step on --device (images per second)")
    parser.add_argument("--batch-size", type=whole_number(1, MAX_BATCH), default=32,
                        help="--measure: images per timed batch (default: 32)")
    parser.add_argument("--device", type=library_value(_timing_device), default="cpu",
                        help="--measure: cpu, cuda or cuda:N (default: cpu)")
    parser.add_argument("--repeats", type=whole_number(1, 1000), default=10,
                        help="--measure: timed batches, of which the median is reported (default: 10)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


@command("count", "count parameters and mult-adds of a model with a substitute", _configure_count)
def run_count(args) -> int:
    from budgetsearch.compat import compat_factory
    from budgetsearch.counting import build_for_counting, count, fixed_part
    from budgetsearch.models import default_input_size, model_defaults

    chosen = model_selection(args)
    substitute = args.substitute or model_defaults(args.model)[2]
    factory = compat_factory(substitute, args.setting, args.compat)
    input_size = args.input_size or default_input_size(args.model)
    model = build_for_counting(args.model, factory, num_classes=args.num_classes, input_size=input_size,
                               compat=args.compat, select=chosen["select"], exclude=chosen["exclude"],
                               **chosen["options"])
    loaded = _load_weights(model, args) if args.weights is not None else {}
    result = count(model, input_size, compat=args.compat, counter=args.counter)
    fixed_params, fixed_mult_adds = fixed_part(result, model.substitution_points)
    summary = {"model": args.model, "substitute": factory.substitute.name, "setting": factory.setting,
               "compat": args.compat, "params": result.params, "mult_adds": result.mult_adds,
               "reconstruction_mult_adds": result.reconstruction_mult_adds, "fixed_params": fixed_params,
               "fixed_mult_adds": fixed_mult_adds}
    summary |= {key: value for key, value in loaded.items() if key == "weights"}
    timing = _measure(model, input_size, args) if args.measure else None  # after counting: a count is exact
    if args.json:
        kept = [{"name": k.name, "reason": k.reason} for k in model.kept_dense]
        measured = {"timing": timing.to_dict()} if timing is not None else {}
        print_json(summary | result.to_dict(per_layer=args.per_layer) | {"kept_dense": kept} | measured | loaded)
        return 0
    if timing is not None:
        summary |= {"forward_ms": round(1000 * timing.forward_seconds, 3),
                    "inference_img_s": round(timing.inference_images_per_second, 1),
                    "train_img_s": round(timing.train_images_per_second, 1)}
    if args.per_layer:
        print_table(result.per_layer().to_dict("records"), ["name", "type", "params", "mult_adds"])
        print()
    print_table([summary], list(summary))
    print(f"counted with {result.convention.counter}; unit: {result.convention.unit}; "
          f"input {','.join(map(str, input_size))}, batch 1; mult_adds per image at inference, "
          f"reconstruction_mult_adds per training step (rebuilding the structured weights, any batch); fixed part: "
          f"what the {len(model.substitution_points)} substitution points do not hold")
    if timing is not None:
        print(f"measured: {timing.method}; forward_ms per batch at inference, train_img_s with forward, "
              f"cross-entropy and backward")
    print_kept_dense(model.kept_dense)
    if loaded:
        left = loaded["left_at_init"]
        print(f"weights {args.weights}: every tensor loaded" if not left else
              f"weights {args.weights}: left at initialisation (zeros here: counting builds no random weights), "
              f"{len(left)} tensors: {', '.join(left[:10])}{' ...' if len(left) > 10 else ''}")
    return 0


def _load_weights(model, args) -> dict:
    """Load ``--weights`` into the counted model (a check that they fit, and the weights ``--measure`` times)."""
    from budgetsearch.models import load_weights

    return {"weights": args.weights, "left_at_init": load_weights(model, args.weights, args.weights_strict)}


def _measure(model, input_size, args):
    from budgetsearch.timing import measure

    return measure(model, input_size, batch_size=args.batch_size, device=args.device, repeats=args.repeats)
