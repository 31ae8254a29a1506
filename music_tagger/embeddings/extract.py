"""The pretrained networks as feature extractors, for transfer learning.

Choi et al. (2017, "Transfer learning for music classification and regression
tasks") fed a classifier the global average of every conv layer's output maps,
concatenated (a "multi-level" feature), rather than the last layer alone. This
module gives both readings for the three MSD-pretrained networks, the CRNN, the CNN
and that paper's own compact convnet (:func:`music_tagger.models.builders.CompactCNN`,
raw 12 kHz audio in):

==========  =======================================================  =========
``level``   what a clip becomes                                      dims
==========  =======================================================  =========
``"top"``   the ``include_top=False`` output: CRNN last GRU state,   32 / 256
            CNN flattened last conv block, compact block 5's mean    / 32
``"multi"`` mean over frequency and time of each conv block's        480 / 736
            output (after ELU and pooling), concatenated; for the    / 160
            CRNN followed by the last GRU state
``"pool3"`` one block's mean (``"pool1"`` ... the network's last)    maps
==========  =======================================================  =========

(CRNN: 64 + 128 + 128 + 128 + 32 = 480; CNN: 32 + 128 + 128 + 192 + 256 = 736, its
last block being 1 x 1 already; compact: 5 x 32 = 160, the paper's "convnet
feature", block 1 first.) Dropout is off, BatchNorm uses the stored statistics (the
compact convnet: each clip's own, as the original ran it): a clip's features do not
depend on the other clips of its batch.

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
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from .. import audio
from ..audio import KAISER_BEST_2016
from ..errors import ParameterError
from ..util.checks import one_of, positive_int
from ..vocabulary import BN_READINGS, FEATURE_LEVELS, FEATURE_NETWORKS, LEVELS, MSD_NETWORKS
from . import inputs as inputs_

__all__ = [
    "ARCHS",
    "LEVELS",
    "FeatureExtractor",
    "feature_model",
    "feature_names",
    "features",
    "file_features",
]

#: builder (:mod:`music_tagger.models.builders`, the name in capitals) and BatchNorm
#: reading of each network (the compact convnet has none to read)
ARCHS = {
    **{name: (name.upper(), row.bn_reading) for name, row in MSD_NETWORKS.items()},
    "compact": ("CompactCNN", None),
}


def _check_options(arch: str, level: str, bn_semantics: str | None, crops: int) -> str:
    """Validate the shared options; returns the BatchNorm reading to use."""
    one_of(arch, "arch", FEATURE_NETWORKS)
    one_of(level, "level", FEATURE_LEVELS)  # a block beyond the network's: _check_pool
    positive_int(crops, "crops")
    default = ARCHS[arch][1]
    if bn_semantics is None:
        return default
    if arch == "compact":
        raise ParameterError(
            "the compact convnet normalises each clip by its own statistics (Keras 1 "
            f"BatchNorm mode 2) and stores none to read; bn_semantics must be None, got {bn_semantics!r}"
        )
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
    arch : {"crnn", "cnn", "compact"}
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
    if arch == "compact":  # every level from the full network: the five files share their blocks
        kwargs = {"conv_until": 4}
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
    outputs = [global_average(model.get_layer(name).output, f"gap_{name}") for name in pool_layers(model)]
    if has_recurrent_top(model):
        outputs.append(model.output)
    return outputs


@lru_cache(maxsize=8)
def feature_model(arch: str = "crnn", level: str = "multi", bn_semantics: str | None = None):
    """A Keras model from the melgram to the feature vector of ``arch`` at ``level``.

    Parameters
    ----------
    arch : {"crnn", "cnn", "compact"}
    level : {"multi", "top", "pool1", ...}
    bn_semantics : {None, "variance", "std_keras106"}
        CRNN only: how to read the MSD BatchNorm statistics (None: as published).

    Returns
    -------
    keras.Model
        Input ``(None, 96, 1366, 1)`` (compact: raw audio ``(None, 348000)``), output
        ``(None, dims)``.

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
    if level not in LEVELS:
        _check_pool(base, level)
        return keras.Model(base.input, global_average(base.get_layer(level).output, f"gap_{level}"),
                           name=f"{base.name}_{level}")  # fmt: skip
    merged = keras.layers.Concatenate(name="multi_level")(multi_level_outputs(base))
    return keras.Model(base.input, merged, name=f"{base.name}_multi_level")


