"""Keras models of the paper's structures, built in the style of ``keras.applications``.

Six public builders, one per architecture plus :func:`build` (any structure by
name), share keras.applications' parameters in its order and with the same defaults
(``include_top, weights, input_tensor, input_shape, classes, classifier_activation,
name``), then keyword-only architecture options; all of them go through one private
factory, :func:`_application`, which checks the weights, builds the graph and loads
the weights under one rule:

- ``weights=None``: random initialisation;
- ``weights="msd"``: the original Million Song Dataset weights (CRNN and the k2c2
  CNN only, in their released configuration), resolved by
  :func:`music_tagger.registry.get_file` and read by
  :func:`music_tagger.legacy.load_legacy_weights`;
- a path: a Keras 3 ``.keras`` / ``.weights.h5`` file, or (CRNN and k2c2) an
  original Keras 1 HDF5 file.

keras.applications' ``pooling`` is left out: every network here already ends in a
vector (the last GRU's output, or the flattened and dense layers, or k2c2's 1 x 1
maps), so there is nothing to pool.

=================  =============================================================
builder            network
=================  =============================================================
:func:`CRNN`       MusicTaggerCRNN: 4 conv layers and 2 GRUs (weights="msd")
:func:`CNN`        MusicTaggerCNN: the 5-layer k2c2 network (weights="msd")
:func:`K2C2`       the same k2c2 network, randomly initialised by default
:func:`K1C2`       4 conv layers with 1 x 4 kernels along time, 2 dense layers
:func:`K2C1`       a conv layer over all mel bands, 4 along time, 2 dense layers
:func:`build`      any of the four structures by name
=================  =============================================================

Layer names follow the original code (``bn_0_freq``, ``conv1``, ``bn1``, ...,
``gru1``, ``gru2``, ``output``) so that the original weights map onto them by name.

Examples
--------
>>> from music_tagger import CRNN, compute_melgram, decode_predictions, example
>>> model = CRNN(weights="msd")                              # doctest: +SKIP
>>> x = compute_melgram(example("bensound-cute"))            # doctest: +SKIP
>>> decode_predictions(model.predict(x[None, ..., None]), top_n=2)  # doctest: +SKIP
[[('jazz', 0.444), ('instrumental', 0.151)]]
>>> from music_tagger.models import build, count_params
>>> count_params(build("k1c2", n_params=100_000))          # doctest: +SKIP
(99724, 100228)
"""
from __future__ import annotations

import functools
import math
import os
from typing import Sequence

import keras
from keras import layers

from . import architectures, legacy
from .errors import ParameterError
from .registry import get_file

#: For each structure with released weights: registry keys of its MSD weights (by
#: variant) and how the file's BatchNorm statistics must be read.
_MSD = {
    "crnn": ({"theano": "crnn_msd_theano", "tensorflow": "crnn_msd_tensorflow"}, "variance"),
    "k2c2": ({"theano": "cnn_msd_theano", "tensorflow": "cnn_msd_tensorflow"}, "std_keras106"),
}
_N_MSD_TAGS = 50

def _input_norm(input_norm: str | None, time_frames: int | None) -> str:
    """``"time"`` (the originals' per-frame BatchNorm) needs a fixed length."""
    if input_norm is None:
        return "time" if time_frames is not None else "freq"
    if input_norm not in ("time", "freq"):
        raise ParameterError(f"input_norm must be 'time', 'freq' or None, got {input_norm!r}")
    if input_norm == "time" and time_frames is None:
        raise ParameterError(
            "input_norm='time' normalises each time index and needs a fixed number of "
            "frames; use input_norm='freq' with a variable-length input"
        )
    return input_norm


def _conv_block(x, index: int, filters: int, kernel, pool, dropout: float):
    rows, cols = kernel
    padding = "same"
    if rows is None:  # a kernel over all remaining bands: the maps become 1D
        rows, padding = x.shape[1], "valid"
    x = layers.Conv2D(filters, (rows, cols), padding=padding, name=f"conv{index}")(x)
    x = layers.BatchNormalization(axis=-1, epsilon=legacy.BN_EPSILON, name=f"bn{index}")(x)
    x = layers.ELU(name=f"elu{index}")(x)
    x = layers.MaxPooling2D(pool, name=f"pool{index}")(x)
    if dropout:
        x = layers.Dropout(dropout, name=f"dropout{index}")(x)
    return x


