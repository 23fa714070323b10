"""A transformers image classifier from a local model folder (its ``config.json`` and weights; nothing is
downloaded), for budgetsearch to count, substitute and compress by reference::

    budgetsearch count --model examples.pretrained:image_classifier --model-option "path='my-model'" \
        --input-size 3,224,224 --select convs

A model folder holds code choices (its config names a transformers class), so it
is not a weights file: ``--weights`` refuses a folder and points here. The folder
is read by the callable its user names, which is marked as a model factory.
"""

from __future__ import annotations

from budgetsearch import model_factory


@model_factory
def image_classifier(path: str):
    """The classifier saved in the folder ``path`` (``save_pretrained``), with its weights, from local files only."""
    from transformers import AutoModelForImageClassification  # an optional dependency: only when called

    return AutoModelForImageClassification.from_pretrained(path, local_files_only=True)
