"""A study's data is its content, not its path: moved data continues the study, other data is refused."""

import optuna
import pytest

from budgetsearch.data import CIFAR_LAYOUTS
from budgetsearch.errors import ConfigError
from budgetsearch.study import load_study_config, prepare_study
from budgetsearch.study._worker import CONFIG_ATTR

STUDY = 'name = "moved"\nmodel = "wrn-10-1"\ndataset = "cifar10:{folder}"\nsubstitutes = ["generic"]\nbudgets = ["0.1x"]\n'
FILES = ("batches.meta", *CIFAR_LAYOUTS["cifar10"].train_files, CIFAR_LAYOUTS["cifar10"].test_file)


def linked_copy(source, folder, changed=None):
    """``folder`` holding links to ``source``'s CIFAR files (the same bytes at another path); ``changed`` rewritten."""
    folder.mkdir()
    for name in FILES:
        if name == changed:
            data = bytearray((source / name).read_bytes())
            data[-1] ^= 1  # one pixel of the last image
            (folder / name).write_bytes(bytes(data))
        else:
            (folder / name).symlink_to(source / name)
    return folder


def prepared(tmp_path, folder, url):
    path = tmp_path / "moved.toml"
    path.write_text(STUDY.format(folder=folder))
    return prepare_study(load_study_config(path), url)


def test_moved_data_continues_the_study_and_other_data_is_refused(tmp_path, cifar_mini):
    url = f"sqlite:///{tmp_path / 'moved.db'}"
    study, _, queued = prepared(tmp_path, cifar_mini, url)
    assert queued == 1
    moved = linked_copy(cifar_mini, tmp_path / "moved-data")
    study, _, queued = prepared(tmp_path, moved, url)
    assert queued == 0  # the same study: nothing queued again
    stored = optuna.load_study(study_name="moved", storage=url).user_attrs[CONFIG_ATTR]
    assert stored["dataset"] == f"cifar10:{moved}"  # workers read the data where it is now
    other = linked_copy(cifar_mini, tmp_path / "other-data", changed="test_batch")
    with pytest.raises(ConfigError, match="holds other data than study 'moved' was started with"):
        prepared(tmp_path, other, url)
