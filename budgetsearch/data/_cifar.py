"""Reading CIFAR-10 / CIFAR-100 from the data set's own "python version" files.

Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", 2009;
https://www.cs.toronto.edu/~kriz/cifar.html. Each file is a pickle of a dict
whose ``b'data'`` is a uint8 array N×3072 (red, green, blue 32×32 planes).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Tuple

import numpy as np

from ..errors import ConfigError, DataError
from ._recipe import AugmentRecipe

logger = logging.getLogger(__name__)

CIFAR_HOME = "https://www.cs.toronto.edu/~kriz/cifar.html"
_PIXELS = 3 * 32 * 32


@dataclass(frozen=True)
class CifarLayout:
    """Where one CIFAR variant keeps its pieces, and how it is trained."""

    name: str
    folder: str  # what the official archive extracts to
    train_files: Tuple[str, ...]
    test_file: str
    meta_file: str
    label_key: bytes
    label_names_key: bytes
    num_classes: int
    mean: Tuple[float, float, float]
    std: Tuple[float, float, float]
    augmentation: AugmentRecipe
    archive_url: str
    archive_md5: str  # as published on the CIFAR page


CIFAR_LAYOUTS = {
    "cifar10": CifarLayout(
        "cifar10", "cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)), "test_batch",
        "batches.meta", b"labels", b"label_names", 10,
        # The original study's constants, not recomputed, so numbers stay comparable.
        (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010),
        AugmentRecipe(crop_padding=4, horizontal_flip=True, cutout_size=16),
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),
    "cifar100": CifarLayout(
        "cifar100", "cifar-100-python", ("train",), "test", "meta", b"fine_labels", b"fine_label_names", 100,
        (0.5071, 0.4866, 0.4409), (0.2009, 0.1984, 0.2023),
        # The original study trained CIFAR-100 without Cutout.
        AugmentRecipe(crop_padding=4, horizontal_flip=True, cutout_size=0),
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"),
}

# Unpickling an untrusted file can run arbitrary code, so only the globals that
# CIFAR's own files name are resolved: numpy's array reconstructor, ndarray and
# dtype. Everything else in them is plain dicts, lists, bytes and ints.
_RECONSTRUCT = np.empty(0).__reduce__()[0]  # numpy's own reconstructor, found without importing numpy.core
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,  # numpy 1 name, in the official files
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,  # numpy 2 name, in files re-pickled since
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _CifarUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refers to {module}.{name}, which a CIFAR file never needs") from None


def _how_to_get(layout: CifarLayout) -> str:
    return (f"download the {layout.name} \"python version\" from {CIFAR_HOME} (or call "
            f"budgetsearch.data.download_cifar) and pass its extracted folder {layout.folder!r}")


def _unpickle(path: Path, layout: CifarLayout) -> dict:
    if not path.is_file():
        raise DataError(f"missing {layout.name} file {path}; {_how_to_get(layout)}")
    try:
        with open(path, "rb") as stream:
            content = _CifarUnpickler(stream, encoding="bytes").load()
    except Exception as error:  # a corrupt pickle can fail in any of a dozen ways; all mean the same here
        raise DataError(f"cannot read {layout.name} file {path} as a CIFAR pickle "
                        f"({type(error).__name__}: {error}); it may be truncated or corrupt; "
                        f"{_how_to_get(layout)}") from error
    if not isinstance(content, dict):
        raise DataError(f"{layout.name} file {path} holds a {type(content).__name__}, expected a dict; "
                        f"{_how_to_get(layout)}")
    # The official files have bytes keys; a copy re-saved from Python 3 has the same keys as str.
    return {key.encode() if isinstance(key, str) else key: value for key, value in content.items()}


def _read_batch(path: Path, layout: CifarLayout) -> Tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 3, 32, 32] and labels int64 [N] of one batch file."""
    content = _unpickle(path, layout)
    missing = [key for key in (b"data", layout.label_key) if key not in content]
    if missing:
        raise DataError(f"{layout.name} file {path} lacks the keys {missing}, expected a dict with b'data' and "
                        f"{layout.label_key!r}; got keys {sorted(content)}; {_how_to_get(layout)}")
    data, labels = content[b"data"], content[layout.label_key]
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == _PIXELS):
        shape = getattr(data, "shape", None)
        raise DataError(f"{layout.name} file {path} has b'data' of type {type(data).__name__}, shape {shape}, "
                        f"dtype {getattr(data, 'dtype', None)}; expected uint8 N x {_PIXELS}; {_how_to_get(layout)}")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as error:
        raise DataError(f"{layout.name} file {path} has non-integer labels ({error}); {_how_to_get(layout)}") from None
    if labels.shape != (len(data),):
        raise DataError(f"{layout.name} file {path} has {labels.size} labels for {len(data)} images; expected "
                        f"one label per image; {_how_to_get(layout)}")
    if labels.size and (labels.min() < 0 or labels.max() >= layout.num_classes):
        raise DataError(f"{layout.name} file {path} has labels in [{labels.min()}, {labels.max()}]; expected "
                        f"0..{layout.num_classes - 1}; {_how_to_get(layout)}")
    return data.reshape(-1, 3, 32, 32), labels


