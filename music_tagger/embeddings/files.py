"""Feature files: an ``.npy`` matrix beside a CSV of its rows and a JSON of how it was made.

Examples
--------
>>> from music_tagger.embeddings.files import read_features
>>> x, rows, meta, y = read_features("feats/train")    # doctest: +SKIP"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import DataError, MissingFileError, ParameterError
from ..util.checks import load_array, read_json, readable_file
from ..util.files import atomic_path, check_outputs, write_text


def write_features(
    prefix: str | os.PathLike,
    x: np.ndarray,
    rows: Sequence[str],
    meta: dict[str, Any],
    *,
    y: np.ndarray | None = None,
    tags: Sequence[str] | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Write features as ``<prefix>.npy``, a row index ``<prefix>.csv`` and ``<prefix>.json``.

    The CSV has one line per row: ``row, id`` and, with labels, one 0/1 column per
    tag; the JSON holds ``meta`` (how the features were computed), the tags and the
    feature names. Each file is written atomically; existing ones are replaced only
    with ``overwrite`` (else :class:`~music_tagger.errors.OutputExistsError`).

    Returns
    -------
    list of pathlib.Path
        The files written.

    Examples
    --------
    >>> write_features("feats/test", x, ids, {"arch": "crnn"})     # doctest: +SKIP
    """
    paths = feature_files(prefix)
    check_outputs(paths, overwrite=overwrite)
    Path(prefix).parent.mkdir(parents=True, exist_ok=True)
    x = np.asarray(x, np.float32)
    if len(rows) != len(x) or (y is not None and len(y) != len(x)):
        raise ParameterError(
            f"{len(x)} feature rows, {len(rows)} row names, labels for {None if y is None else len(y)}"
        )
    with atomic_path(paths[0]) as tmp, open(tmp, "wb") as f:
        np.save(f, x)
    with atomic_path(paths[1]) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["row", "id"] + [f"label:{t}" for t in (tags or []) if y is not None])
        for i, name in enumerate(rows):
            labels = [] if y is None else [int(v) for v in y[i]]
            writer.writerow([i, name] + labels)
    info = dict(meta, n_rows=len(x), dims=int(x.shape[1]), tags=list(tags or []),
                has_labels=y is not None)  # fmt: skip
    write_text(paths[2], json.dumps(info, indent=1))
    return paths


def feature_files(prefix: str | os.PathLike) -> list[Path]:
    """The files :func:`write_features` writes for ``prefix``.

    Examples
    --------
    >>> [p.as_posix() for p in feature_files("feats/train")]
    ['feats/train.npy', 'feats/train.csv', 'feats/train.json']
    """
    return [Path(prefix).with_suffix(suffix) for suffix in (".npy", ".csv", ".json")]


def read_features(prefix: str | os.PathLike) -> tuple[np.ndarray, list[str], dict[str, Any], np.ndarray | None]:
    """Read what :func:`write_features` wrote: ``(x, rows, meta, y)`` (``y`` None without labels).

    Examples
    --------
    >>> x, rows, meta, y = read_features("feats/train")    # doctest: +SKIP
    """
    prefix = Path(prefix)
    npy = prefix.with_suffix(".npy")
    if not npy.is_file():
        raise MissingFileError(f"no features at {npy}; write them with music-tagger features")
    x = load_array(npy, "feature matrix of music-tagger features")
    meta = read_json(prefix.with_suffix(".json"), "feature description of music-tagger features")
    index = readable_file(prefix.with_suffix(".csv"), "row index of music-tagger features")
    try:
        with open(index, newline="", encoding="utf-8") as f:
            lines = list(csv.reader(f))[1:]
        rows = [line[1] for line in lines]
        y = np.array([[int(v) for v in line[2:]] for line in lines], np.uint8) if meta["has_labels"] else None
    except (IndexError, KeyError, ValueError) as err:  # UnicodeDecodeError too
        raise DataError(f"{prefix}: the features' .csv or .json is malformed ({type(err).__name__}: {err})") from None
    if x.ndim != 2 or len(x) != len(rows) or (y is not None and len(y) != len(x)):
        raise DataError(
            f"{prefix}: {x.shape} features for {len(rows)} rows in its .csv; "
            "write them again with music-tagger features"
        )
    return x, rows, meta, y


