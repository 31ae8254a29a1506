"""From scores to decisions: per-tag thresholds that maximise F1 on labelled data.

A tagger gives each tag a score in [0, 1]; a user wants yes or no. The best cut
differs from tag to tag (``rock`` is common and scored high, ``happy`` is rare and
scored low), so :func:`fit_thresholds` picks, for each tag, the threshold that
maximises F1 on labelled examples (the scores of the examples themselves are the
candidate cuts, via :func:`sklearn.metrics.precision_recall_curve`).
:func:`calibrate` does it end to end from a labelled feature store of
``music-tagger prepare`` or a labelled CSV (``path,tags[,split]``), and saves the
thresholds as JSON; ``tag(..., thresholds=FILE)`` / ``music-tagger tag
--thresholds FILE`` then lists the tags that pass.

A tag without positive examples has no threshold (it never passes); so has a tag
of the model that the labels do not cover. Thresholds fitted on few examples
overfit: calibrate on a validation split, not on the files you will tag.

The JSON file::

    {"model": "crnn", "source": "valid.h5", "n_examples": 1529,
     "thresholds": {"rock": {"threshold": 0.31, "f1": 0.62, "support": 212}, ...}}

Examples
--------
>>> import numpy as np
>>> from music_tagger.tagging.calibration import fit_thresholds
>>> y = np.array([[1], [1], [0], [0]])
>>> s = np.array([[0.9], [0.6], [0.4], [0.1]])
>>> fit_thresholds(y, s, ["rock"])["rock"]["threshold"]
0.6
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..audio import N_FRAMES
from ..errors import DataError, ParameterError
from ..util.checks import readable_file, writable_output
from .thresholds import load_thresholds, save_thresholds

__all__ = ["calibrate", "fit_thresholds", "load_thresholds", "save_thresholds"]


def fit_thresholds(y_true: Any, scores: Any, tags: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The F1-maximising threshold of each tag.

    Parameters
    ----------
    y_true : array-like of 0/1, shape (n, n_tags)
    scores : array-like of float, shape (n, n_tags)
    tags : sequence of str, length n_tags

    Returns
    -------
    dict
        ``{tag: {"threshold": float, "f1": float, "support": int}}`` for every tag
        with at least one positive example (``score >= threshold`` passes).

    Raises
    ------
    ValueError
        Shapes that disagree, labels other than 0/1, or NaN scores.
    """
    from sklearn.metrics import precision_recall_curve

    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 2 or s.shape != y.shape or y.shape[1] != len(tags):
        raise ParameterError(f"y_true {y.shape} and scores {s.shape} must both be (n, {len(tags)}), one column per tag")
    if not np.isin(y, (0, 1)).all():
        raise ParameterError("y_true must hold only 0 and 1")
    if np.isnan(s).any():
        raise ParameterError("scores contain NaN")
    out: dict[str, dict[str, Any]] = {}
    for j, t in enumerate(tags):
        support = int(y[:, j].sum())
        if support == 0:
            continue
        precision, recall, cuts = precision_recall_curve(y[:, j], s[:, j])
        p, r = precision[:-1], recall[:-1]  # the last point has no threshold
        f1 = np.divide(2 * p * r, p + r, out=np.zeros_like(p), where=(p + r) > 0)
        best = int(np.argmax(f1))
        out[t] = {"threshold": float(cuts[best]), "f1": float(f1[best]), "support": support}
    return out


