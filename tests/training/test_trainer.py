"""train_trial end to end on small data: it learns, it is reproducible, and failures become statuses."""

import contextlib
import dataclasses
import json
import math

import pytest
import torch
from torch.nn.modules.module import register_module_forward_hook

from budgetsearch.data import AugmentRecipe, load_dataset
from budgetsearch.errors import CheckpointError, ConfigError, DataError
from budgetsearch.models import DARTS, AuxiliaryOutput, WideResNet, create_model
from budgetsearch.training import Architecture, DistillConfig, TrainConfig, save_checkpoint, train_trial
from budgetsearch.training import _trainer
from budgetsearch.training._device import is_out_of_memory

CONTRACT_KEYS = {"status", "message", "val_error", "val_top5_error", "test_error", "test_top5_error", "train_error",
                 "train_loss", "val_loss", "epochs_run", "wall_time", "images_per_second", "params", "mult_adds",
                 "convention", "config", "weight_decay_groups", "history"}
EPOCH_KEYS = {"epoch", "lr", "train_loss", "train_error", "val_loss", "val_error", "val_top5_error",
              "images_per_second", "epoch_time"}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", validation_size=0.1, seed=0)


@pytest.fixture(scope="module")
def small_digits(digits):
    """512 training images: 8 steps of 64 per epoch."""
    return dataclasses.replace(digits, train_images=digits.train_images[:512], train_labels=digits.train_labels[:512])


def quick(**fields) -> TrainConfig:
    return TrainConfig(**({"epochs": 1, "batch_size": 64, "device": "cpu"} | fields))


@pytest.fixture(scope="module")
def digits_run(digits):
    seen = []
    result = train_trial("wrn-10-1", "conv", None, digits, quick(epochs=3),
                         on_epoch=lambda epoch, metrics: seen.append((epoch, metrics)))
    return result, seen


def test_wrn_learns_digits_far_below_chance(digits_run):
    result, _ = digits_run
    assert result.status == "complete" and result.epochs_run == 3
    # Chance is 90 % error; observed 1.4 % validation / 6.3 % test.
    assert result.val_error < 25 and result.test_error < 25
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_result_records_everything_the_contract_names(digits_run, digits):
    result, seen = digits_run
    record = result.to_dict()
    assert CONTRACT_KEYS <= set(record)
    json.dumps(record)  # JSON-able as it is
    assert [epoch for epoch, _ in seen] == [1, 2, 3]
    assert all(EPOCH_KEYS <= set(metrics) for _, metrics in seen)
    assert [m for _, m in seen] == record["history"]
    assert 0 <= record["val_top5_error"] <= record["val_error"] <= 100
    assert record["params"] == sum(p.numel() for p in create_model("wrn-10-1", in_channels=1).parameters())
    assert record["config"]["device"] == "cpu" and record["config"]["precision"] == "float32"
    assert record["config"]["train_images"] == len(digits.train_images)
    assert record["wall_time"] > 0
    later = record["history"][1:]  # the first epoch (warm-up, compilation) is not the throughput
    assert record["images_per_second"] == pytest.approx(
        sum(m["images_per_second"] * m["epoch_time"] for m in later) / sum(m["epoch_time"] for m in later))
    assert record["config"]["architecture"]["input_size"] == [1, 8, 8]
    # CUDA's kernel choices are recorded, and none applies on the CPU
    assert {k: record["config"][k] for k in ("cudnn_benchmark", "fused_sgd", "cuda_graphs")} == dict.fromkeys(
        ("cudnn_benchmark", "fused_sgd", "cuda_graphs"), False)


def test_same_seed_same_result_and_global_rng_untouched(small_digits):
    state = torch.get_rng_state()
    first = train_trial("wrn-10-1", "acdc", 2, small_digits, quick(seed=3))
    assert torch.equal(torch.get_rng_state(), state)
    second = train_trial("wrn-10-1", "acdc", 2, small_digits, quick(seed=3))
    other = train_trial("wrn-10-1", "acdc", 2, small_digits, quick(seed=4))
    strip = lambda h: [{k: v for k, v in m.items() if k not in ("images_per_second", "epoch_time")} for m in h]
    assert strip(first.history) == strip(second.history)
    assert (first.test_error, first.test_loss) == (second.test_error, second.test_loss)
    assert strip(first.history) != strip(other.history)


