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