def _recurrent(rnn: str, units: int, return_sequences: bool, bidirectional: bool, name: str):
    kwargs = dict(
        return_sequences=return_sequences,
        recurrent_activation=legacy.keras1_hard_sigmoid,
    )
    if rnn == "gru":
        layer = layers.GRU(units, reset_after=legacy.GRU_RESET_AFTER, **kwargs)
    elif rnn == "lstm":
        layer = layers.LSTM(units, **kwargs)
    else:
        raise ParameterError(f"rnn must be 'gru' or 'lstm', got {rnn!r}")
    if bidirectional:
        return layers.Bidirectional(layer, name=name)
    layer.name = name
    return layer


def _input(input_tensor, input_shape: tuple):
    if input_tensor is None:
        return layers.Input(shape=input_shape, name="melgram")
    if not keras.backend.is_keras_tensor(input_tensor):
        raise ParameterError(
            "input_tensor must be a Keras tensor (the output of keras.Input or a layer), "
            f"got {type(input_tensor).__name__}"
        )
    return input_tensor


def _graph(
    arch: str,
    *,
    include_top: bool,
    input_tensor,
    input_shape: tuple | None,
    classes: int,
    classifier_activation: str | None,
    name: str,
    n_params: int | None = None,
    widths: Sequence[int] | None = None,
    rnn: str = "gru",
    bidirectional: bool = False,
    rnn_units: int | None = None,
    input_norm: str | None = None,
    dropout: float | None = None,
) -> keras.Model:
    """The randomly initialised Keras graph of one structure (see :func:`build`)."""
    structure = architectures.structure(arch)
    widths = architectures.check_widths(
        structure, architectures.resolve_widths(structure, n_params, widths)
    )
    if not structure.n_rnn and (rnn != "gru" or bidirectional or rnn_units is not None):
        raise ParameterError(
            f"rnn, bidirectional and rnn_units apply to the crnn only, not {structure.name}"
        )
    if rnn_units is not None:
        widths = widths[:-1] + (int(rnn_units),)
    if classes < 1:
        raise ParameterError(f"classes must be positive, got {classes}")
    inputs = _input(input_tensor, tuple(input_shape or architectures.INPUT_SHAPE))
    time_frames = inputs.shape[legacy.TIME_AXIS]
    if time_frames is None and not structure.n_rnn:
        raise ParameterError(
            f"{structure.name} flattens its last conv maps, which needs a fixed number of "
            "frames; only the crnn takes a variable-length input"
        )
    norm = _input_norm(input_norm, time_frames)
    dropout = structure.dropout if dropout is None else dropout

    x = inputs
    if structure.time_padding:
        pad = structure.time_padding
        x = layers.ZeroPadding2D(((0, 0), (pad, pad)), name="zeropadding")(x)
    axis = legacy.TIME_AXIS if norm == "time" else legacy.FREQ_AXIS
    x = layers.BatchNormalization(axis=axis, epsilon=legacy.BN_EPSILON, name="bn_0_freq")(x)
    conv_widths = widths[: structure.n_conv]
    for i, (filters, kernel, pool) in enumerate(
        zip(conv_widths, structure.kernels, structure.pools), start=1
    ):
        x = _conv_block(x, i, filters, kernel, pool, dropout)

    hidden = widths[structure.n_conv :]
    if structure.n_rnn:
        # (batch, freq, time, maps) -> (batch, time, freq * maps): one step per frame
        x = layers.Permute((2, 1, 3), name="to_sequence")(x)
        x = layers.Reshape((-1, x.shape[2] * x.shape[3]), name="reshape")(x)
        for i in range(1, structure.n_rnn + 1):
            last = i == structure.n_rnn
            x = _recurrent(rnn, hidden[0], not last, bidirectional, f"{rnn}{i}")(x)
        x = layers.Dropout(0.3, name="dropout_final")(x)
    else:
        x = layers.Flatten(name="flatten")(x)
        for i, units in enumerate(hidden, start=1):
            x = layers.Dense(units, name=f"fc{i}")(x)
            x = layers.BatchNormalization(epsilon=legacy.BN_EPSILON, name=f"bn_fc{i}")(x)
            x = layers.ELU(name=f"elu_fc{i}")(x)
            x = layers.Dropout(0.5, name=f"dropout_fc{i}")(x)
    if include_top:
        x = layers.Dense(classes, activation=classifier_activation, name="output")(x)
    return keras.Model(inputs, x, name=name)




