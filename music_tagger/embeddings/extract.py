"""The pretrained networks as feature extractors, for transfer learning.

Choi et al. (2017, "Transfer learning for music classification and regression
tasks") fed a classifier the global average of every conv layer's output maps,
concatenated (a "multi-level" feature), rather than the last layer alone. This
module gives both readings for both MSD-pretrained networks:

==========  =======================================================  =========
``level``   what a clip becomes                                      dims
==========  =======================================================  =========
``"top"``   the ``include_top=False`` output: CRNN last GRU state,   32 / 256
            CNN flattened last conv block
``"multi"`` mean over frequency and time of each conv block's        480 / 736
            output (after ELU and pooling), concatenated; for the
            CRNN followed by the last GRU state
==========  =======================================================  =========

(CRNN: 64 + 128 + 128 + 128 + 32 = 480; CNN: 32 + 128 + 128 + 192 + 256 = 736, its
last block being 1 x 1 already.) Dropout is off, BatchNorm uses the stored
statistics: a clip's features do not depend on the other clips of its batch.

:func:`features` computes them for audio files, folders, prepared stores or
spectrogram arrays, from the centre crop or averaged over crops;
:class:`FeatureExtractor` is the same as a scikit-learn transformer, to put in front
of any classifier in a ``Pipeline``; :func:`~music_tagger.embeddings.files.write_features` and
:func:`~music_tagger.embeddings.files.read_features` keep them on disk as ``.npy`` with a row index.

Examples
--------
>>> from music_tagger import features, example
>>> features([example("bensound-cute")]).shape                 # doctest: +SKIP
(1, 480)
>>> features("stores/test.h5", level="top").shape              # doctest: +SKIP
(n_test_clips, 32)
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, Iterator

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from .. import audio
from ..audio import KAISER_BEST_2016
from ..util.checks import one_of, positive_int
from ..vocabulary import BN_AS_TRAINED, BN_PUBLISHED, BN_READINGS, LEVELS
from ..errors import AudioError, ParameterError

__all__ = [
    "ARCHS",
    "LEVELS",
    "FeatureExtractor",
    "feature_model",
    "feature_names",
    "features",
    "file_features",
]

#: Pretrained networks: name -> (builder name in :mod:`music_tagger.models.builders`, default BN reading).
#: builder and BatchNorm reading of each pretrained network
ARCHS = {"crnn": ("CRNN", BN_PUBLISHED), "cnn": ("CNN", BN_AS_TRAINED)}
_INPUT = (audio.N_MELS, audio.N_FRAMES)


def _check_options(arch: str, level: str, bn_semantics: str | None, crops: int) -> str:
    """Validate the shared options; returns the BatchNorm reading to use."""
    one_of(arch, "arch", tuple(ARCHS))
    one_of(level, "level", LEVELS)
    positive_int(crops, "crops")
    default = ARCHS[arch][1]
    if bn_semantics is None:
        return default
    if arch == "cnn" and bn_semantics != default:
        raise ParameterError(
            "the MSD CNN has one reading of its BatchNorm statistics (the Keras 1.0.6 "
            f"one it was trained and released with); bn_semantics must be None, got {bn_semantics!r}"
        )
    return one_of(bn_semantics, "bn_semantics", BN_READINGS)


@lru_cache(maxsize=4)
def pretrained_base(arch: str = "crnn", bn_semantics: str | None = None):
    """The MSD-pretrained network without its output layer (built once per setting).

    Parameters
    ----------
    arch : {"crnn", "cnn"}
    bn_semantics : {None, "variance", "std_keras106"}
        None: the network's default reading (see :func:`music_tagger.models.builders.CRNN`).

    Returns
    -------
    keras.Model
        Shared between callers: do not train it (build your own with
        :func:`music_tagger.models.builders.CRNN` for that).

    Examples
    --------
    >>> pretrained_base("crnn").output_shape        # doctest: +SKIP
    (None, 32)
    """
    from ..models import builders as models

    semantics = _check_options(arch, "top", bn_semantics, 1)
    builder = getattr(models, ARCHS[arch][0])
    kwargs = {"bn_semantics": semantics} if arch == "crnn" else {}
    return builder(weights="msd", include_top=False, **kwargs)


def pool_layers(model) -> list[str]:
    """Names of the conv blocks' pooling layers of a network, in order (``pool1``, ...).

    Examples
    --------
    >>> pool_layers(pretrained_base("crnn"))        # doctest: +SKIP
    ['pool1', 'pool2', 'pool3', 'pool4']
    """
    return [layer.name for layer in model.layers if layer.name.startswith("pool")]


def has_recurrent_top(model) -> bool:
    """Whether the network ends in a recurrent layer (the CRNN) rather than a conv block."""
    return any(layer.name.startswith(("gru", "lstm")) for layer in model.layers)


def global_average(x, name: str):
    """Mean over frequency and time of ``(batch, freq, time, maps)`` maps -> ``(batch, maps)``."""
    import keras

    return keras.layers.GlobalAveragePooling2D(name=name)(x)


def multi_level_outputs(model) -> list:
    """The tensors of the multi-level feature of ``model``, in :func:`feature_names` order.

    One global average per pooling layer, then the last GRU state for a CRNN (for a
    CNN the last block's average is already its top feature).
    """
    outputs = [
        global_average(model.get_layer(name).output, f"gap_{name}") for name in pool_layers(model)
    ]
    if has_recurrent_top(model):
        outputs.append(model.output)
    return outputs


@lru_cache(maxsize=8)
def feature_model(arch: str = "crnn", level: str = "multi", bn_semantics: str | None = None):
    """A Keras model from the melgram to the feature vector of ``arch`` at ``level``.

    Parameters
    ----------
    arch : {"crnn", "cnn"}
    level : {"multi", "top"}
    bn_semantics : {None, "variance", "std_keras106"}
        CRNN only: how to read the MSD BatchNorm statistics (None: as published).

    Returns
    -------
    keras.Model
        Input ``(None, 96, 1366, 1)``, output ``(None, dims)``.

    Examples
    --------
    >>> feature_model("crnn", "multi").output_shape       # doctest: +SKIP
    (None, 480)
    """
    import keras

    _check_options(arch, level, bn_semantics, 1)
    base = pretrained_base(arch, bn_semantics)
    if level == "top":
        return base
    merged = keras.layers.Concatenate(name="multi_level")(multi_level_outputs(base))
    return keras.Model(base.input, merged, name=f"{base.name}_multi_level")


def feature_names(arch: str = "crnn", level: str = "multi") -> list[str]:
    """One name per feature column, e.g. ``pool1_0`` ... ``gru2_31``.

    Examples
    --------
    >>> feature_names("crnn", "top")[:2]                   # doctest: +SKIP
    ['gru2_0', 'gru2_1']
    """
    base = pretrained_base(arch)
    blocks: list[tuple[str, int]] = []
    if level == "multi":
        blocks = [(name, base.get_layer(name).output.shape[-1]) for name in pool_layers(base)]
    if has_recurrent_top(base):
        blocks.append(([layer.name for layer in base.layers if layer.weights][-1], base.output_shape[-1]))
    elif level == "top":
        blocks.append(("flatten", base.output_shape[-1]))
    return [f"{name}_{j}" for name, dims in blocks for j in range(dims)]


def _check_melgrams(x: Any) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[1:] != _INPUT:
        raise ParameterError(
            f"expected log-mel spectrograms of shape (n, {_INPUT[0]}, {_INPUT[1]}) or "
            f"(n, {_INPUT[0]}, {_INPUT[1]}, 1), got an array of shape {x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise ParameterError("the spectrograms hold NaN or infinite values")
    return x


def _is_store(path: Any) -> bool:
    return isinstance(path, (str, os.PathLike)) and str(path).endswith(".h5") and os.path.isfile(path)


def _batches(
    inputs: Any, crops: int, resampler: str, batch_size: int, failures: list | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(melgrams, owner)`` batches (``owner[i]``: crop i's input row); with a ``failures``
    list, an unreadable audio file goes there as ``(row, message)`` instead of raising."""
    from ..datasets import cache
    from ..audio.files import expand_paths

    if isinstance(inputs, np.ndarray) and inputs.dtype.kind == "f" or (
        isinstance(inputs, list) and inputs and isinstance(inputs[0], np.ndarray)
    ):
        x = _check_melgrams(inputs)
        for start in range(0, len(x), batch_size):
            yield x[start : start + batch_size], np.arange(start, min(start + batch_size, len(x)))
        return
    if _is_store(inputs):
        if crops != 1:
            raise ParameterError(
                f"a prepared store holds one crop per clip; crops must be 1, got {crops}"
            )
        info = cache.load_store(inputs)
        if info.frames != _INPUT[1]:
            raise ParameterError(
                f"{inputs} holds {info.frames} frames per clip; the pretrained networks "
                f"take {_INPUT[1]} (prepare without --frames)"
            )
        for start in range(0, info.n, batch_size):
            index = np.arange(start, min(start + batch_size, info.n))
            yield cache.read_melgrams(info.path, index), index
        return
    paths = expand_paths(inputs)
    pending: list[np.ndarray] = []
    owners: list[int] = []
    for row, path in enumerate(paths):
        try:
            x = audio.compute_melgrams(path, crops, resampler=resampler)
        except AudioError as err:
            if failures is None:
                raise
            failures.append((row, str(err)))
            continue
        pending.extend(x)
        owners.extend([row] * len(x))
        while len(pending) >= batch_size:
            yield np.stack(pending[:batch_size]), np.array(owners[:batch_size])
            pending, owners = pending[batch_size:], owners[batch_size:]
    if pending:
        yield np.stack(pending), np.array(owners)


def n_rows(inputs: Any) -> int:
    """How many feature rows :func:`features` returns for ``inputs``."""
    from ..datasets import cache
    from ..audio.files import expand_paths

    if isinstance(inputs, np.ndarray) and inputs.dtype.kind == "f":
        return len(inputs)
    if isinstance(inputs, list) and inputs and isinstance(inputs[0], np.ndarray):
        return len(inputs)
    if _is_store(inputs):
        return cache.load_store(inputs).n
    return len(expand_paths(inputs))


def features(
    inputs: Any,
    *,
    arch: str = "crnn",
    level: str = "multi",
    bn_semantics: str | None = None,
    crops: int = 1,
    resampler: str = KAISER_BEST_2016,
    batch_size: int = 8,
    progress: bool = False,
) -> np.ndarray:
    """Pretrained features of audio files, folders, a prepared store or spectrograms.

    Parameters
    ----------
    inputs : path, sequence of paths, or array
        Audio files and folders (searched recursively, as by ``music-tagger tag``);
        a store of :func:`music_tagger.datasets.cache.prepare` (``.h5``, one row per clip);
        or log-mel spectrograms of shape ``(n, 96, 1366)`` (or ``(..., 1)``).
    arch : {"crnn", "cnn"}
        The MSD-pretrained CRNN or CNN.
    level : {"multi", "top"}
        Multi-level (every conv block averaged, plus the CRNN's last GRU state) or
        the last layer only (see the module docstring).
    bn_semantics : {None, "variance", "std_keras106"}
        CRNN only: the BatchNorm reading (None: as published, see
        :func:`music_tagger.models.builders.CRNN`).
    crops : int
        Audio files only: average the features of this many 29.12 s crops spread over
        the track (1: the centre crop, as the original did).
    resampler : {"kaiser_best_2016", "soxr_hq"}
        Audio files only (prepared stores keep their own).
    batch_size : int
        Spectrograms per network call.
    progress : bool
        Show a progress bar.

    Returns
    -------
    np.ndarray, shape (n_rows, dims), float32
        One row per file, store clip or spectrogram, in order.

    Raises
    ------
    ValueError
        A bad option, an array of the wrong shape, a store of the wrong length.
    music_tagger.audio.AudioError
        An audio file is missing or unreadable (the message names it).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((2, 96, 1366), "float32")
    >>> features(x, level="top").shape                   # doctest: +SKIP
    (2, 32)
    """
    _check_options(arch, level, bn_semantics, crops)
    model = feature_model(arch, level, bn_semantics)
    desc = f"features {arch}/{level}"
    return run_model(model, inputs, crops=crops, resampler=resampler, batch_size=batch_size,
                     progress=progress, desc=desc)[0]  # fmt: skip


def run_model(
    model,
    inputs: Any,
    *,
    crops: int = 1,
    resampler: str = KAISER_BEST_2016,
    batch_size: int = 8,
    progress: bool = False,
    desc: str = "clips",
    failures: list | None = None,
) -> list[np.ndarray]:
    """Every output of ``model`` for each input row (averaged over its crops).

    The engine of :func:`features`, for any model on the ``(96, 1366, 1)`` melgram
    (e.g. one with several outputs). ``inputs`` as for :func:`features`; with a
    ``failures`` list, unreadable audio files are added to it as ``(row, message)``
    and their rows are NaN.

    Returns
    -------
    list of np.ndarray, float32
        One array per model output, each ``(n_rows,) + output_shape[1:]``.
    """
    from tqdm.auto import tqdm

    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ParameterError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    shapes = [tuple(t.shape[1:]) for t in model.outputs]
    total = n_rows(inputs)
    sums = [np.zeros((total,) + shape, np.float64) for shape in shapes]
    counts = np.zeros(total, np.int64)
    with tqdm(total=total, desc=desc, unit="clip", disable=not progress) as bar:
        for x, owner in _batches(inputs, crops, resampler, batch_size, failures):
            n = len(x)  # pad to a full batch: one traced shape for every call
            x = np.concatenate([x, np.zeros((batch_size - n,) + x.shape[1:], x.dtype)])
            outs = model.predict_on_batch(x[..., None])
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
            for total_sum, out in zip(sums, outs):
                np.add.at(total_sum, owner, np.asarray(out[:n], dtype=np.float64))
            np.add.at(counts, owner, 1)
            bar.update(np.count_nonzero(counts) - bar.n)
    with np.errstate(invalid="ignore"):  # 0 / 0: the rows of unreadable files are NaN
        return [(s / counts.reshape((total,) + (1,) * (s.ndim - 1))).astype(np.float32) for s in sums]


def file_features(paths: Any, *, arch: str = "crnn", level: str = "multi", bn_semantics: str | None = None,
                  crops: int = 1, **options: Any) -> tuple[np.ndarray, list[str], list[tuple[str, str]]]:
    """:func:`features` of the audio files among ``paths`` that can be read, and the others.

    As ``music-tagger tag`` does, an unreadable file (missing, not audio) does not
    stop the rest: it is left out and reported. ``paths``: audio files and folders
    (searched recursively); the options as for :func:`features`.

    Returns
    -------
    x : np.ndarray, shape (n_read, dims), float32
        One row per file read, in order.
    read : list of str
        Those files.
    failed : list of (str, str)
        ``(path, message)`` of each file that could not be read.

    Examples
    --------
    >>> x, read, failed = file_features(["a.mp3", "missing.mp3"])     # doctest: +SKIP
    >>> read, failed                                                  # doctest: +SKIP
    (['a.mp3'], [('missing.mp3', 'missing.mp3: no such file')])
    """
    from ..audio.files import expand_paths

    paths = expand_paths(paths)
    _check_options(arch, level, bn_semantics, crops)
    failures: list[tuple[int, str]] = []
    model = feature_model(arch, level, bn_semantics)
    x = run_model(model, paths, crops=crops, failures=failures, desc=f"features {arch}/{level}", **options)[0]
    bad = dict(failures)
    keep = [row for row in range(len(paths)) if row not in bad]
    return x[keep], [paths[row] for row in keep], [(paths[row], message) for row, message in failures]


class FeatureExtractor(TransformerMixin, BaseEstimator):
    """:func:`features` as a scikit-learn transformer, to use in a ``Pipeline``.

    ``X`` is what :func:`features` takes: a sequence of audio paths (one row each)
    or an array of spectrograms ``(n, 96, 1366)``. ``fit`` learns nothing (the
    network is pretrained); it validates the options and loads the network.

    Parameters
    ----------
    arch, level, bn_semantics, crops, resampler, batch_size
        As for :func:`features`.

    Attributes
    ----------
    n_features_out_ : int
        Length of a feature vector.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> clf = make_pipeline(FeatureExtractor(level="top"), LogisticRegression())
    >>> clf.fit(train_paths, is_jazz).predict_proba(test_paths)   # doctest: +SKIP
    """

    def __init__(
        self,
        arch: str = "crnn",
        level: str = "multi",
        bn_semantics: str | None = None,
        crops: int = 1,
        resampler: str = KAISER_BEST_2016,
        batch_size: int = 8,
    ):
        self.arch = arch
        self.level = level
        self.bn_semantics = bn_semantics
        self.crops = crops
        self.resampler = resampler
        self.batch_size = batch_size

    def fit(self, X: Any = None, y: Any = None) -> "FeatureExtractor":
        """Validate the options and load the network; ``X`` and ``y`` are ignored."""
        _check_options(self.arch, self.level, self.bn_semantics, self.crops)
        if self.resampler not in audio.RESAMPLERS:
            raise ParameterError(f"resampler must be one of {audio.RESAMPLERS}, got {self.resampler!r}")
        model = feature_model(self.arch, self.level, self.bn_semantics)
        self.n_features_out_ = int(model.output_shape[-1])
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Features of ``X``: shape ``(n, n_features_out_)``."""
        if not hasattr(self, "n_features_out_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("call fit before transform (fit only loads the network)")
        if isinstance(X, (str, os.PathLike)) and not _is_store(X):
            raise ParameterError(
                "X must be a sequence of inputs (one row each), not a single path; "
                f"pass [{str(X)!r}]"
            )
        return features(
            X, arch=self.arch, level=self.level, bn_semantics=self.bn_semantics,
            crops=self.crops, resampler=self.resampler, batch_size=self.batch_size,
        )  # fmt: skip

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Column names, e.g. ``pool1_0`` ... ``gru2_31``."""
        return np.asarray(feature_names(self.arch, self.level), dtype=object)


