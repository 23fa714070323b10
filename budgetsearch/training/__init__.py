"""Short training trials: one (model, substitute, setting) trained for a few epochs.

``train_trial(model, substitute, setting, dataset, config, on_epoch)`` returns a
:class:`TrialResult`; the study scheduler calls it and reports ``on_epoch``
metrics to its pruner. This package knows nothing of Optuna.
"""

from .._lazy import lazy_exports

# Each name imports its module on first use: the configs (read by study files) import no torch.
__getattr__, __dir__, __all__ = lazy_exports(globals(), {
    "_architecture": ("Architecture",),
    "_checkpoint": ("Checkpoint", "check_checkpoint_path", "load_checkpoint", "load_teacher", "save_checkpoint"),
    "_config": ("MAX_EPOCHS", "MAX_SEED", "OPTIMIZER_OPTIONS", "PRESETS", "PROJECTED_DISTILLATION", "SCHEDULES",
                "DistillConfig", "TrainConfig", "check_optimizer_options"),
    "_evaluate": ("Evaluation", "evaluate"),
    "_losses": ("attention_transfer_loss", "distillation_kl", "student_loss"),
    "_param_groups": ("DecayGroup", "reference_ratio", "weight_decay_groups"),
    "_result": ("STATUSES", "TrialResult"),
    "_schedule": ("learning_rate",),
    "_trainer": ("train_trial",),
})