def _is_released_configuration(arch: str, model: keras.Model, options: dict) -> bool:
    """Whether ``model`` has the configuration the original MSD weights fit."""
    widths = options.get("widths")
    original = architectures.ORIGINAL_WIDTHS[arch]
    return (
        options.get("n_params") is None
        and (widths is None or tuple(int(w) for w in widths) == original)
        and options.get("rnn", "gru") == "gru"
        and not options.get("bidirectional")
        and options.get("rnn_units") in (None, original[-1])
        and tuple(model.input_shape[1:]) == architectures.INPUT_SHAPE
        and model.get_layer("bn_0_freq").axis in ([legacy.TIME_AXIS], legacy.TIME_AXIS)
    )


def _check_weights(arch: str, weights, include_top: bool, classes: int) -> None:
    """Fail before building on weights that cannot be loaded (keras.applications' rule)."""
    pretrained = arch in _MSD
    if weights is None or (pretrained and weights == "msd"):
        if weights == "msd" and include_top and classes != _N_MSD_TAGS:
            raise ParameterError(
                f"weights='msd' with include_top=True has {_N_MSD_TAGS} classes, got "
                f"classes={classes}; use include_top=False and add your own output layer"
            )
        return
    is_file = isinstance(weights, (str, os.PathLike)) and os.path.isfile(weights)
    if pretrained and is_file:
        return
    if is_file and legacy.is_keras3_file(weights):
        return
    if pretrained:
        raise ParameterError(
            "weights must be None (random initialisation), 'msd' (pretrained on the "
            f"Million Song Dataset) or the path to a weight file; got {weights!r}"
        )
    raise ParameterError(
        f"{arch} has no pretrained weights: weights must be None (random "
        "initialisation) or the path to an existing Keras 3 .keras / .weights.h5 "
        f"file; got {weights!r}"
    )


def _load_weights(arch: str, model: keras.Model, weights, variant: str, options: dict) -> None:
    if weights is None:
        return
    if weights == "msd":
        if not _is_released_configuration(arch, model, options):
            raise ParameterError(
                f"weights='msd' exist only for the released {arch} (its original widths, "
                "a (96, 1366, 1) input and the time-indexed input BatchNorm); pass "
                "weights=None to build this configuration randomly initialised"
            )
        keys, semantics = _MSD[arch]
        if variant not in keys:
            raise ParameterError(f"variant must be 'theano' or 'tensorflow', got {variant!r}")
        legacy.load_legacy_weights(model, get_file("weights", keys[variant]), bn_semantics=semantics)
    elif legacy.is_keras3_file(weights):
        model.load_weights(str(weights))
    else:
        legacy.load_legacy_weights(model, weights, bn_semantics=_MSD[arch][1])


def _application(
    arch: str,
    *,
    include_top: bool,
    weights,
    input_tensor,
    input_shape: tuple | None,
    classes: int,
    classifier_activation: str | None,
    name: str | None,
    default_name: str,
    variant: str = "theano",
    **options,
) -> keras.Model:
    """The one factory behind every builder: check, build the graph, load the weights.

    Each builder passes its own arguments (``**locals()`` on entry), so a parameter
    added to a builder's signature reaches the graph without another list to keep.
    """
    structure = architectures.structure(arch)
    _check_weights(structure.name, weights, include_top, classes)
    model = _graph(
        structure.name,
        include_top=include_top,
        input_tensor=input_tensor,
        input_shape=input_shape,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name or default_name,
        **options,
    )
    _load_weights(structure.name, model, weights, variant, options)
    return model


