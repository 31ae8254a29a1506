"""Scoring a trained model on a feature store.

:func:`evaluate_model` scores a saved model on a store with the tagging metrics of
:mod:`music_tagger.tagging.metrics` (:func:`~music_tagger.tagging.metrics.evaluate`,
:func:`~music_tagger.tagging.metrics.write_results`, which this module also
offers under their old address, as it does
:func:`~music_tagger.models.loading.load_model`); :func:`predict_store` runs a
model over a store through ``tf.data``, under a ``tf.distribute`` strategy when
training uses one. The experiment grid's table lives with the grid
(:func:`music_tagger.training.experiment.write_grid_results`).

Examples
--------
>>> from music_tagger.training.evaluation import evaluate_model
>>> evaluate_model("runs/crnn/model.keras", "features/test.h5")["roc_auc_macro"]  # doctest: +SKIP
0.861
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import cache
from ..errors import DataError
from ..models.loading import load_model
from ..tagging.metrics import PER_TAG_FIELDS, evaluate, format_table, write_results

__all__ = [
    "PER_TAG_FIELDS", "evaluate", "evaluate_model", "format_table", "load_model", "predict_store",
    "write_results",
]  # fmt: skip


def predict_store(model, store: cache.Store, batch_size: int, *, strategy=None) -> np.ndarray:
    """``model``'s scores for every clip of ``store``, in the store's order (also
    when ``model`` lives under a ``tf.distribute`` ``strategy``)."""
    from ..datasets.store import make_dataset, steps_per_epoch

    dataset = make_dataset(store, batch_size, strategy=strategy)
    steps = steps_per_epoch(store.n, batch_size, strategy)
    return model.predict(dataset, steps=steps, verbose=0)


def evaluate_model(
    model_path: str | os.PathLike,
    store: str | os.PathLike,
    *,
    batch_size: int = 16,
    out: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Score a trained model on a store (e.g. ``features/test.h5``).

    Parameters
    ----------
    model_path : str or path-like
        A ``.keras`` model of :func:`train` or :func:`finetune`; the ``tags.json``
        beside it must match the store's tags.
    store : str or path-like
        A store of :func:`music_tagger.datasets.cache.prepare`.
    batch_size : int
    out : str or path-like, optional
        Also write the results there (see :func:`write_results`).

    Returns
    -------
    dict
        As :func:`evaluate`.

    Examples
    --------
    >>> r = evaluate_model("runs/crnn/model.keras", "features/test.h5")   # doctest: +SKIP
    >>> round(r["roc_auc_macro"], 3)                                       # doctest: +SKIP
    0.861
    """
    model_path, info = Path(model_path), cache.load_store(store)
    tags_file = model_path.with_name("tags.json")
    if tags_file.exists() and json.loads(tags_file.read_text()) != info.tags:
        raise DataError(f"{model_path} was trained on other tags than those of {info.path}")
    model = load_model(model_path, compile=False)
    frames = model.input_shape[2]
    if frames not in (None, info.frames):
        raise DataError(f"{model_path} takes {frames} frames, but {info.path} holds {info.frames}")
    results = evaluate(info.y, predict_store(model, info, batch_size), info.tags)
    if out is not None:
        write_results(results, out)
    return results