def _check_pool(base, level: str) -> None:
    if level not in pool_layers(base):
        raise ParameterError(f"{base.name} has the blocks {', '.join(pool_layers(base))}; got level={level!r}")


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
    if level not in LEVELS:
        _check_pool(base, level)
        blocks = [(level, base.get_layer(level).output.shape[-1])]
    elif has_recurrent_top(base):
        blocks.append(([layer.name for layer in base.layers if layer.weights][-1], base.output_shape[-1]))
    elif level == "top":  # the CNN's "flatten", the compact convnet's "gap"
        blocks.append((base.layers[-1].name, base.output_shape[-1]))
    return [f"{name}_{j}" for name, dims in blocks for j in range(dims)]


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
    workers: int | None = None,
) -> np.ndarray:
    """Pretrained features of audio files, folders, a prepared store or spectrograms.

    Parameters
    ----------
    inputs : path, sequence of paths, or array
        Audio files and folders (searched recursively, as by ``music-tagger tag``);
        a store of :func:`music_tagger.datasets.cache.prepare` (``.h5``, one row per clip);
        or log-mel spectrograms of shape ``(n, 96, 1366)`` (or ``(..., 1)``); for the
        compact convnet, audio files or raw 12 kHz audio ``(n, 348000)``.
    arch : {"crnn", "cnn", "compact"}
        The MSD-pretrained CRNN, CNN or compact convnet.
    level : {"multi", "top", "pool1", ...}
        Multi-level (every conv block averaged, plus the CRNN's last GRU state),
        the last layer only, or one block's average (see the module docstring).
    bn_semantics : {None, "variance", "std_keras106"}
        CRNN only: the BatchNorm reading (None: as published, see
        :func:`music_tagger.models.builders.CRNN`).
    crops : int
        Audio files only: average the features of this many crops (29.12 s; compact:
        29 s) spread over the track (1: the centre crop).
    resampler : {"kaiser_best_2016", "soxr_hq"}
        Audio files only (prepared stores keep their own).
    batch_size : int
        Spectrograms per network call.
    progress : bool
        Show a progress bar.
    workers : int, optional
        Audio files (CRNN and CNN): processes reading audio, as for
        :func:`music_tagger.tag` (default: the cores this process may use; 0: this
        process).

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
                     progress=progress, desc=desc, workers=workers)[0]  # fmt: skip


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
    workers: int | None = None,
) -> list[np.ndarray]:
    """Every output of ``model`` for each input row (averaged over its crops).

    The engine of :func:`features`, for any model on the ``(96, 1366, 1)`` melgram
    (e.g. one with several outputs). ``inputs`` as for :func:`features`: audio
    files go through the tagging pipeline (:func:`music_tagger.tagging.pipeline.run`:
    worker processes read only the audio of the crops, memory bounded whatever
    the number of files); arrays and stores are batched here. With a
    ``failures`` list, unreadable audio files are added to it as ``(row, message)``
    and their rows are NaN.

    Returns
    -------
    list of np.ndarray, float32
        One array per model output, each ``(n_rows,) + output_shape[1:]``.

    Examples
    --------
    >>> run_model(feature_model("crnn", "top"), np.zeros((1, 96, 1366), "float32"))[0].shape  # doctest: +SKIP
    (1, 32)
    """
    batch_size = positive_int(batch_size, "batch_size")
    samples = model.input_shape[1] if len(model.input_shape) == 2 else None  # raw audio in
    if samples is None and not inputs_.is_array(inputs) and not inputs_.is_store(inputs):
        return _run_files(model, inputs, crops, resampler, batch_size, progress, desc, failures, workers)
    from tqdm.auto import tqdm

    shapes = [tuple(t.shape[1:]) for t in model.outputs]
    total = inputs_.n_rows(inputs)
    sums = [np.zeros((total,) + shape, np.float64) for shape in shapes]
    counts = np.zeros(total, np.int64)
    with tqdm(total=total, desc=desc, unit="clip", disable=not progress) as bar:
        for x, owner in inputs_.batches(inputs, crops, resampler, batch_size, failures, samples):
            n = len(x)  # pad to a full batch: one traced shape for every call
            x = np.concatenate([x, np.zeros((batch_size - n,) + x.shape[1:], x.dtype)])
            outs = model.predict_on_batch(x if samples else x[..., None])
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
            for total_sum, out in zip(sums, outs):
                np.add.at(total_sum, owner, np.asarray(out[:n], dtype=np.float64))
            np.add.at(counts, owner, 1)
            bar.update(np.count_nonzero(counts) - bar.n)
    with np.errstate(invalid="ignore"):  # 0 / 0: the rows of unreadable files are NaN
        return [(s / counts.reshape((total,) + (1,) * (s.ndim - 1))).astype(np.float32) for s in sums]


def _run_files(
    model,
    inputs: Any,
    crops: int,
    resampler: str,
    batch_size: int,
    progress: bool,
    desc: str,
    failures: list | None,
    workers: int | None,
) -> list[np.ndarray]:
    """:func:`run_model` on audio files and folders, through the tagging pipeline."""
    from tqdm.auto import tqdm

    from ..audio.files import expand_paths
    from ..errors import AudioError
    from ..tagging.pipeline import run

    paths = expand_paths(inputs)
    out = [np.full((len(paths),) + tuple(t.shape[1:]), np.nan, np.float32) for t in model.outputs]
    stream = run(paths, model, crops=crops, resampler=resampler, batch_size=batch_size, workers=workers)
    with tqdm(total=len(paths), desc=desc, unit="clip", disable=not progress) as bar:
        try:
            for r in stream:
                if r.error is not None and failures is None:
                    raise AudioError(r.error)
                if r.error is not None:
                    failures.append((r.index, r.error))
                else:
                    for rows, value in zip(out, r.outputs or [r.scores]):
                        rows[r.index] = value
                bar.update()
        finally:
            stream.close()  # stops the workers of a run left early
    return out


def file_features(
    paths: Any,
    *,
    arch: str = "crnn",
    level: str = "multi",
    bn_semantics: str | None = None,
    crops: int = 1,
    **options: Any,
) -> tuple[np.ndarray, list[str], list[tuple[str, str]]]:
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
    or an array of spectrograms ``(n, 96, 1366)`` (compact: raw audio ``(n, 348000)``). ``fit`` learns nothing (the
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
        if isinstance(X, (str, os.PathLike)) and not inputs_.is_store(X):
            raise ParameterError(f"X must be a sequence of inputs (one row each), not a single path; pass [{str(X)!r}]")
        return features(
            X, arch=self.arch, level=self.level, bn_semantics=self.bn_semantics,
            crops=self.crops, resampler=self.resampler, batch_size=self.batch_size,
        )  # fmt: skip

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Column names, e.g. ``pool1_0`` ... ``gru2_31``."""
        return np.asarray(feature_names(self.arch, self.level), dtype=object)