def build(
    arch: str,
    include_top: bool = True,
    weights: str | os.PathLike | None = None,
    input_tensor=None,
    input_shape: tuple | None = None,
    classes: int = 50,
    classifier_activation: str | None = "sigmoid",
    name: str | None = None,
    *,
    n_params: int | None = None,
    widths: Sequence[int] | None = None,
    rnn: str = "gru",
    bidirectional: bool = False,
    rnn_units: int | None = None,
    input_norm: str | None = None,
    dropout: float | None = None,
    variant: str = "theano",
) -> keras.Model:
    """Build one of the paper's structures by name (randomly initialised by default).

    Parameters
    ----------
    arch : {"k1c2", "k2c1", "k2c2", "crnn"}
    include_top : bool
        False drops the output layer: the model then returns its last hidden layer
        (the features).
    weights : None, "msd" or path
        None: random initialisation; ``"msd"``: the original Million Song Dataset
        weights (CRNN and CNN); a path: a Keras 3 ``.keras`` / ``.weights.h5`` file
        saved from the same configuration (or, for CRNN and CNN, a Keras 1 file).
    input_tensor : keras tensor, optional
        Use this tensor as the model's input.
    input_shape : tuple, optional
        ``(96, frames, 1)``, default ``(96, 1366, 1)``; for the crnn ``frames=None``
        accepts any length (needs ``input_norm='freq'``, chosen automatically).
    classes : int
        Outputs of the top layer; 50 (the MSD tags) with ``weights="msd"``.
    classifier_activation : str or None
        Activation of the top layer (sigmoid: one independent score per tag).
    name : str, optional
        The model's name.
    n_params : {100_000, 250_000, 500_000, 1_000_000, 3_000_000}, optional
        A parameter budget of the paper: picks the widths of
        :data:`music_tagger.architectures.BUDGETS`, whose trainable count is within
        2% of it (for the default ``input_shape``, ``input_norm``, ``rnn`` and
        ``bidirectional``). Without it (and without ``widths``) the released model's
        widths are used for k2c2 and crnn.
    widths : sequence of int, optional
        Explicit hidden-layer sizes (conv maps, then dense units or the recurrent
        units); overrides ``n_params``.
    rnn : {"gru", "lstm"}
        Recurrent layer of the CRNN.
    bidirectional : bool
        Wrap the CRNN's recurrent layers in ``keras.layers.Bidirectional``.
    rnn_units : int, optional
        Overrides the recurrent width.
    input_norm : {"time", "freq"}, optional
        ``"time"`` normalises each frame index (what the original weights need;
        default for a fixed length), ``"freq"`` each mel band (default for a
        variable length).
    dropout : float, optional
        Dropout after each conv block (default: the structure's, 0.1 as in the paper).
    variant : {"theano", "tensorflow"}
        Which original file to read for ``weights="msd"`` (same outputs).

    Returns
    -------
    keras.Model
        Input ``(None, 96, frames, 1)``, output ``(None, classes)`` scores in the
        order of the training tags (:data:`music_tagger.TAGS` for the MSD weights).

    Examples
    --------
    >>> m = build("crnn", widths=(8, 8, 8, 8, 4), input_shape=(96, None, 1))  # doctest: +SKIP
    >>> m.output_shape                                                         # doctest: +SKIP
    (None, 50)
    >>> build("k2c1", n_params=250_000).output_shape                          # doctest: +SKIP
    (None, 50)
    """
    return _application(
        arch, include_top=include_top, weights=weights, input_tensor=input_tensor,
        input_shape=input_shape, classes=classes,
        classifier_activation=classifier_activation, name=name,
        default_name=architectures.structure(arch).name, variant=variant,
        n_params=n_params, widths=widths, rnn=rnn, bidirectional=bidirectional,
        rnn_units=rnn_units, input_norm=input_norm, dropout=dropout,
    )  # fmt: skip


def CRNN(
    include_top: bool = True, weights: str | os.PathLike | None = "msd", input_tensor=None,
    input_shape: tuple | None = None, classes: int = 50,
    classifier_activation: str | None = "sigmoid", name: str | None = None, *,
    n_params: int | None = None, widths: Sequence[int] | None = None, rnn: str = "gru",
    bidirectional: bool = False, rnn_units: int | None = None, input_norm: str | None = None,
    dropout: float | None = None, variant: str = "theano") -> keras.Model:
    """MusicTaggerCRNN: 4 conv layers and 2 GRUs on a 96 x 1366 log-mel input.

    Parameters
    ----------
    include_top, weights, input_tensor, input_shape, classes, classifier_activation, name
        As for :func:`build`; ``weights="msd"`` (the default) loads the original
        Million Song Dataset weights, which need the options' defaults.
    n_params, widths, rnn, bidirectional, rnn_units, input_norm, dropout, variant
        As for :func:`build`.

    Returns
    -------
    keras.Model
        Input ``(None, 96, 1366, 1)``, output ``(None, classes)`` sigmoid scores in the
        order of :data:`music_tagger.TAGS`; without the top, the 32-dim output of the
        last GRU.

    Examples
    --------
    >>> model = CRNN(weights="msd")                     # doctest: +SKIP
    >>> model.input_shape, model.output_shape          # doctest: +SKIP
    ((None, 96, 1366, 1), (None, 50))
    >>> CRNN(include_top=False).output_shape           # doctest: +SKIP
    (None, 32)
    """
    return _application("crnn", default_name="music_tagger_crnn", **locals())