@contextlib.contextmanager
def forward_hook(hook):
    """``hook(module, inputs, output)`` after the forward of every module, within the block (torch's global hook)."""
    handle = register_module_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def sabotage(after: int, make_failure):
    """Within the block, every training forward of a WideResNet fails from call ``after`` + 1 on."""
    calls = []

    def hook(module, inputs, output):
        if not (isinstance(module, WideResNet) and module.training):
            return None
        calls.append(1)
        return make_failure(output) if len(calls) > after else None

    return forward_hook(hook)


def test_forced_nan_ends_the_trial_as_diverged_with_its_epoch(small_digits):
    with sabotage(after=8 + 3, make_failure=lambda out: out * float("nan")):  # 4th step of epoch 2
        result = train_trial("wrn-10-1", "conv", None, small_digits, quick(epochs=3))
    assert result.status == "diverged" and "epoch 2" in result.message
    assert result.epochs_run == 1 and len(result.history) == 1 and result.config["stopped_epoch"] == 2
    assert result.test_error is None and result.val_error == result.history[0]["val_error"]
    json.dumps(result.to_dict())


def test_out_of_memory_is_a_status_with_the_batch_size(small_digits):
    def oom(output):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    with sabotage(after=2, make_failure=oom):
        result = train_trial("wrn-10-1", "conv", None, small_digits, quick())
    assert result.status == "oom" and "batch size 64" in result.message and "Tried to allocate" in result.message
    assert result.epochs_run == 0 and result.val_error is None and result.config["stopped_epoch"] == 1


def test_out_of_memory_in_evaluation_names_the_evaluation_batch_size(monkeypatch, small_digits):
    def evaluate(*args):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.00 GiB")

    monkeypatch.setattr(_trainer, "evaluate", evaluate)
    result = train_trial("wrn-10-1", "conv", None, small_digits, quick(eval_batch_size=300))
    assert result.status == "oom" and "in validation at batch size 300 in epoch 1" in result.message


@pytest.mark.parametrize("error, expected", [
    (torch.OutOfMemoryError("CUDA out of memory"), True),
    (RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"), True),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"), True),
    (RuntimeError("shapes cannot be multiplied"), False),
    (ValueError("CUBLAS_STATUS_ALLOC_FAILED"), False),
])
def test_what_counts_as_out_of_memory(error, expected):
    assert is_out_of_memory(error) is expected
    try:  # as torch.compile reports a failure inside the compiled code
        raise RuntimeError("backend compiler failed") from error
    except RuntimeError as wrapped:
        assert is_out_of_memory(wrapped) is expected


def test_other_exceptions_propagate(small_digits):
    def broken(output):
        raise ValueError("a bug")

    with sabotage(after=0, make_failure=broken), pytest.raises(ValueError, match="a bug"):
        train_trial("wrn-10-1", "conv", None, small_digits, quick())


def test_callback_returning_true_prunes(small_digits):
    result = train_trial("wrn-10-1", "conv", None, small_digits, quick(epochs=3), on_epoch=lambda e, m: e == 2)
    assert result.status == "pruned" and result.epochs_run == 2 and result.test_error is None
    assert result.val_error is not None


