"""The trainer's CUDA paths: bf16 autocast learns, long reconstruction chains stay finite, a real OOM is a status.

Skipped without a CUDA device (CI has none); run where one is, e.g.
``BUDGETSEARCH_CIFAR_MINI=PATH python -m pytest tests/training/test_cuda_trainer.py``.
"""

import math

import pytest
import torch

from budgetsearch.data import load_dataset
from budgetsearch.training import TrainConfig, train_trial

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def on_cuda(**fields) -> TrainConfig:
    return TrainConfig(**({"epochs": 1, "batch_size": 128, "device": "cuda"} | fields))


def test_bf16_trial_learns_the_cifar_subset_far_below_chance(cifar_mini):
    # The CPU test's setting (wrn-10-2, the whole subset with Cutout, 3 epochs of batch 64), in bf16
    # autocast and channels_last. Chance is 90 % error; float32 on the CPU gave 60.2 % / 60.7 %.
    autotune = torch.backends.cudnn.benchmark
    result = train_trial("wrn-10-2", "conv", None, f"cifar10:{cifar_mini}", on_cuda(epochs=3, batch_size=64))
    assert result.status == "complete", result.message
    assert result.config["precision"] == "bf16 autocast" and result.config["device"].startswith("cuda")
    assert result.config["cudnn_benchmark"] and result.config["fused_sgd"]
    assert torch.backends.cudnn.benchmark == autotune  # switched on for the trial only
    assert result.val_error < 75 and result.test_error < 75
    assert result.images_per_second > 0


@pytest.mark.parametrize("substitute, setting", [("acdc", 64), ("tensor-train", 0.5), ("hashed", 0.1)])
def test_structured_layers_train_in_bf16(cifar_mini, substitute, setting):
    # Reconstructed weights are built in float32 under autocast; a 64-factor ACDC stack trains.
    data = load_dataset(f"cifar10:{cifar_mini}", validation_size=500, seed=0)
    result = train_trial("wrn-10-2", substitute, setting, data, on_cuda(epochs=3, batch_size=64))
    assert result.status == "complete", result.message
    losses = [m["train_loss"] for m in result.history]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    assert result.val_error < 85


def test_real_out_of_memory_is_a_status_and_frees_what_it_took(random_cifar):
    small = random_cifar(512)
    assert train_trial("wrn-10-1", "conv", None, small, on_cuda()).status == "complete"  # CUDA libraries loaded
    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated()
    capped = 1 << 30  # a wrn-16-4 step on 4,096 images needs several GiB
    torch.cuda.set_per_process_memory_fraction(capped / torch.cuda.get_device_properties(0).total_memory)
    try:
        result = train_trial("wrn-16-4", "conv", None, random_cifar(4096), on_cuda(batch_size=4096))
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
    assert result.status == "oom" and "batch size 4096" in result.message and "cuda" in result.message
    assert result.params is not None and result.epochs_run == 0
    assert torch.cuda.memory_allocated() - before < (16 << 20)
    after = train_trial("wrn-10-1", "conv", None, small, on_cuda())
    assert after.status == "complete", after.message


def test_compiled_cuda_trial_trains_like_the_eager_one(random_cifar):
    data = random_cifar(1024)
    eager = train_trial("wrn-10-1", "conv", None, data, on_cuda(epochs=2))
    compiled = train_trial("wrn-10-1", "conv", None, data, on_cuda(epochs=2, compile=True))
    assert compiled.status == "complete" and compiled.config["compile"] and compiled.config["cuda_graphs"]
    # bf16 kernels differ between eager and fused code: compare loosely
    assert compiled.history[0]["train_loss"] == pytest.approx(eager.history[0]["train_loss"], rel=0.05)
