"""The trials of an Optuna study as one pandas DataFrame, exactly as recorded.

One row per trial: Optuna's own columns (``number``, ``state``, ``value``,
start and end times) followed by every user attribute the study scheduler
records (``TRIAL_ATTRIBUTES``, in that order; any further attribute after
them). Nothing is recomputed from the models: a number missing from the
storage is missing (None/NA) in the table. Only Optuna's public API is used
(``load_study`` and ``Study.get_trials``); no storage internals.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional, Union

import pandas as pd

from ..errors import ConfigError
from ..study._record import TRIAL_ATTRIBUTES, attribute_kinds

OPTUNA_COLUMNS = ("number", "state", "value", "datetime_start", "datetime_complete")
_KINDS = attribute_kinds()
# Whole numbers that may be missing: pandas' nullable integer keeps them exact (no float64 rounding of counts).
INTEGER_COLUMNS = ("number",) + tuple(name for name, kinds in _KINDS.items() if kinds == (int,))
FLOAT_COLUMNS = ("value",) + tuple(name for name, kinds in _KINDS.items() if kinds == (float,))
# Columns holding dicts or lists of them; written to CSV as JSON text.
DICT_COLUMNS = tuple(name for name, kinds in _KINDS.items() if kinds in ((dict,), (list,)))


def load_trials(study, study_name: Optional[str] = None) -> pd.DataFrame:
    """Every trial of a study, one row each, with every recorded attribute.

    ``study`` is an ``optuna.Study``, or a storage (an Optuna storage object,
    an RDB URL such as ``sqlite:///x.db`` or ``postgresql://...``, or the path
    of a JournalStorage file such as ``runs/NAME/journal.log``) together with
    ``study_name``.
    """
    return trials_frame(open_study(study, study_name).get_trials(deepcopy=False))


def load_study_file_trials(study_file, storage=None, runs_dir=None) -> tuple:
    """``(study name, trials)`` of the study a study file (TOML) describes.

    The storage is ``storage`` when given (anything :func:`resolve_storage`
    accepts), else the study file's own, opened by
    ``budgetsearch.study.open_storage`` (its default: the journal file
    ``<runs_dir>/<name>/journal.log``, where ``run_study`` with the same
    ``runs_dir`` wrote it; None: the study's default folder).
    """
    name, opened = _study_file_storage(study_file, storage, runs_dir)
    return name, load_trials(opened, name)


def load_study_file_skipped(study_file, storage=None, runs_dir=None) -> pd.DataFrame:
    """:func:`load_skipped_cells` of the study a study file describes (storage as :func:`load_study_file_trials`)."""
    name, opened = _study_file_storage(study_file, storage, runs_dir)
    return load_skipped_cells(opened, name)


def _study_file_storage(study_file, storage=None, runs_dir=None) -> tuple:
    """``(study name, Optuna storage)`` of a study file, read as :func:`load_study_file_trials` reads it."""
    from ..study import load_study_config, open_storage
    from ..study._storage import DEFAULT_RUNS_DIR, journal_path

    config = load_study_config(study_file)
    runs_dir = DEFAULT_RUNS_DIR if runs_dir is None else runs_dir
    if storage is not None:
        return config.name, resolve_storage(storage)
    url = getattr(config.storage, "url", config.storage)  # StorageSettings, or a plain URL / None
    journal = journal_path(None, config.name, runs_dir)
    if url is None and not journal.is_file():  # don't let a read create an empty study folder
        raise ConfigError(f"study {config.name!r} has no trials yet: {str(journal)!r} does not exist "
                          f"(run the study first, or pass the storage or runs_dir it was run with)")
    return config.name, open_storage(url, config.name, runs_dir=runs_dir)


def load_skipped_cells(study, study_name: Optional[str] = None) -> pd.DataFrame:
    """The cells the study's latest run skipped, as ``run`` recorded them (:func:`skipped_table`).

    Columns substitute, budget, reason, status ("infeasible", "below_min_fill"),
    the budget's caps and the solver's counts. ``study``: as for :func:`load_trials`.
    """
    from ..study import SKIPPED_ATTR
    from ._missing import skipped_table

    return skipped_table(open_study(study, study_name).user_attrs.get(SKIPPED_ATTR, []))


def open_study(study, study_name: Optional[str] = None):
    """The ``optuna.Study`` ``study`` is, or the one named ``study_name`` in the storage ``study``."""
    import optuna

    if isinstance(study, optuna.Study):
        return study
    if not study_name:
        raise ConfigError(f"study_name is required when loading trials from a storage, but got {study_name!r}")
    storage = resolve_storage(study)
    try:
        return optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        names = optuna.get_all_study_names(storage)
        raise ConfigError(f"study {study_name!r} is not in storage {_describe(study)}; "
                          f"it holds {names or 'no studies'}") from None


def trials_frame(trials) -> pd.DataFrame:
    """The table of :func:`load_trials` built from Optuna ``FrozenTrial`` objects."""
    extra = sorted({key for t in trials for key in t.user_attrs} - set(TRIAL_ATTRIBUTES))
    columns = list(OPTUNA_COLUMNS) + list(TRIAL_ATTRIBUTES) + extra
    values = {column: [] for column in columns}
    for t in trials:
        row = {"number": t.number, "state": t.state.name, "value": t.value,
               "datetime_start": t.datetime_start, "datetime_complete": t.datetime_complete}
        for column in columns:
            values[column].append(row[column] if column in row else t.user_attrs.get(column))
    data = {}
    for column in columns:  # column by column, so no whole number passes through float64
        if column in INTEGER_COLUMNS:
            data[column] = pd.array([_as_int(v, column, n) for v, n in zip(values[column], values["number"])],
                                    dtype="Int64")
        elif column in FLOAT_COLUMNS:
            data[column] = pd.Series([_as_float(v, column, n) for v, n in zip(values[column], values["number"])],
                                     dtype="float64")
        elif column.startswith("datetime_"):
            data[column] = pd.to_datetime(pd.Series(values[column], dtype=object))
        else:
            data[column] = pd.Series(values[column], dtype=object)  # None stays None
    frame = pd.DataFrame(data, columns=columns)
    return frame.sort_values("number", kind="stable").reset_index(drop=True)


def trials_to_csv(trials: pd.DataFrame, path) -> None:
    """Write the trials table to CSV, dict columns as JSON text."""
    out = trials.copy()
    for column in DICT_COLUMNS:
        if column in out:
            out[column] = [None if v is None else json.dumps(v, sort_keys=True, default=str) for v in out[column]]
    out.to_csv(path, index=False)


def resolve_storage(storage):
    """An Optuna storage from a storage object, an RDB URL or a journal file path."""
    from optuna.storages import BaseStorage

    from ..study import open_storage

    if isinstance(storage, BaseStorage):
        return storage
    if not isinstance(storage, (str, Path)) or not str(storage):
        raise ConfigError(f"storage must be an Optuna storage, an RDB URL or a journal file path, but got {storage!r}")
    text = str(storage)
    if "://" not in text and not Path(text).is_file():
        raise ConfigError(f"storage {text!r} is neither a URL (scheme://...) nor an existing journal file")
    # As `run` opens it: a bad URL or a damaged journal is a one-line error, a torn journal record is cut first.
    return open_storage(text, "")


def _describe(storage) -> str:
    return repr(str(storage)) if isinstance(storage, (str, Path)) else type(storage).__name__


def _as_int(value, column: str, number: int) -> Union[int, None]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ConfigError(f"trial {number} records {column}={value!r}, but {column} must be a whole number or None")


def _as_float(value, column: str, number: int) -> float:
    if value is None:
        return math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ConfigError(f"trial {number} records {column}={value!r}, but {column} must be a number or None")