def CNN(
    include_top: bool = True, weights: str | os.PathLike | None = "msd", input_tensor=None,
    input_shape: tuple | None = None, classes: int = 50,
    classifier_activation: str | None = "sigmoid", name: str | None = None, *,
    n_params: int | None = None, widths: Sequence[int] | None = None,
    input_norm: str | None = None, dropout: float | None = None, variant: str = "theano",
) -> keras.Model:
    """MusicTaggerCNN: the 5-layer k2c2 network (32-128-128-192-256 maps), pretrained.

    The released weights fit the earlier version of the original code (input
    BatchNorm over the time axis, no zero padding), trained under Keras 1.0.6, whose
    BatchNorm statistics are standard deviations. No scores were published for it;
    its 256-dim ``include_top=False`` output is the feature the original recommends.

    Parameters
    ----------
    include_top, weights, input_tensor, input_shape, classes, classifier_activation, name
        As for :func:`build`; ``weights="msd"`` (the default) loads the released
        weights.
    n_params, widths, input_norm, dropout, variant
        As for :func:`build`.

    Returns
    -------
    keras.Model
        Output ``(None, classes)`` scores; without the top, the 256 maps of conv5.

    Examples
    --------
    >>> CNN(include_top=False).output_shape             # doctest: +SKIP
    (None, 256)
    """
    return _application("k2c2", default_name="music_tagger_cnn", **locals())


def K2C2(
    include_top: bool = True, weights: str | os.PathLike | None = None, input_tensor=None,
    input_shape: tuple | None = None, classes: int = 50,
    classifier_activation: str | None = "sigmoid", name: str | None = None, *,
    n_params: int | None = None, widths: Sequence[int] | None = None,
    input_norm: str | None = None, dropout: float | None = None, variant: str = "theano",
) -> keras.Model:
    """k2c2: the fully convolutional 5-layer 3x3 network, randomly initialised by default.

    :func:`CNN` with ``weights=None`` by default: without ``n_params`` and ``widths``
    this is MusicTaggerCNN (32-128-128-192-256 maps), and ``weights="msd"`` loads its
    released weights.

    Parameters
    ----------
    include_top, weights, input_tensor, input_shape, classes, classifier_activation, name
        As for :func:`build`.
    n_params, widths, input_norm, dropout, variant
        As for :func:`build`.

    Returns
    -------
    keras.Model
        Randomly initialised unless ``weights`` is given; without the top, conv5's maps.

    Examples
    --------
    >>> K2C2(n_params=1_000_000).output_shape            # doctest: +SKIP
    (None, 50)
    """
    return _application("k2c2", default_name="music_tagger_cnn", **locals())


def K1C2(
    include_top: bool = True, weights: str | os.PathLike | None = None, input_tensor=None,
    input_shape: tuple | None = None, classes: int = 50,
    classifier_activation: str | None = "sigmoid", name: str | None = None, *,
    n_params: int | None = None, widths: Sequence[int] | None = None,
    input_norm: str | None = None, dropout: float | None = None) -> keras.Model:
    """k1c2: 4 conv layers with 1x4 kernels along time, then 2 dense layers.

    Parameters
    ----------
    include_top, weights, input_tensor, input_shape, classes, classifier_activation, name
        As for :func:`build` (no pretrained weights: None or a Keras 3 file).
    n_params, widths, input_norm, dropout
        As for :func:`build`; one of ``n_params`` and ``widths`` is needed (the k1c2
        budget widths are derived by the paper's rule, not the paper's own).

    Returns
    -------
    keras.Model
        Output ``(None, classes)``; without the top, the second dense layer.

    Examples
    --------
    >>> K1C2(n_params=500_000).output_shape              # doctest: +SKIP
    (None, 50)
    """
    return _application("k1c2", default_name="k1c2", **locals())


