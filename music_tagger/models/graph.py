"""The networks' graphs, block by block: the input, conv blocks, recurrent layers.

:func:`build_graph` lays out any of the four structures from its widths; the
builders of :mod:`music_tagger.models.builders` call it and load the weights.

Examples
--------
>>> from music_tagger.models.graph import build_graph   # doctest: +SKIP"""

from __future__ import annotations

from typing import Sequence

import keras
from keras import layers

from ..errors import ParameterError
from . import architectures, legacy


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


def build_graph(
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
    widths = architectures.check_widths(structure, architectures.resolve_widths(structure, n_params, widths))
    if not structure.n_rnn and (rnn != "gru" or bidirectional or rnn_units is not None):
        raise ParameterError(f"rnn, bidirectional and rnn_units apply to the crnn only, not {structure.name}")
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
    for i, (filters, kernel, pool) in enumerate(zip(conv_widths, structure.kernels, structure.pools), start=1):
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