def test_distillation_terms_are_finite_nonzero_and_sum_to_the_loss(tmp_path, small_digits):
    teacher_path = tmp_path / "teacher.pt"
    teacher = train_trial("wrn-10-2", "conv", None, small_digits, quick(), save=teacher_path)
    assert teacher.status == "complete" and teacher_path.is_file()
    config = quick(distill=DistillConfig(str(teacher_path), beta=1e3, alpha=0.5, temperature=4.0))
    result = train_trial("wrn-10-1", "acdc", 2, small_digits, config)
    assert result.status == "complete"
    epoch = result.history[0]
    for term in ("train_ce_loss", "train_at_loss", "train_kd_loss"):
        assert math.isfinite(epoch[term]) and epoch[term] > 0, term
    # Means over the epoch are linear in the terms: loss = 0.5 KD + 0.5 CE + AT.
    expected = 0.5 * epoch["train_kd_loss"] + 0.5 * epoch["train_ce_loss"] + epoch["train_at_loss"]
    assert epoch["train_loss"] == pytest.approx(expected, rel=1e-6)
    assert result.config["teacher"]["model"] == "wrn-10-2"
    assert result.config["teacher"]["summary"]["test_error"] == teacher.test_error


def test_teacher_whose_weights_do_not_fit_is_a_clear_error(tmp_path, small_digits):
    path = tmp_path / "teacher.pt"
    train_trial("wrn-10-1", "conv", None, small_digits, quick(), save=path)
    payload = torch.load(path, weights_only=True)
    payload["architecture"]["model"] = "wrn-16-1"
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="wrn-16-1"):
        train_trial("wrn-10-1", "conv", None, small_digits, quick(distill=DistillConfig(str(path))))


def test_teacher_of_another_family_is_refused_before_training(monkeypatch, tmp_path, small_digits):
    path = tmp_path / "teacher.pt"
    teacher = Architecture("mobilenetv2", "conv", None, 10, (1, 8, 8))
    save_checkpoint(path, teacher.build(), teacher)
    steps = []
    monkeypatch.setattr(_trainer, "augment", lambda *a: steps.append(1) or pytest.fail("a training step ran"))
    with pytest.raises(ConfigError, match=r"teacher .*teacher.pt \(mobilenetv2 conv\) cannot teach wrn-10-1 conv "
                                          r"by attention transfer: its attention maps have \[.*\] positions, "
                                          r"the student's \[64, 16, 4\]"):  # groups at 8×8, 4×4, 2×2
        train_trial("wrn-10-1", "conv", None, small_digits, quick(distill=DistillConfig(str(path))))


def test_corrupt_cifar_file_is_a_clear_error(tmp_path, cifar_mini):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for source in cifar_mini.iterdir():
        (folder / source.name).symlink_to(source)
    (folder / "data_batch_3").unlink()
    (folder / "data_batch_3").write_bytes((cifar_mini / "data_batch_3").read_bytes()[:5000])
    with pytest.raises(DataError, match="data_batch_3.*truncated or corrupt"):
        train_trial("wrn-10-1", "conv", None, f"cifar10:{folder}", quick())


def test_bad_arguments_are_config_errors(small_digits):
    with pytest.raises(ConfigError, match="num_classes"):
        train_trial("wrn-10-1", "conv", None, small_digits, quick(), num_classes=5)
    with pytest.raises(ConfigError, match="dataset"):
        train_trial("wrn-10-1", "conv", None, 42, quick())
    with pytest.raises(ConfigError, match="layers"):
        train_trial("wrn-10-1", "acdc", None, small_digits, quick())


def test_small_wrn_learns_the_cifar_subset_far_below_chance(cifar_mini):
    # Kept short for the default run: 3,000 training images, one epoch of batch 32, and no
    # augmentation (it slows learning over so few steps; tests/data checks augmentation).
    # Chance is 90 % error; observed 73.4 % validation (500 images) / 71.1 % test (1,017).
    data = load_dataset(f"cifar10:{cifar_mini}", validation_size=500, seed=0)
    data = dataclasses.replace(data, train_images=data.train_images[:3000], train_labels=data.train_labels[:3000],
                               augmentation=AugmentRecipe())
    result = train_trial("wrn-10-1", "conv", None, data, quick(batch_size=32, lr=0.05))
    assert result.status == "complete"
    assert result.val_error < 80 and result.test_error < 80