def write_input_features(
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    arch: str = "crnn",
    level: str = "multi",
    bn_semantics: str | None = None,
    crops: int = 1,
    resampler: str | None = None,
    batch_size: int = 8,
    workers: int | None = None,
    progress: bool = False,
    overwrite: bool = False,
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Compute the features of stores or audio files and write them as feature files.

    ``inputs`` is a folder of stores of :func:`music_tagger.datasets.cache.prepare`
    (one ``out/<split>`` per store, with its labels, ready for
    :func:`music_tagger.embeddings.linear_probe.probe`), one store (``.h5``: ``out``),
    or audio files and folders (``out``, one row per file read). Every output is
    checked before any feature is computed. A store keeps its own resampler, and the
    compact convnet, a raw-audio network, reads the audio files a store was prepared
    from. An unreadable audio file does not stop the others: it is left out and
    reported, as by :func:`music_tagger.embeddings.extract.file_features`.

    Parameters
    ----------
    inputs : sequence of path-like
        A stores folder, a store, or audio files and folders.
    out : path-like
        The output folder (stores folder) or prefix (a store, audio files).
    arch, level, bn_semantics, crops, batch_size, workers, progress
        As for :func:`music_tagger.embeddings.extract.features` (``crops`` and
        ``workers``: audio files only).
    resampler : str, optional
        Audio files only (default the 2016 resampler); a store keeps its own.
    overwrite : bool
        Replace the feature files of an earlier run.

    Returns
    -------
    written : list of pathlib.Path
        The files written (none when no audio file could be read).
    failed : list of (str, str)
        ``(path, message)`` of each audio file that could not be read.

    Raises
    ------
    DataError
        Two stores of the folder hold the same split (both would write one file).
    OutputExistsError
        An output exists and ``overwrite`` is False.

    Examples
    --------
    >>> written, failed = write_input_features(["stores"], "feats")   # doctest: +SKIP
    >>> [p.name for p in written][:3]                                  # doctest: +SKIP
    ['test.npy', 'test.csv', 'test.json']
    """
    from ..audio import KAISER_BEST_2016
    from ..datasets import cache
    from ..datasets.store import stores_in
    from .extract import features, file_features

    resampler = KAISER_BEST_2016 if resampler is None else resampler
    options = dict(arch=arch, level=level, bn_semantics=bn_semantics, batch_size=batch_size, progress=progress)
    meta = dict(arch=arch, level=level, bn_semantics=bn_semantics, crops=crops, resampler=resampler)
    first = Path(inputs[0])
    stores = stores_in(inputs)[0] if len(inputs) == 1 and (first.is_dir() or first.suffix == ".h5") else []
    if not stores:
        check_outputs(feature_files(out), overwrite=overwrite)
        x, paths, failed = file_features(inputs, crops=crops, resampler=resampler, workers=workers, **options)
        written = write_features(out, x, paths, meta, overwrite=True) if paths else []
        return written, failed
    infos = [cache.load_store(path) for path in stores]
    prefixes = [Path(out) / info.split if len(stores) > 1 or first.is_dir() else Path(out) for info in infos]
    shared = [prefix for prefix in prefixes if prefixes.count(prefix) > 1]
    if shared:
        raise DataError(f"two stores in {first} hold split {shared[0].name!r}: both would write {shared[0]}.npy")
    check_outputs([f for prefix in prefixes for f in feature_files(prefix)], overwrite=overwrite)
    written = []
    for path, info, prefix in zip(stores, infos, prefixes):
        store_resampler = info.settings["resampler"]
        # the compact convnet reads raw audio: the store's audio files, read alike
        x = features(info.paths if arch == "compact" else str(path), **dict(options, resampler=store_resampler))
        store_meta = dict(meta, crops=1, resampler=store_resampler, store=str(path))
        written += write_features(prefix, x, info.ids, store_meta, y=info.y, tags=info.tags, overwrite=True)
    return written, []
