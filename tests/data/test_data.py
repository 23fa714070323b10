"""Tests of budgetsearch.data against independently computed expectations.

The real-image tests read the CIFAR-10 subset shipped beside the project
(../shared/data/cifar-10-mini, 5,170 train and 1,017 test images) through plain
``pickle`` and compare; no test needs the network.
"""

import collections
import dataclasses
import hashlib
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from budgetsearch.data import (
    AugmentRecipe, augment, download_cifar, iterate_batches, load_dataset, normalize, verify_md5,
)
from budgetsearch.data import _cifar
from budgetsearch.errors import ConfigError, DataError

CIFAR_MINI = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cifar-10-mini" / "cifar-10-batches-py"
CIFAR_FILES = ["batches.meta", "data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
               "test_batch"]
needs_cifar = pytest.mark.skipif(not CIFAR_MINI.is_dir(), reason=f"CIFAR-10 subset not found at {CIFAR_MINI}")


def raw_batch(name):
    with open(CIFAR_MINI / name, "rb") as stream:
        return pickle.load(stream, encoding="bytes")


def image_counter(images):
    return collections.Counter(image.numpy().tobytes() for image in images)


@pytest.fixture
def cifar_copy(tmp_path):
    """A CIFAR-10 folder of symlinks to the real files; a test replaces the one it breaks."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in CIFAR_FILES:
        (folder / name).symlink_to(CIFAR_MINI.resolve() / name)
    return folder


# ---- loading the real subset ---------------------------------------------------------------------------


@needs_cifar
def test_cifar10_subset_loads_with_the_raw_pixels_and_labels():
    dataset = load_dataset(f"cifar10:{CIFAR_MINI}", validation_size=0)
    assert dataset.train_images.shape == (5170, 3, 32, 32) and dataset.train_images.dtype == torch.uint8
    assert dataset.test_images.shape == (1017, 3, 32, 32) and dataset.test_labels.dtype == torch.int64
    assert dataset.val_images.shape == (0, 3, 32, 32) and len(dataset.val_labels) == 0
    assert dataset.input_size == (3, 32, 32) and dataset.num_classes == 10
    for labels in (dataset.train_labels, dataset.test_labels):
        assert 0 <= int(labels.min()) and int(labels.max()) <= 9

    first, test = raw_batch("data_batch_1"), raw_batch("test_batch")
    rgb_planes = np.frombuffer(first[b"data"][0].tobytes(), dtype=np.uint8).reshape(3, 32, 32)
    assert np.array_equal(dataset.train_images[0].numpy(), rgb_planes)
    assert np.array_equal(dataset.test_images[-1].numpy(), test[b"data"][-1].reshape(3, 32, 32))
    raw_labels = sum((raw_batch(f"data_batch_{i}")[b"labels"] for i in range(1, 6)), [])
    assert dataset.train_labels.tolist() == raw_labels
    assert dataset.test_labels.tolist() == test[b"labels"]
    assert dataset.class_names[0] == "airplane" and dataset.class_names[9] == "truck"


@needs_cifar
def test_cifar10_protocol_constants_follow_the_reference():
    dataset = load_dataset(f"cifar10:{CIFAR_MINI.parent}")  # the folder holding the extracted one also works
    assert dataset.mean == (0.4914, 0.4822, 0.4465) and dataset.std == (0.2023, 0.1994, 0.2010)
    assert dataset.augmentation == AugmentRecipe(crop_padding=4, horizontal_flip=True, cutout_size=16)
    assert Path(dataset.source).name == "cifar-10-batches-py"


@needs_cifar
def test_validation_split_is_disjoint_covers_the_training_set_and_follows_the_seed():
    full = load_dataset(f"cifar10:{CIFAR_MINI}", validation_size=0)
    split = load_dataset(f"cifar10:{CIFAR_MINI}", seed=3)  # default: 10 %
    assert len(split.val_images) == 517 and len(split.train_images) == 5170 - 517
    assert image_counter(split.train_images) + image_counter(split.val_images) == image_counter(full.train_images)
    assert collections.Counter(split.train_labels.tolist()) + collections.Counter(split.val_labels.tolist()) \
        == collections.Counter(full.train_labels.tolist())
    assert torch.equal(split.test_images, full.test_images)  # the test set never depends on the split

    again = load_dataset(f"cifar10:{CIFAR_MINI}", seed=3)
    other = load_dataset(f"cifar10:{CIFAR_MINI}", seed=4)
    assert torch.equal(again.val_images, split.val_images) and torch.equal(again.val_labels, split.val_labels)
    assert not torch.equal(other.val_images, split.val_images)


# ---- broken data -----------------------------------------------------------------------------------------


def test_missing_directory_names_it_and_the_source(tmp_path):
    with pytest.raises(DataError) as caught:
        load_dataset(f"cifar10:{tmp_path / 'nowhere'}")
    assert "nowhere" in str(caught.value) and "cs.toronto.edu/~kriz/cifar.html" in str(caught.value)
    (tmp_path / "data_batch_1").write_bytes(b"")
    with pytest.raises(DataError, match=r"path .*data_batch_1 is a file; expected the directory"):
        load_dataset(f"cifar10:{tmp_path / 'data_batch_1'}")


@needs_cifar
def test_files_re_saved_from_python_3_with_str_keys_load_the_same(cifar_copy):
    for name in CIFAR_FILES:
        content = raw_batch(name)
        (cifar_copy / name).unlink()
        (cifar_copy / name).write_bytes(pickle.dumps({key.decode(): value for key, value in content.items()}))
    resaved, official = load_dataset(f"cifar10:{cifar_copy}"), load_dataset(f"cifar10:{CIFAR_MINI}")
    assert torch.equal(resaved.train_images, official.train_images)
    assert torch.equal(resaved.test_labels, official.test_labels) and resaved.class_names == official.class_names


@needs_cifar
def test_missing_file_is_named(cifar_copy):
    (cifar_copy / "data_batch_3").unlink()
    with pytest.raises(DataError, match="data_batch_3"):
        load_dataset(f"cifar10:{cifar_copy}")


@needs_cifar
def test_truncated_file_is_named(cifar_copy):
    whole = (CIFAR_MINI / "data_batch_2").read_bytes()
    (cifar_copy / "data_batch_2").unlink()
    (cifar_copy / "data_batch_2").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match="data_batch_2.*truncated"):
        load_dataset(f"cifar10:{cifar_copy}")


@needs_cifar
@pytest.mark.parametrize("content, complaint", [
    (pickle.dumps({b"pixels": 1}, protocol=3), "lacks the keys"),
    (pickle.dumps({b"data": np.zeros((4, 100), np.uint8), b"labels": [0] * 4}, protocol=3), "expected uint8"),
    (pickle.dumps({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1]}, protocol=3), "2 labels for 4"),
    (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, protocol=3), "labels in"),
    (b"this is not a pickle", "cannot read"),
])
def test_wrong_content_is_named(cifar_copy, content, complaint):
    (cifar_copy / "test_batch").unlink()
    (cifar_copy / "test_batch").write_bytes(content)
    with pytest.raises(DataError, match=complaint) as caught:
        load_dataset(f"cifar10:{cifar_copy}")
    assert "test_batch" in str(caught.value)


class _MakesADirectory:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):  # what a malicious pickle does: call any importable function
        return os.mkdir, (self.path,)


@needs_cifar
def test_pickle_naming_other_globals_is_refused_without_running_them(cifar_copy, tmp_path):
    planted = tmp_path / "planted"
    (cifar_copy / "data_batch_1").unlink()
    (cifar_copy / "data_batch_1").write_bytes(pickle.dumps({b"data": _MakesADirectory(str(planted))}, protocol=3))
    with pytest.raises(DataError, match="data_batch_1.*mkdir"):
        load_dataset(f"cifar10:{cifar_copy}")
    assert not planted.exists()


@pytest.mark.parametrize("spec", ["cifar10", "cifar10:", "imagenet:/data", "Digits", "digits:x", 10])
def test_bad_spec_lists_the_accepted_forms(spec):
    with pytest.raises(ConfigError, match="cifar100:PATH"):
        load_dataset(spec)


# ---- digits -----------------------------------------------------------------------------------------------


def test_digits_load_without_files_with_a_fixed_balanced_test_split():
    from sklearn.datasets import load_digits

    raw = load_digits()
    expected_test = sum(-(-count // 5) for count in np.bincount(raw.target))  # ceil(n/5) per class = 364
    dataset = load_dataset("digits", validation_size=100, seed=1)
    assert dataset.train_images.shape[1:] == (1, 8, 8) and dataset.input_size == (1, 8, 8)
    assert len(dataset.test_images) == expected_test
    assert len(dataset.val_images) == 100 and len(dataset.train_images) == 1797 - expected_test - 100
    assert np.bincount(dataset.test_labels.numpy()).min() >= 35  # every class in the test set
    # Image 0 is the first of its class, so the first test image; 0..16 stretched to 0..255.
    assert np.array_equal(dataset.test_images[0, 0].numpy(), np.floor(raw.images[0] * 255 / 16 + 0.5))
    assert int(dataset.train_images.max()) == 255
    assert torch.equal(load_dataset("digits", seed=7).test_images, dataset.test_images)
    assert dataset.augmentation == AugmentRecipe(crop_padding=1, horizontal_flip=False, cutout_size=0)

    pool = torch.cat([dataset.train_images, dataset.val_images]).double() / 255
    assert dataset.mean[0] == pytest.approx(pool.mean().item()) and dataset.std[0] == pytest.approx(pool.std().item(), rel=1e-3)


@pytest.mark.parametrize("size, expected", [(0, 0), (1, 1), (0.2, round(0.2 * 1433)), (0.0, 0), (1432, 1432)])
def test_validation_size_as_count_or_fraction(size, expected):
    dataset = load_dataset("digits", validation_size=size)
    assert len(dataset.val_images) == expected and len(dataset.train_images) == 1433 - expected


@pytest.mark.parametrize("size", [1433, 5000, -1, 1.0, 1.5, -0.1, True, "10", None])
def test_impossible_validation_size_is_refused(size):
    with pytest.raises(ConfigError, match="validation_size"):
        load_dataset("digits", validation_size=size)


# ---- augmentation ---------------------------------------------------------------------------------------------


def cifar_like_batch(batch=8, seed=0):
    return torch.randint(0, 256, (batch, 3, 32, 32), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)


def test_normalize_is_totensor_then_normalize():
    images = cifar_like_batch()
    expected = (images.double() / 255 - torch.tensor(MEAN, dtype=torch.double).view(1, 3, 1, 1)) \
        / torch.tensor(STD, dtype=torch.double).view(1, 3, 1, 1)
    result = normalize(images, MEAN, STD)
    assert result.dtype == torch.float32 and result.shape == images.shape
    assert torch.allclose(result.double(), expected, atol=1e-5)


def test_normalize_takes_per_channel_tensors_as_it_takes_sequences():
    images = cifar_like_batch()
    as_tensors = normalize(images, torch.tensor(MEAN), torch.tensor(STD))
    assert torch.equal(as_tensors, normalize(images, MEAN, STD))


def test_augment_without_any_step_equals_normalize():
    images = cifar_like_batch()
    result = augment(images, AugmentRecipe(), MEAN, STD, torch.Generator().manual_seed(0))
    assert result.dtype == torch.float32 and result.shape == images.shape
    assert torch.equal(result, normalize(images, MEAN, STD))


def test_flip_only_mirrors_some_images_and_leaves_the_rest():
    images = cifar_like_batch(batch=64)
    plain = normalize(images, MEAN, STD)
    result = augment(images, AugmentRecipe(horizontal_flip=True), MEAN, STD, torch.Generator().manual_seed(1))
    flipped = [torch.equal(out, torch.flip(ref, dims=[2])) for out, ref in zip(result, plain)]
    kept = [torch.equal(out, ref) for out, ref in zip(result, plain)]
    assert all(f != k for f, k in zip(flipped, kept))  # each image is exactly one of the two
    assert 10 < sum(flipped) < 54  # about half of 64


def windows_of(image, padding):
    """Every H×W window of ``image`` zero-padded by ``padding``, keyed by its (top, left) offset."""
    padded = np.pad(image, ((0, 0), (padding, padding), (padding, padding)))
    height, width = image.shape[1:]
    return {(top, left): padded[:, top:top + height, left:left + width]
            for top in range(2 * padding + 1) for left in range(2 * padding + 1)}


@pytest.mark.parametrize("flip", [False, True])
def test_crop_is_a_window_of_the_zero_padded_image(flip):
    padding, batch = 2, 1000
    # Distinct non-zero values per pixel and channel, so a window (or its mirror) is identified uniquely.
    base = np.arange(1, 26, dtype=np.uint8).reshape(1, 5, 5) + np.array([0, 50, 100], np.uint8)[:, None, None]
    images = torch.from_numpy(np.repeat(base[None], batch, axis=0))
    result = augment(images, AugmentRecipe(crop_padding=padding, horizontal_flip=flip), (0.0,) * 3, (1.0,) * 3,
                     torch.Generator().manual_seed(5))
    pixels = torch.round(result * 255).to(torch.uint8).numpy()  # mean 0, std 1: undo ToTensor exactly

    candidates = windows_of(base, padding)
    if flip:
        candidates.update({("mirrored",) + key: window[:, :, ::-1] for key, window in list(candidates.items())})
    seen = collections.Counter()
    for out in pixels:
        matches = [key for key, window in candidates.items() if np.array_equal(out, window)]
        assert len(matches) == 1
        seen[matches[0]] += 1
    assert len(seen) == len(candidates)  # every offset (and mirror) drawn: offsets uniform over [0, 2p]²


def test_cutout_zeroes_one_clipped_16_square_centred_anywhere():
    batch, size = 2000, 32
    images = torch.full((batch, 3, size, size), 255, dtype=torch.uint8)
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)  # a white pixel normalises to 2.0
    result = augment(images, AugmentRecipe(cutout_size=16), mean, std, torch.Generator().manual_seed(2))
    assert torch.equal(result[:, 0], result[:, 1]) and torch.equal(result[:, 0], result[:, 2])
    assert set(result.unique().tolist()) == {0.0, 2.0}

    centre_rows, areas = set(), set()
    for out in (result[:, 0] == 0).numpy():
        rows, cols = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
        expected = np.zeros_like(out)
        expected[rows.min():rows.max() + 1, cols.min():cols.max() + 1] = True
        assert np.array_equal(out, expected)  # one filled rectangle
        # Recover the centre y from [y-8, y+8) clipped to [0, 32): the unclipped edge gives it.
        top, bottom = rows.min(), rows.max() + 1
        centre_y = bottom - 8 if top == 0 else top + 8
        assert (max(centre_y - 8, 0), min(centre_y + 8, size)) == (top, bottom)
        centre_rows.add(int(centre_y))
        areas.add(int(out.sum()))
    assert centre_rows == set(range(size))  # uniform over all pixels, edges included
    assert max(areas) == 256 and 64 <= min(areas) < 256  # clipped near an edge, down to an 8×8 quarter


def test_same_generator_seed_gives_the_same_augmentation():
    images = cifar_like_batch(batch=16)
    recipe = AugmentRecipe(crop_padding=4, horizontal_flip=True, cutout_size=16)
    first = augment(images, recipe, MEAN, STD, torch.Generator().manual_seed(11))
    second = augment(images, recipe, MEAN, STD, torch.Generator().manual_seed(11))
    third = augment(images, recipe, MEAN, STD, torch.Generator().manual_seed(12))
    assert torch.equal(first, second) and not torch.equal(first, third)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_gives_the_cpu_result_with_a_cpu_generator():
    images = cifar_like_batch(batch=32)
    recipe = AugmentRecipe(crop_padding=4, horizontal_flip=True, cutout_size=16)
    on_cpu = augment(images, recipe, MEAN, STD, torch.Generator().manual_seed(3))
    on_gpu = augment(images.cuda(), recipe, MEAN, STD, torch.Generator().manual_seed(3))
    assert on_gpu.is_cuda and torch.allclose(on_gpu.cpu(), on_cpu, atol=1e-6)
    with_cuda_generator = augment(images.cuda(), recipe, MEAN, STD, torch.Generator("cuda").manual_seed(3))
    assert with_cuda_generator.is_cuda and with_cuda_generator.shape == images.shape


@pytest.mark.parametrize("bad", [torch.zeros(2, 3, 4, 4), torch.zeros(3, 4, 4, dtype=torch.uint8),
                                 torch.zeros(2, 1, 4, 4, dtype=torch.uint8)])
def test_augment_refuses_what_is_not_a_uint8_batch_with_matching_channels(bad):
    with pytest.raises(ConfigError):
        augment(bad, AugmentRecipe(), MEAN, STD, None)


@pytest.mark.parametrize("fields", [{"crop_padding": -1}, {"cutout_size": 2.5}, {"horizontal_flip": 1}])
def test_recipe_refuses_bad_fields(fields):
    with pytest.raises(ConfigError, match=next(iter(fields))):
        AugmentRecipe(**fields)


# ---- batching, checksums --------------------------------------------------------------------------------------


def test_iterate_batches_covers_the_epoch_once():
    images, labels = torch.arange(10).view(10, 1, 1, 1).to(torch.uint8), torch.arange(10) * 10
    ordered = list(iterate_batches(images, labels, 4))
    assert [len(y) for _, y in ordered] == [4, 4, 2] and torch.equal(torch.cat([y for _, y in ordered]), labels)
    assert [len(y) for _, y in iterate_batches(images, labels, 4, drop_last=True)] == [4, 4]

    shuffled = list(iterate_batches(images, labels, 3, shuffle=True, generator=torch.Generator().manual_seed(0)))
    seen_labels = torch.cat([y for _, y in shuffled])
    assert sorted(seen_labels.tolist()) == labels.tolist() and not torch.equal(seen_labels, labels)
    assert torch.equal(torch.cat([x for x, _ in shuffled]).flatten().long() * 10, seen_labels)  # pairs kept
    again = list(iterate_batches(images, labels, 3, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(torch.cat([y for _, y in again]), seen_labels)
    with pytest.raises(ConfigError, match="batch_size"):
        next(iterate_batches(images, labels, 0))


def test_verify_md5_accepts_the_right_digest_and_names_the_file_otherwise(tmp_path):
    archive = tmp_path / "archive.tar.gz"
    archive.write_bytes(b"hello")
    verify_md5(archive, "5d41402abc4b2a76b9719d911017c592")  # the published MD5 of b"hello"
    assert hashlib.md5(b"hello").hexdigest() == "5d41402abc4b2a76b9719d911017c592"
    with pytest.raises(DataError, match="archive.tar.gz"):
        verify_md5(archive, "c58f30108f718f92721af3b95e74349a")


@needs_cifar
def test_download_verifies_then_extracts_and_an_interrupted_extraction_leaves_nothing(monkeypatch, tmp_path):
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        for name in CIFAR_FILES:
            tar.add(CIFAR_MINI / name, arcname=f"cifar-10-batches-py/{name}")
    layout = dataclasses.replace(_cifar.CIFAR_LAYOUTS["cifar10"],
                                 archive_md5=hashlib.md5(archive.read_bytes()).hexdigest())
    monkeypatch.setitem(_cifar.CIFAR_LAYOUTS, "cifar10", layout)
    monkeypatch.setattr(_cifar.urllib.request, "urlopen", lambda url: io.BytesIO(archive.read_bytes()))
    root = tmp_path / "data"
    extract = _cifar._safe_extract

    def interrupted(archive, destination):
        extract(archive, destination)
        (destination / "cifar-10-batches-py" / "test_batch").unlink()  # as if stopped half-way
        raise KeyboardInterrupt

    monkeypatch.setattr(_cifar, "_safe_extract", interrupted)
    with pytest.raises(KeyboardInterrupt):
        download_cifar(root, "cifar10")
    assert list(root.iterdir()) == []  # no half folder that the next call would take as complete
    monkeypatch.setattr(_cifar, "_safe_extract", extract)
    folder = download_cifar(root, "cifar10")
    assert folder == root / "cifar-10-batches-py" and sorted(p.name for p in root.iterdir()) == [folder.name]
    assert torch.equal(load_dataset(f"cifar10:{folder}").test_images, load_dataset(f"cifar10:{CIFAR_MINI}").test_images)


def test_download_cifar_checks_its_name_and_reuses_an_extracted_folder(tmp_path):
    with pytest.raises(ConfigError, match="cifar10"):
        download_cifar(tmp_path, "mnist")
    (tmp_path / "cifar-100-python").mkdir()
    assert download_cifar(tmp_path, "cifar100") == tmp_path / "cifar-100-python"  # no network needed
