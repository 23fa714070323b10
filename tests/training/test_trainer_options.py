"""The trainer options ViTs need: AdamW, warmup, label smoothing, gradient clipping."""

import dataclasses
import inspect
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.module import register_module_forward_hook

from budgetsearch.data import load_dataset
from budgetsearch.errors import ConfigError
from budgetsearch.models import WideResNet
from budgetsearch.training import DistillConfig, TrainConfig, learning_rate, train_trial
from budgetsearch.training import _trainer
from budgetsearch.training._device import Kernels


@pytest.fixture(scope="module")
def tiny_digits():
    """64 training images: one step of 64 per epoch."""
    data = load_dataset("digits", validation_size=0.1, seed=0)
    return dataclasses.replace(data, train_images=data.train_images[:64], train_labels=data.train_labels[:64])


def quick(**fields) -> TrainConfig:
    return TrainConfig(**({"epochs": 1, "batch_size": 64, "device": "cpu", "weight_decay": 0.0} | fields))


@pytest.mark.parametrize("field, value", [
    ("optimizer", "adam"), ("betas", (0.9,)), ("betas", (0.9, 1.0)), ("betas", "0.9,0.99"), ("warmup_epochs", -1),
    ("warmup_epochs", 11), ("label_smoothing", 1.0), ("label_smoothing", -0.1), ("grad_clip", 0.0),
    ("grad_clip", math.inf),
])
def test_bad_values_are_refused_naming_field_and_value(field, value):
    with pytest.raises(ConfigError) as info:
        TrainConfig(**{field: value})
    assert f"TrainConfig.{field}" in str(info.value) and repr(value) in str(info.value)


def test_label_smoothing_is_refused_with_distillation():
    with pytest.raises(ConfigError, match="label_smoothing applies to plain training only"):
        TrainConfig(label_smoothing=0.1, distill=DistillConfig("t.pt"))


# An option each optimizer reads, at a value other than its default (torch's own names for them).
OWN_OPTIONS = {"sgd": {"momentum": 0.5}, "adamw": {"betas": (0.8, 0.95)}}


@pytest.mark.parametrize("optimizer, other", [("sgd", "adamw"), ("adamw", "sgd")])
def test_another_optimizers_option_is_refused_naming_it_its_value_and_the_rule(optimizer, other):
    (name, value), = OWN_OPTIONS[other].items()
    # torch's own constructors say which optimizer reads the option
    torch_class = {"sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}
    assert name in inspect.signature(torch_class[other]).parameters
    assert name not in inspect.signature(torch_class[optimizer]).parameters
    TrainConfig(optimizer=optimizer, **OWN_OPTIONS[optimizer])  # its own option is taken
    with pytest.raises(ConfigError) as info:
        TrainConfig(optimizer=optimizer, **{name: value})
    assert str(info.value).startswith(f"TrainConfig.{name} = {value!r} is an option of optimizer {other!r} only, "
                                      f"but got optimizer={optimizer!r}")


def test_another_optimizers_option_at_its_default_is_no_choice_and_loads():
    # a study stored with optimizer = "adamw" writes every field out, momentum's default among them
    config = TrainConfig(optimizer="adamw")
    assert TrainConfig(**{f.name: getattr(config, f.name) for f in dataclasses.fields(config)}) == config


def test_sgd_stays_the_default():
    config = TrainConfig()
    assert (config.optimizer, config.warmup_epochs, config.label_smoothing, config.grad_clip) == ("sgd", 0, 0, None)
    assert config.to_dict()["betas"] == [0.9, 0.999]


def test_warmup_rises_linearly_then_cosine_anneals_over_the_rest():
    config = TrainConfig(epochs=4, lr=1.0, warmup_epochs=1)
    rates = [learning_rate(config, epoch, step, 10) for epoch in range(4) for step in range(10)]
    assert rates[:10] == pytest.approx([0.1 * k for k in range(1, 11)])
    # After the 10 warmup steps, a cosine over the remaining 30: 1 at step 10, 1/2 at step 25.
    assert rates[10] == pytest.approx(1.0) and rates[25] == pytest.approx(0.5)
    assert rates[39] == pytest.approx(0.5 * (1 + math.cos(math.pi * 29 / 30)))
    half = TrainConfig(epochs=4, lr=1.0, warmup_epochs=0.5)
    assert learning_rate(half, 0, 4, 10) == pytest.approx(1.0)  # 5 warmup steps: the 5th reaches lr


def test_warmup_then_the_step_schedule_keeps_its_milestones():
    config = TrainConfig(epochs=4, lr=1.0, warmup_epochs=1, schedule="original-steps", milestones=(2,), gamma=0.1)
    assert [learning_rate(config, e, 0, 4) for e in range(4)] == pytest.approx([0.25, 1.0, 0.1, 0.1])


def test_adamw_is_chosen_with_its_betas_and_takes_adams_first_step():
    layer = nn.Linear(4, 3)
    groups = [{"params": list(layer.parameters()), "weight_decay": 0.0}]
    config = TrainConfig(optimizer="adamw", lr=1e-3, betas=(0.8, 0.95))
    optimizer = _trainer.make_optimizer(groups, config, Kernels.choose(torch.device("cpu"), False))
    assert isinstance(optimizer, torch.optim.AdamW) and optimizer.param_groups[0]["betas"] == (0.8, 0.95)
    before = [p.detach().clone() for p in layer.parameters()]
    layer(torch.randn(8, 4)).square().sum().backward()
    optimizer.step()
    # Adam's first update is lr·g/(|g| + ε): a step of lr against the gradient's sign, whatever its size.
    for old, new in zip(before, layer.parameters()):
        torch.testing.assert_close(old - new, 1e-3 * torch.sign(new.grad), atol=1e-8, rtol=1e-4)
    sgd = _trainer.make_optimizer(groups, TrainConfig(), Kernels.choose(torch.device("cpu"), False))
    assert isinstance(sgd, torch.optim.SGD) and sgd.param_groups[0]["momentum"] == 0.9


def _record_gradient_norms(monkeypatch) -> list:
    norms, make = [], _trainer.make_optimizer

    def recording(groups, config, kernels):
        optimizer = make(groups, config, kernels)

        def record(opt, args, kwargs):
            grads = [p.grad for group in opt.param_groups for p in group["params"] if p.grad is not None]
            norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())
        optimizer.register_step_pre_hook(record)
        return optimizer

    monkeypatch.setattr(_trainer, "make_optimizer", recording)
    return norms