def K2C1(
    include_top: bool = True, weights: str | os.PathLike | None = None, input_tensor=None,
    input_shape: tuple | None = None, classes: int = 50,
    classifier_activation: str | None = "sigmoid", name: str | None = None, *,
    n_params: int | None = None, widths: Sequence[int] | None = None,
    input_norm: str | None = None, dropout: float | None = None) -> keras.Model:
    """k2c1: a 96x4 conv layer over all mel bands, 4 conv layers along time, 2 dense.

    Parameters
    ----------
    include_top, weights, input_tensor, input_shape, classes, classifier_activation, name
        As for :func:`build` (no pretrained weights: None or a Keras 3 file).
    n_params, widths, input_norm, dropout
        As for :func:`K1C2` (the k2c1 budget widths are derived too).

    Returns
    -------
    keras.Model
        As :func:`K1C2`: the second dense layer without the top.

    Examples
    --------
    >>> K2C1(n_params=100_000, include_top=False).output_shape   # doctest: +SKIP
    (None, 43)
    """
    return _application("k2c1", default_name="k2c1", **locals())


def count_params(model: keras.Model) -> tuple[int, int]:
    """``(trainable, total)`` parameters; the budgets count trainable ones.

    The total adds the BatchNorm moving statistics (and any frozen weights).

    Examples
    --------
    >>> count_params(build("crnn"))                      # doctest: +SKIP
    (396786, 400562)
    """
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    return int(trainable), int(model.count_params())


def derive_widths(arch: str, n_params: int) -> tuple[int, ...]:
    """The widths under the paper's scaling rule whose trainable count is nearest ``n_params``.

    The rule is :data:`music_tagger.architectures.SCALING_RULE`; this is how the k1c2
    and k2c1 rows of :data:`music_tagger.architectures.BUDGETS` were obtained. The count
    grows with the scale factor, so doubling it brackets the budget and a bisection
    on ``log(scale)`` finds the two width tuples around it; the nearer one wins.

    Examples
    --------
    >>> derive_widths("k1c2", 100_000)                   # doctest: +SKIP
    (11, 23, 23, 34, 27, 27)
    """
    counts: dict[tuple[int, ...], int] = {}

    def trainable(scale: float) -> int:
        widths = architectures.scaled_widths(arch, scale)
        if widths not in counts:
            counts[widths] = count_params(build(arch, widths=widths))[0]
        return counts[widths]

    if n_params <= trainable(1e-3):
        raise ParameterError(f"n_params={n_params} is below the smallest {arch}")
    low, high = 1e-3, 1.0
    while trainable(high) < n_params:  # bracket without building huge models
        low, high = high, 2 * high
    for _ in range(40):
        mid = math.sqrt(low * high)
        low, high = (mid, high) if trainable(mid) < n_params else (low, mid)
    candidates = (architectures.scaled_widths(arch, low), architectures.scaled_widths(arch, high))
    return min(candidates, key=lambda w: abs(counts[w] - n_params))


@functools.lru_cache(maxsize=1)
def _table() -> tuple[tuple, ...]:
    rows = []
    for arch in architectures.ARCHS:
        for budget, widths in sorted(architectures.BUDGETS[arch].items()):
            trainable, total = count_params(build(arch, widths=widths))
            rows.append((arch, budget, widths, trainable, total, trainable / budget))
    return tuple(rows)


def table() -> list[dict]:
    """All 20 budget configurations with their exact parameter counts.

    Builds each model once per process (about 20 x 0.2 s) and caches the counts.

    Returns
    -------
    list of dict
        One per (structure, budget), with keys ``arch``, ``budget``, ``widths``,
        ``trainable``, ``total`` (with BatchNorm moving statistics) and ``ratio``
        (``trainable / budget``, within
        :data:`music_tagger.architectures.BUDGET_TOLERANCE` of 1).

    Examples
    --------
    >>> table()[0]                                       # doctest: +SKIP
    {'arch': 'k1c2', 'budget': 100000, 'widths': (11, 23, 23, 34, 27, 27), ...}
    """
    keys = ("arch", "budget", "widths", "trainable", "total", "ratio")
    return [dict(zip(keys, row)) for row in _table()]
