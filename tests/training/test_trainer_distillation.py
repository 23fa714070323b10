"""Distillation with every built-in family as teacher and as student; combinations without paired maps are refused."""

import math

import pytest
from torch.nn.modules.module import register_module_forward_hook

from budgetsearch.errors import ConfigError
from budgetsearch.models import ModelCapabilities, list_models
from budgetsearch.training import Architecture, DistillConfig, TrainConfig, save_checkpoint, train_trial

# A small member of each family, by the family's example name; a family not listed trains at its example.
SMALL = {"wrn-28-10": ("wrn-10-1", {}), "wrn-50-2": ("wrn-50-2", {"blocks": [1, 1, 1, 1], "widen": 1}),
         "darts": ("darts", {"channels": 4, "layers": 3}), "vit-6-256": ("vit-1-64", {})}
SIZE = (3, 32, 32)


def small(example: str) -> tuple:
    return SMALL.get(example, (example, {}))


def save_teacher(path, name: str, options=None) -> str:
    teacher = Architecture(name, "conv", None, 10, SIZE, dict(options or {}))
    save_checkpoint(path, teacher.build(), teacher)
    return str(path)


def one_step(teacher: str, teacher_model=None) -> TrainConfig:
    return TrainConfig(epochs=1, batch_size=8, device="cpu",
                       distill=DistillConfig(teacher, alpha=0.5, teacher_model=teacher_model))


@pytest.mark.parametrize("example", list_models())
def test_every_family_teaches_a_student_of_its_own(example, tmp_path, random_cifar):
    name, options = small(example)
    teacher = save_teacher(tmp_path / "teacher.pt", name, options)
    result = train_trial(name, "tucker", 0.5, random_cifar(8, 8), one_step(teacher), model_options=options)
    assert result.status == "complete", result.message
    epoch = result.history[0]
    assert all(math.isfinite(epoch[key]) for key in ("train_loss", "train_ce_loss", "train_kd_loss", "train_at_loss"))
    assert epoch["train_at_loss"] > 0 and epoch["train_kd_loss"] > 0  # both networks' maps and logits were used
    assert result.config["teacher"]["model"] == name


def _no_training_step(module, inputs, output):
    if isinstance(module, ModelCapabilities) and module.training:  # a trial's network (not the counter's wrapper)
        pytest.fail("a training step ran before the combination was refused")


# (teacher, student, what the error says): a ViT's 64 token positions at every tap against a CIFAR WRN's
# 32², 16² and 8² groups; a model that declares no attention maps.
REFUSED = [
    ("vit-1-64", "wrn-10-1", r"its attention maps have \[64, 64, 64\] positions, the student's \[1024, 256, 64\]"),
    ("wrn-10-1", "vit-1-64", r"its attention maps have \[1024, 256, 64\] positions, the student's \[64, 64, 64\]"),
    ("examples.tinyvgg:TinyVGG", "wrn-10-1", r"the teacher examples.tinyvgg:TinyVGG conv gives no attention maps"),
    ("wrn-10-1", "examples.tinyvgg:TinyVGG", r"the student examples.tinyvgg:TinyVGG tucker:0.5 gives no attention"),
]


@pytest.mark.parametrize("teacher, student, message", REFUSED, ids=[f"{t}->{s}" for t, s, _ in REFUSED])
def test_a_combination_without_paired_maps_is_refused_naming_it(teacher, student, message, tmp_path, random_cifar):
    path = save_teacher(tmp_path / "teacher.pt", teacher)
    handle = register_module_forward_hook(_no_training_step)
    try:
        with pytest.raises(ConfigError, match=rf"teacher .*teacher.pt \({teacher} conv\) cannot teach {student} "
                                              rf"tucker:0.5 by attention transfer: {message}"):
            train_trial(student, "tucker", 0.5, random_cifar(8, 8), one_step(path, teacher_model=teacher))
    finally:
        handle.remove()