def _labelled_scores(source: Path, model: Any, split: str | None, batch_size: int, **tag_options: Any):
    """(y, scores, label tags, model tags) of a store or a labelled CSV; the labels are
    checked before any audio is scored."""
    from .results import _default_tags
    from .tagger import get_model, iter_tag

    model_tags = _default_tags()
    if source.suffix.lower() in (".h5", ".hdf5"):
        from ..datasets.cache import load_store
        from ..datasets.store import iter_batches

        store = load_store(source)
        batches = iter_batches(source, batch_size, frames=N_FRAMES)  # checks the frames now
        _check_labels(source, store.n, store.tags, model_tags, None)
        keras_model = get_model(model)
        scores = np.concatenate([np.asarray(keras_model.predict_on_batch(x[..., None])) for x, _ in batches])
        return store.y, scores, store.tags, model_tags
    from ..datasets.dataset import read_csv

    data = read_csv(source)
    if split is not None:
        splits = sorted(set(map(str, data.split)))
        data = data.subset(split)
        if len(data) == 0:
            raise DataError(f"{source} has no rows of split {split!r} (its splits: {', '.join(splits) or 'none'})")
    _check_labels(source, len(data), data.tags, model_tags, split)
    rows = list(iter_tag(data.paths, model, top_n=1, batch_size=batch_size, **tag_options))
    bad = [r.error for r in rows if r.error is not None]
    if bad:
        warnings.warn(f"{len(bad)} labelled files could not be tagged and are left out, e.g. {bad[0]}", stacklevel=3)
    keep = [i for i, r in enumerate(rows) if r.error is None]
    scores = np.stack([rows[i].scores for i in keep]) if keep else np.zeros((0, len(model_tags)))
    return data.y[keep], scores, data.tags, model_tags


def _check_labels(source: Path, n: int, label_tags: list[str], model_tags: list[str], split: str | None) -> None:
    """DataError/ParameterError unless there are examples whose labels name tags of the model."""
    if n == 0:
        raise DataError(f"{source} holds no labelled examples" + (f" of split {split!r}" if split else ""))
    if not any(t in label_tags for t in model_tags):
        raise ParameterError(
            f"none of the labels of {source} ({', '.join(label_tags[:5]) or 'none'}...) is a tag of the model"
        )


def calibrate(
    source: str | os.PathLike,
    out: str | os.PathLike,
    model: Any = "crnn",
    *,
    split: str | None = None,
    batch_size: int = 8,
    **tag_options: Any,
) -> dict[str, dict[str, Any]]:
    """Fit per-tag thresholds on labelled data and save them as JSON.

    Parameters
    ----------
    source : path-like
        A feature store of ``music-tagger prepare`` (``.h5``; its spectrograms are
        scored) or a CSV with columns ``path,tags,split`` (see
        :func:`music_tagger.datasets.dataset.read_csv`; its audio is tagged with
        :func:`music_tagger.tagging.tagger.iter_tag` and ``tag_options``). Label columns
        are matched to the model's tags by name; other labels are ignored.
    out : path-like
        The JSON file to write.
    model : "crnn", "cnn" or keras.Model
    split : str, optional
        CSV only: use only this split's rows (e.g. "valid").
    batch_size : int
    **tag_options
        CSV only: options of :func:`~music_tagger.tagging.tagger.iter_tag` (``crops``,
        ``faithful``, ``workers``...): calibrate with the mode you will tag with.

    Returns
    -------
    dict
        The thresholds, as :func:`fit_thresholds` returns them.

    Raises
    ------
    ValueError
        No label matches a model tag, or no example could be scored.

    Examples
    --------
    >>> from music_tagger.tagging.calibration import calibrate
    >>> calibrate("features/valid.h5", "thresholds.json")    # doctest: +SKIP
    """
    source = readable_file(source, "labelled data (a feature store .h5 or a CSV)")
    writable_output(out, "thresholds file")  # before the scoring, not after it
    y, scores, label_tags, model_tags = _labelled_scores(source, model, split, batch_size, **tag_options)
    shared = [t for t in model_tags if t in label_tags]
    if not shared:
        raise ParameterError(f"none of the labels of {source} ({', '.join(label_tags[:5])}...) is a tag of the model")
    if len(scores) == 0:
        raise ParameterError(f"no example of {source} could be scored")
    cols_y = [label_tags.index(t) for t in shared]
    cols_s = [model_tags.index(t) for t in shared]
    thresholds = fit_thresholds(y[:, cols_y], scores[:, cols_s], shared)
    name = model if isinstance(model, str) else getattr(model, "name", "model")
    save_thresholds(out, thresholds, model=name, source=str(source), n_examples=int(len(scores)))
    return thresholds
