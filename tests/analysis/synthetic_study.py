"""A small synthetic study, built with optuna.trial.create_trial (no training), with the agreed attributes.

A uniquely named module (not conftest) so that tests import it unambiguously beside other conftest.py files.

The numbers are chosen so that means, standard deviations and fronts can be
worked out by hand (see the tests).
"""

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)

BUDGETS = {"0.1M": 100_000, "0.2M": 200_000}
# (substitute, budget) -> setting, params, mult_adds, val errors of seeds 0, 1, 2 (None: that seed failed)
POINTS = {
    ("tucker", "0.1M"): (0.2, 96_000, 30_000_000, [8.0, 9.0, 10.0]),
    ("tucker", "0.2M"): (0.4, 190_000, 55_000_000, [6.0, 6.5, 7.0]),
    ("acdc", "0.1M"): (8, 99_000, 20_000_000, [10.0, 10.0, 13.0]),
    ("acdc", "0.2M"): (16, 180_000, 35_000_000, [7.0, 7.5, 8.0]),
    ("shuffle", "0.1M"): (4, 80_000, 10_000_000, [12.0, 12.0, 12.0]),
    ("shuffle", "0.2M"): (2, 150_000, 18_000_000, [9.0, 9.5, None]),
}
# Mult-adds of one weight rebuild per training step, recorded by each trained trial (shuffle rebuilds nothing).
REBUILDS = {"tucker": 300_000, "acdc": 5_000_000, "shuffle": 0}
FAILED_MESSAGE = "RuntimeError: worker lost\nsecond line | with a pipe"
EPOCHS = 2


def attributes(**overrides) -> dict:
    """Every agreed user attribute of one trial, a complete student trial unless overridden."""
    attrs = {
        "model": "wrn-16-2", "dataset": "digits", "substitute": "tucker", "setting": 0.2, "budget": "0.1M",
        "budget_params": 100_000, "budget_mult_adds": None, "seed": 0, "cell": None, "role": "student",
        "params": 96_000, "mult_adds": 30_000_000, "dense_params": 700_000, "dense_mult_adds": 100_000_000,
        "convention": {"counter": "fvcore", "unit": "mult-adds", "input_size": [3, 8, 8]},
        "fill": None, "saturated": False,  # fill None: params / budget_params, worked out below
        "val_error": 9.0, "val_top5_error": 1.0, "test_error": 9.5, "test_top5_error": 1.5, "train_error": 3.0,
        "status": "complete", "message": None, "wall_time": 12.5, "epochs_run": EPOCHS,
        "config": {"study": "synthetic", "pruning": {"pruner": "none"}, "train": {"epochs": EPOCHS, "lr": 0.1}},
        "resumed_from_epoch": None,
        "tuning_trial": None, "lost": False, "budgets": None,  # None: the trial serves its own budget only
        "init": "scratch", "projection_weight_error": None, "projection_output_error": None,
        "projection_layers": None, "projection_batch_norms": None,  # projected starts only
        "initial_val_error": None, "initial_test_error": None,
        # Not measured (a study without `measure`, journalled before training throughput was recorded).
        "train_images_per_second": None, "latency_ms": None, "inference_images_per_second": None,
        "timing_device": None, "timing": None,
    }
    attrs.update(overrides)
    if attrs["fill"] is None and all(isinstance(attrs[k], (int, float)) for k in ("params", "budget_params")):
        attrs["fill"] = attrs["params"] / attrs["budget_params"]
    if attrs["cell"] is None:
        attrs["cell"] = f"{attrs['substitute']}|{attrs['budget']}|{attrs['seed']}"
    return attrs


def frozen(attrs: dict) -> optuna.trial.FrozenTrial:
    """The trial as the scheduler would store it: objective val_error; failed/pruned trials in those states.

    Its budget constraint as the queue records it; a validation error per epoch run (falling by one point
    an epoch, to val_error at the last) as the trial reports them.
    """
    from budgetsearch.study._record import budget_constraints

    state = {"complete": optuna.trial.TrialState.COMPLETE, "pruned": optuna.trial.TrialState.PRUNED}.get(
        attrs["status"], optuna.trial.TrialState.FAIL)
    value = attrs["val_error"] if state == optuna.trial.TrialState.COMPLETE else None
    ran = attrs.get("epochs_run") or 0
    reported = {} if not isinstance(attrs.get("val_error"), float) else {
        epoch: attrs["val_error"] + ran - 1 - epoch for epoch in range(ran)}
    return optuna.trial.create_trial(state=state, value=value, user_attrs=attrs, intermediate_values=reported,
                                     system_attrs=budget_constraints(attrs))


def synthetic_trials() -> list:
    trials = []
    for (substitute, budget), (setting, params, mult_adds, errors) in POINTS.items():
        for seed, error in enumerate(errors):
            common = dict(substitute=substitute, budget=budget, budget_params=BUDGETS[budget], seed=seed,
                          setting=setting, params=params, mult_adds=mult_adds)
            if error is None:  # a failed trial records no result, so no rebuild count
                trials.append(frozen(attributes(**common, status="failed", val_error=None, val_top5_error=None,
                                                test_error=None, test_top5_error=None, train_error=None,
                                                epochs_run=1, message=FAILED_MESSAGE)))
            else:
                trials.append(frozen(attributes(**common, val_error=error, test_error=error + 0.5,
                                                reconstruction_mult_adds=REBUILDS[substitute])))
    trials.append(frozen(attributes(substitute="tucker", budget="0.2M", budget_params=200_000, seed=3, setting=0.4,
                                    params=190_000, mult_adds=55_000_000, status="pruned", val_error=30.0,
                                    test_error=None, test_top5_error=None, epochs_run=1, message="pruned at epoch 1")))
    for seed, error in enumerate([4.0, 5.0]):
        trials.append(frozen(attributes(substitute="conv", setting=None, budget=None, budget_params=None, seed=seed,
                                        role="teacher", params=700_000, mult_adds=100_000_000, val_error=error,
                                        saturated=None)))
    return trials


def build_study(storage, name: str = "synthetic") -> optuna.Study:
    study = optuna.create_study(study_name=name, storage=storage, direction="minimize")
    for trial in synthetic_trials():
        study.add_trial(trial)
    return study


def journal_study(path, name: str = "synthetic") -> None:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    build_study(JournalStorage(JournalFileBackend(str(path))), name)