def cifar_folder(root, layout: CifarLayout) -> Path:
    """The folder holding the data set's files: ``root``, or the official archive's folder inside it."""
    root = Path(root).expanduser()
    if (root / layout.folder).is_dir():  # accept the folder the archive was extracted into, too
        root = root / layout.folder
    if root.is_file():
        raise DataError(f"{layout.name} path {root} is a file; expected the directory that holds "
                        f"{layout.meta_file!r}, {layout.test_file!r} and the training files; {_how_to_get(layout)}")
    if not root.is_dir():
        raise DataError(f"{layout.name} directory {root} does not exist; {_how_to_get(layout)}")
    return root


def cifar_fingerprint(root, layout: CifarLayout) -> str:
    """A digest of the data set's files (names and bytes): the same data moved to another folder has the same one."""
    folder = cifar_folder(root, layout)
    digest = hashlib.sha256()
    for name in (layout.meta_file, *layout.train_files, layout.test_file):
        digest.update(name.encode() + b"\0")
        try:
            with open(folder / name, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError as error:
            raise DataError(f"{layout.name} file {folder / name} cannot be read ({error.strerror or error}); "
                            f"{_how_to_get(layout)}") from None
    return f"{layout.name}:sha256:{digest.hexdigest()}"


def read_cifar(root: Path, layout: CifarLayout):
    """Return ``(train_images, train_labels, test_images, test_labels, class_names, folder)`` as numpy arrays."""
    root = cifar_folder(root, layout)
    meta = _unpickle(root / layout.meta_file, layout)
    names = meta.get(layout.label_names_key)
    if not isinstance(names, list) or len(names) != layout.num_classes:
        raise DataError(f"{layout.name} file {root / layout.meta_file} has no list of {layout.num_classes} "
                        f"{layout.label_names_key!r}; {_how_to_get(layout)}")
    class_names = tuple(n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names)
    train = [_read_batch(root / file, layout) for file in layout.train_files]
    test_images, test_labels = _read_batch(root / layout.test_file, layout)
    train_images = np.concatenate([images for images, _ in train])
    train_labels = np.concatenate([labels for _, labels in train])
    return train_images, train_labels, test_images, test_labels, class_names, root


def verify_md5(path, expected_md5: str) -> None:
    """Raise DataError unless the file's MD5 is ``expected_md5`` (hex)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected_md5.lower():
        raise DataError(f"{path} has MD5 {digest.hexdigest()}, expected {expected_md5.lower()}; "
                        f"the download is incomplete or altered: delete it and download again")


def _safe_extract(archive: Path, destination: Path) -> None:
    with tarfile.open(archive, "r:gz") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(destination, filter="data")
            return
        for member in tar.getmembers():  # older Pythons: refuse paths that leave the destination
            target = (destination / member.name).resolve()
            if destination.resolve() not in target.parents or not (member.isfile() or member.isdir()):
                raise DataError(f"{archive} holds an unsafe entry {member.name!r}; refusing to extract")
        tar.extractall(destination)


def download_cifar(root, name: str) -> Path:
    """Download and extract the official archive of ``name`` ('cifar10' or 'cifar100') under ``root``.

    Needs internet. The archive's MD5 is checked before anything is extracted.
    Returns the extracted folder, which ``load_dataset(f"{name}:{folder}")`` reads.
    """
    if name not in CIFAR_LAYOUTS:
        raise ConfigError(f"download_cifar name must be one of {sorted(CIFAR_LAYOUTS)}, but got {name!r}")
    layout = CIFAR_LAYOUTS[name]
    root = Path(root).expanduser()
    folder = root / layout.folder
    if folder.is_dir():
        return folder
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as scratch:
        archive = Path(scratch) / Path(layout.archive_url).name
        logger.info("downloading %s to %s", layout.archive_url, archive)
        try:
            with urllib.request.urlopen(layout.archive_url) as response, open(archive, "wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as error:
            raise DataError(f"cannot download {layout.archive_url} ({error}); get it by hand from {CIFAR_HOME}") from error
        verify_md5(archive, layout.archive_md5)
        # Extract beside the archive and rename into place, so an interrupted extraction
        # never leaves a folder that a later call would take for a complete one.
        _safe_extract(archive, Path(scratch))
        if not (Path(scratch) / layout.folder).is_dir():
            raise DataError(f"{layout.archive_url} did not extract to {layout.folder!r}; get it by hand from "
                            f"{CIFAR_HOME}")
        os.replace(Path(scratch) / layout.folder, folder)
    return folder
