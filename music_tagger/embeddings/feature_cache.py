"""The per-file feature cache of teaching: each file's feature row computed once.

:func:`cached_features` keys each file's row by its real path, size and modification
time and by how the features were computed (network, level, crops, resampler,
runtime), one ``.npy`` per file under :func:`feature_cache_folder`, written
atomically: a second teaching on the same library, and scoring the library with a
taught tag (:mod:`music_tagger.embeddings.few_shot`), cost no forward pass. An edited
file, or a damaged entry, is computed again; a read-only cache is used as far as it goes.

Examples
--------
>>> from music_tagger.embeddings.feature_cache import cached_features
>>> x, read, failed = cached_features(["library/"], cache_dir="/tmp/feats")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import KAISER_BEST_2016
from ..audio.files import expand_paths
from ..errors import ParameterError
from ..registry import cache_folder
from ..util.checks import one_of
from ..util.files import atomic_path
from ..vocabulary import FEATURE_RUNTIME, RUNTIMES

__all__ = ["CHUNK", "ENV_CACHE", "RUNTIMES", "cached_features", "feature_cache_folder"]

#: Files computed between two writes of the cache.
CHUNK = 32
#: Environment variable naming the feature cache folder.
ENV_CACHE = "MUSIC_TAGGER_FEATURE_CACHE"


def feature_cache_folder(cache_dir: str | os.PathLike | None = None) -> Path:
    """The folder of the per-file feature cache.

    ``cache_dir`` if given, else ``$MUSIC_TAGGER_FEATURE_CACHE``, else
    ``features/`` in the package's download cache (``~/.keras/music_tagger``).
    Nothing is created.

    Examples
    --------
    >>> feature_cache_folder("/tmp/feats").as_posix()
    '/tmp/feats'
    """
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get(ENV_CACHE) or cache_folder() / "features")


def _runtime(runtime: str) -> str:
    """``runtime`` checked against :data:`music_tagger.vocabulary.RUNTIMES`: ``"tf"``, the
    Keras network, or ``"onnx"``, its ONNX graph on onnxruntime (CRNN multi-level only; no
    TensorFlow: what ``music-tagger serve`` uses); ``"keras"``, this module's old word for
    ``"tf"``, is still accepted."""
    return one_of("tf" if runtime == "keras" else runtime, "runtime", RUNTIMES)


def _options_key(options: dict[str, Any]) -> str:
    key = "-".join(str(options[k]) for k in ("arch", "level", "bn_semantics", "crops", "resampler"))
    return key + ("-onnx" if options.get("runtime") == "onnx" else "")  # its own rows: equal to 1e-6, not bit for bit


def _onnx_features(
    paths: list[str],
    *,
    arch: str,
    level: str,
    bn_semantics: str | None,
    crops: int,
    resampler: str,
    batch_size: int = 8,
    progress: bool = False,
    workers: int | None = 0,
) -> tuple[np.ndarray, list[str], list[tuple[str, str]]]:
    """:func:`~music_tagger.embeddings.extract.file_features` on onnxruntime (CRNN, multi-level)."""
    from ..runtime.sessions import pretrained_features
    from ..tagging.pipeline import run

    if (arch, level, bn_semantics) != ("crnn", "multi", None):
        raise ParameterError(f"the onnx runtime computes the crnn/multi features only, got {arch}/{level}")
    rows, read, failed = [], [], []
    stream = run(paths, pretrained_features(arch), crops=crops, resampler=resampler,
                 batch_size=batch_size, workers=workers)  # fmt: skip
    try:
        for r in stream:
            if r.error is not None:
                failed.append((r.path, r.error))
            else:
                rows.append(np.asarray(r.scores, np.float32))
                read.append(r.path)
    finally:
        stream.close()
    return (np.stack(rows) if rows else np.zeros((0, 0), np.float32)), read, failed


def _file_key(path: str) -> str | None:
    """A name for ``path``'s current content: real path, size, mtime; None if it cannot be stat'ed."""
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
    except OSError:
        return None
    return hashlib.sha256(f"{real}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:32]


def _read_entry(entry: Path, dims: int | None) -> np.ndarray | None:
    try:
        row = np.load(entry, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None  # missing or damaged: compute again
    if row.ndim != 1 or (dims is not None and len(row) != dims) or not np.isfinite(row).all():
        return None
    return row.astype(np.float32)


def cached_features(
    paths: Any,
    *,
    cache_dir: str | os.PathLike | None = None,
    arch: str = "crnn",
    level: str = "multi",
    bn_semantics: str | None = None,
    crops: int = 1,
    resampler: str = KAISER_BEST_2016,
    runtime: str = FEATURE_RUNTIME,
    **options: Any,
) -> tuple[np.ndarray, list[str], list[tuple[str, str]]]:
    """:func:`~music_tagger.embeddings.extract.file_features`, each file's row cached on disk.

    Rows already in the cache are read (no network is built when all are); the
    others are computed and each written atomically as
    ``<cache>/<options>/<key>.npy`` every :data:`CHUNK` files, so a killed run keeps what it finished.

    Parameters
    ----------
    paths : path or sequence of paths
        Audio files and folders (searched recursively).
    cache_dir : path, optional
        See :func:`feature_cache_folder`.
    arch, level, bn_semantics, crops, resampler
        How the features are computed, as for :func:`~music_tagger.embeddings.extract.features`.
    runtime : {"tf", "onnx"}
        ``"onnx"``: the CRNN's multi-level features on onnxruntime, no TensorFlow
        imported (:func:`music_tagger.runtime.sessions.pretrained_features`; within 1e-6 of
        the largest Keras value, see ``tests/test_teach.py``); cached apart.
    **options
        ``batch_size``, ``progress``: how they are computed.

    Returns
    -------
    x, read, failed
        As :func:`~music_tagger.embeddings.extract.file_features` returns them.

    Examples
    --------
    >>> x, read, failed = cached_features(["library/"], cache_dir="/tmp/feats")   # doctest: +SKIP
    """
    from .extract import _check_options, file_features

    _check_options(arch, level, bn_semantics, crops)
    runtime = _runtime(runtime)
    compute = file_features if runtime == "tf" else _onnx_features
    setting = dict(arch=arch, level=level, bn_semantics=bn_semantics, crops=crops, resampler=resampler)
    folder = feature_cache_folder(cache_dir) / _options_key(dict(setting, runtime=runtime))
    files = expand_paths(paths)
    keys = [_file_key(p) for p in files]
    rows: dict[int, np.ndarray] = {}
    dims = None
    for i, key in enumerate(keys):
        row = None if key is None else _read_entry(folder / f"{key}.npy", dims)
        if row is not None:
            rows[i], dims = row, len(row)
    todo = [i for i in range(len(files)) if i not in rows]
    failures: dict[str, str] = {}
    for chunk in range(0, len(todo), CHUNK):  # written chunk by chunk: a killed run keeps its work
        part = todo[chunk : chunk + CHUNK]
        x, _, failed = compute([files[i] for i in part], **setting, **options)
        failures.update(failed)
        computed = iter(x)
        for i in part:
            if files[i] in failures:
                continue
            rows[i] = next(computed)
            if keys[i] is not None:
                _write_entry(folder, keys[i], rows[i])
    read = [files[i] for i in sorted(rows)]
    x = np.stack([rows[i] for i in sorted(rows)]) if rows else np.zeros((0, 0), np.float32)
    return x, read, [(f, failures[f]) for f in files if f in failures]


def _write_entry(folder: Path, key: str, row: np.ndarray) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / f"{key}.npy") as tmp, open(tmp, "wb") as f:
            np.save(f, row.astype(np.float32))
    except OSError:
        pass  # a read-only cache: the features are still returned, only not kept