def test_gradient_clipping_bounds_the_total_norm_the_optimizer_sees(monkeypatch, tiny_digits):
    norms = _record_gradient_norms(monkeypatch)
    assert train_trial("wrn-10-1", "conv", None, tiny_digits, quick(epochs=3)).status == "complete"
    unclipped, norms[:] = list(norms), []
    clip = min(unclipped) / 4
    assert train_trial("wrn-10-1", "conv", None, tiny_digits, quick(epochs=3, grad_clip=clip)).status == "complete"
    assert len(norms) == 3 and all(norm == pytest.approx(clip, rel=1e-4) for norm in norms)


def test_label_smoothing_gives_the_smoothed_cross_entropy(tiny_digits):
    # Every label 0, so the targets of the one step are known whatever order the batch comes in.
    data = dataclasses.replace(tiny_digits, train_labels=torch.zeros_like(tiny_digits.train_labels))
    seen = []

    def hook(module, inputs, output):  # the training forward (counting and evaluation run in eval mode)
        # The network as trained, not its check on the meta device before it is built.
        if isinstance(module, WideResNet) and module.training and not output.is_meta:
            seen.append(output.detach())

    handle = register_module_forward_hook(hook)
    try:
        result = train_trial("wrn-10-1", "conv", None, data, quick(label_smoothing=0.2))
    finally:
        handle.remove()
    # (1 - ε)·(−log p_y) + ε·mean over the K classes of (−log p_k), averaged over the batch.
    [logits] = seen
    log_p = F.log_softmax(logits.double(), dim=1)
    expected = (0.8 * -log_p[:, 0] + 0.2 * -log_p.mean(dim=1)).mean().item()
    assert result.history[0]["train_loss"] == pytest.approx(expected, rel=1e-5)


def test_a_vit_trains_with_the_vit_recipe(random_cifar):
    config = TrainConfig(epochs=2, batch_size=32, lr=1e-3, optimizer="adamw", weight_decay=0.05, warmup_epochs=1,
                         label_smoothing=0.1, grad_clip=1.0, device="cpu")
    result = train_trial("vit-1-64", "monarch", 4, random_cifar(64), config)
    assert result.status == "complete" and result.config["optimizer"] == "adamw"
    assert [h["lr"] for h in result.history] == pytest.approx([1e-3, 0.5e-3 * (1 + math.cos(math.pi / 2))])