def test_wrn_learns_the_cifar_subset_with_the_full_recipe(cifar_mini):
    # The whole subset (4,653 training images), the CIFAR augmentation with Cutout, the default recipe.
    # Chance is 90 % error; observed 64.4 % validation / 61.3 % test.
    result = train_trial("wrn-10-1", "conv", None, f"cifar10:{cifar_mini}", quick(epochs=3, batch_size=64))
    assert result.status == "complete"
    assert result.val_error < 75 and result.test_error < 75


# A 3-cell DARTS with drop-path: the full DARTS is too slow here.
TINY_DARTS = {"channels": 4, "layers": 3, "drop_path_prob": 0.2}


def test_auxiliary_head_and_drop_path_of_a_darts_network(random_cifar):
    training, initial = [], {}

    def hook(module, inputs, output):
        # The network as trained, not its check on the meta device before it is built.
        if isinstance(module, DARTS) and module.training and not module.classifier.weight.is_meta:
            # Before the first step (the hook runs before the backward): the head's initial weights.
            initial.setdefault(module, [p.detach().clone() for p in module.auxiliary_head.parameters()])
            training.append((isinstance(output, AuxiliaryOutput), module.drop_path_prob))

    with forward_hook(hook):
        result = train_trial("darts", "separable", None, random_cifar(128), quick(epochs=2, batch_size=32),
                             model_options=TINY_DARTS)
    assert result.status == "complete"
    assert training and all(aux for aux, _ in training)  # the head ran...
    [(model, before)] = initial.items()
    # ...and its loss was used: SGD leaves a parameter without a gradient untouched
    assert all(not torch.equal(p, q) for p, q in zip(model.auxiliary_head.parameters(), before))
    # drop-path rises linearly from 0: 0.2 * epoch / epochs at the start of each epoch
    assert [m["drop_path_prob"] for m in result.history] == [0.0, 0.1]
    assert {p for _, p in training} == {0.0, 0.1}


def test_an_auxiliary_output_without_a_declared_weight_is_refused(small_digits):
    def with_auxiliary(module, inputs, output):
        if isinstance(module, WideResNet) and module.training:
            return AuxiliaryOutput(output, output)
        return None

    with forward_hook(with_auxiliary), pytest.raises(ConfigError, match=r"wrn-10-1 conv returned an auxiliary "
                                                                         r"output but declares auxiliary_weight=0.0"):
        train_trial("wrn-10-1", "conv", None, small_digits, quick())


def test_a_save_path_that_cannot_be_written_fails_before_training(tmp_path, small_digits):
    (tmp_path / "file").write_text("x")
    with forward_hook(lambda *_: pytest.fail("ran a model before checking --save")), \
            pytest.raises(CheckpointError, match="is a file, not a directory"):
        train_trial("wrn-10-1", "conv", None, small_digits, quick(), save=tmp_path / "file" / "m.pt")


def test_drop_path_masks_come_from_the_seed_not_from_the_global_rng(random_cifar):
    data, config = random_cifar(64), quick(epochs=2, batch_size=32)
    histories = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)  # what earlier work in the process left behind
        state = torch.get_rng_state()
        result = train_trial("darts", "separable", None, data, config, model_options=TINY_DARTS)
        assert torch.equal(torch.get_rng_state(), state)
        histories.append([(m["train_loss"], m["val_loss"]) for m in result.history])
    assert histories[0] == histories[1]


def test_compiled_trial_trains_like_the_eager_one(small_digits):
    # torch.compile on CPU needs a C++ compiler; the numbers may differ from eager in the last bits
    # (fused kernels), so they are compared loosely.
    eager = train_trial("wrn-10-1", "acdc", 2, small_digits, quick())
    compiled = train_trial("wrn-10-1", "acdc", 2, small_digits, quick(compile=True))
    assert compiled.status == "complete" and compiled.config["compile"] is True
    assert compiled.history[0]["train_loss"] == pytest.approx(eager.history[0]["train_loss"], rel=1e-3)
