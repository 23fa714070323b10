"""Short training trials: one (model, substitute, setting) trained for a few epochs.

``train_trial(model, substitute, setting, dataset, config, on_epoch)`` returns a
:class:`TrialResult`; the study scheduler calls it and reports ``on_epoch``
metrics to its pruner. This package knows nothing of Optuna.
"""

from ._architecture import Architecture
from ._checkpoint import Checkpoint, check_checkpoint_path, load_checkpoint, load_teacher, save_checkpoint
from ._config import (MAX_EPOCHS, MAX_SEED, OPTIMIZER_OPTIONS, PRESETS, PROJECTED_DISTILLATION, SCHEDULES,
                      DistillConfig, TrainConfig, check_optimizer_options)
from ._evaluate import Evaluation, evaluate
from ._losses import attention_transfer_loss, distillation_kl, student_loss
from ._param_groups import DecayGroup, reference_ratio, weight_decay_groups
from ._result import STATUSES, TrialResult
from ._schedule import learning_rate
from ._trainer import train_trial

__all__ = [
    "Architecture", "Checkpoint", "DecayGroup", "DistillConfig", "Evaluation", "MAX_EPOCHS", "MAX_SEED",
    "OPTIMIZER_OPTIONS", "PRESETS", "PROJECTED_DISTILLATION", "SCHEDULES", "STATUSES", "TrainConfig", "TrialResult", "attention_transfer_loss",
    "check_checkpoint_path", "check_optimizer_options", "distillation_kl", "evaluate", "learning_rate",
    "load_checkpoint", "load_teacher", "reference_ratio", "save_checkpoint", "student_loss",
    "train_trial", "weight_decay_groups",
]
