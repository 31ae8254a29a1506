"""The paper's four structures (k1c2, k2c1, k2c2, CRNN) as one parametrised builder.

Choi, Fazekas, Sandler and Cho (2016), "Convolutional Recurrent Neural Networks for
Music Classification", compare four structures on a 96 x 1366 log-mel input while
scaling only their widths. Each structure is described once, as data
(:data:`STRUCTURES`); :func:`build` turns a structure and its widths into a Keras
model; :data:`BUDGETS` holds the widths at the paper's five parameter budgets (0.1,
0.25, 0.5, 1 and 3 million trainable parameters) and :func:`table` their exact counts.
The original MusicTaggerCRNN and MusicTaggerCNN are the configurations
:data:`ORIGINAL_WIDTHS` ``["crnn"]`` and ``["k2c2"]``.

Builders in the style of ``keras.applications``, one per structure and sharing the
signature of :func:`music_tagger.CRNN`: :func:`K1C2`, :func:`K2C1`, :func:`K2C2`
(:func:`music_tagger.CRNN` is the fourth).

Layer names follow the original code (``bn_0_freq``, ``conv1``, ``bn1``, ...,
``gru1``, ``gru2``, ``output``) so that the original weights map onto them by name.

Examples
--------
>>> from music_tagger.architectures import build, count_params
>>> model = build("k1c2", n_params=100_000)              # doctest: +SKIP
>>> count_params(model)                                  # doctest: +SKIP
(99724, 100228)
"""
from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from typing import Sequence

import keras
from keras import layers

from . import legacy
from .weights import is_keras3_file

#: Shape of one log-mel input: 96 mel bands x 1366 frames x 1 channel.
INPUT_SHAPE = (96, 1366, 1)


@dataclass(frozen=True)
class Structure:
    """One of the paper's structures; ``widths`` are the sizes of its hidden layers.

    Attributes
    ----------
    kernels : tuple of (rows, cols)
        Kernel of each conv layer; ``rows=None`` spans every remaining mel band.
    pools : tuple of (rows, cols)
        Max-pooling after each conv layer.
    n_dense : int
        Fully-connected hidden layers after the conv blocks (k1c2, k2c1).
    n_rnn : int
        Recurrent layers after the conv blocks (CRNN).
    time_padding : int
        Zero frames added on each side of the time axis before the input BatchNorm.
    dropout : float
        Dropout after each conv block, during training only.
    """

    name: str
    kernels: tuple[tuple[int | None, int], ...]
    pools: tuple[tuple[int, int], ...]
    n_dense: int = 0
    n_rnn: int = 0
    time_padding: int = 0
    dropout: float = 0.1

    @property
    def n_conv(self) -> int:
        return len(self.kernels)

    @property
    def n_widths(self) -> int:
        return self.n_conv + self.n_dense + min(self.n_rnn, 1)


#: The four structures of the paper (its Figure 1 and Table 1). Kernel and pooling
#: sizes of k2c2 and the CRNN are those of the released models; the k1c2 pooling is
#: recalled from the paper (a third-party re-implementation agrees); the k2c1 pooling
#: is our choice, made so that its time axis ends at one step like k1c2's
#: (1363 -> 340 -> 85 -> 21 -> 4 -> 1 frames).
STRUCTURES: dict[str, Structure] = {
    # 4 conv layers with 1D (1x4) kernels along time, pooling along time only
    # (1366 -> 341 -> 68 -> 8 -> 1 frames), so 96 bands x maps reach the dense layers.
    "k1c2": Structure(
        "k1c2", kernels=((1, 4),) * 4, pools=((1, 4), (1, 5), (1, 8), (1, 8)), n_dense=2
    ),
    # A first kernel over all 96 bands (96x4, 'valid'), then 1D convolutions along time.
    "k2c1": Structure(
        "k2c1",
        kernels=((None, 4),) + ((1, 4),) * 4,
        pools=((1, 4), (1, 4), (1, 4), (1, 5), (1, 4)),
        n_dense=2,
    ),
    # The fully convolutional 5-layer network (the original MusicTaggerCNN).
    "k2c2": Structure(
        "k2c2", kernels=((3, 3),) * 5, pools=((2, 4), (2, 4), (2, 4), (3, 5), (4, 4))
    ),
    # 4 conv layers and 2 GRUs on the zero-padded 1440-frame input (MusicTaggerCRNN).
    "crnn": Structure(
        "crnn",
        kernels=((3, 3),) * 4,
        pools=((2, 2), (3, 3), (4, 4), (4, 4)),
        n_rnn=2,
        time_padding=legacy.CRNN_TIME_PADDING,
    ),
}

#: Widths of the released models: MusicTaggerCRNN (conv maps, GRU units) and
#: MusicTaggerCNN (conv maps).
ORIGINAL_WIDTHS: dict[str, tuple[int, ...]] = {
    "crnn": (64, 128, 128, 128, 32),
    "k2c2": (32, 128, 128, 192, 256),
}


def _structure(arch: str) -> Structure:
    try:
        return STRUCTURES[arch.lower()]
    except KeyError:
        raise ValueError(
            f"unknown architecture {arch!r}; choose one of {', '.join(STRUCTURES)}"
        ) from None


def _check_widths(structure: Structure, widths: Sequence[int]) -> tuple[int, ...]:
    widths = tuple(int(w) for w in widths)
    if len(widths) != structure.n_widths or min(widths) < 1:
        raise ValueError(
            f"{structure.name} takes {structure.n_widths} positive widths "
            f"({structure.n_conv} conv layers"
            + (f", {structure.n_dense} dense layers" if structure.n_dense else "")
            + (", the recurrent units" if structure.n_rnn else "")
            + f"), got {widths}"
        )
    return widths


def _input_norm(input_norm: str | None, time_frames: int | None) -> str:
    """``"time"`` (the originals' per-frame BatchNorm) needs a fixed length."""
    if input_norm is None:
        return "time" if time_frames is not None else "freq"
    if input_norm not in ("time", "freq"):
        raise ValueError(f"input_norm must be 'time', 'freq' or None, got {input_norm!r}")
    if input_norm == "time" and time_frames is None:
        raise ValueError(
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
        raise ValueError(f"rnn must be 'gru' or 'lstm', got {rnn!r}")
    if bidirectional:
        return layers.Bidirectional(layer, name=name)
    layer.name = name
    return layer


def _input(input_tensor, input_shape: tuple):
    if input_tensor is None:
        return layers.Input(shape=input_shape, name="melgram")
    if not keras.backend.is_keras_tensor(input_tensor):
        raise ValueError(
            "input_tensor must be a Keras tensor (the output of keras.Input or a layer), "
            f"got {type(input_tensor).__name__}"
        )
    return input_tensor


def build(
    arch: str,
    n_params: int | None = None,
    widths: Sequence[int] | None = None,
    classes: int = 50,
    input_shape: tuple = INPUT_SHAPE,
    *,
    include_top: bool = True,
    input_tensor=None,
    rnn: str = "gru",
    bidirectional: bool = False,
    rnn_units: int | None = None,
    input_norm: str | None = None,
    dropout: float | None = None,
    name: str | None = None,
) -> keras.Model:
    """Build one of the paper's structures, randomly initialised.

    Parameters
    ----------
    arch : {"k1c2", "k2c1", "k2c2", "crnn"}
    n_params : {100_000, 250_000, 500_000, 1_000_000, 3_000_000}, optional
        A parameter budget of the paper: picks the widths of :data:`BUDGETS`, whose
        trainable count is within 2% of it (for the default ``input_shape``,
        ``input_norm``, ``rnn`` and ``bidirectional``). Without it (and without
        ``widths``) the released model's widths are used for k2c2 and crnn.
    widths : sequence of int, optional
        Explicit hidden-layer sizes (conv maps, then dense units or the recurrent
        units); overrides ``n_params``.
    classes : int
        Number of sigmoid outputs.
    input_shape : tuple
        ``(96, frames, 1)``; for the crnn ``frames=None`` accepts any length (needs
        ``input_norm='freq'``, chosen automatically).
    include_top : bool
        False drops the output layer: the model then returns its last hidden layer.
    input_tensor : keras tensor, optional
        Use this tensor as the model's input.
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
    name : str, optional
        The model's name.

    Returns
    -------
    keras.Model

    Examples
    --------
    >>> m = build("crnn", widths=(8, 8, 8, 8, 4), input_shape=(96, None, 1))  # doctest: +SKIP
    >>> m.output_shape                                                         # doctest: +SKIP
    (None, 50)
    >>> build("k2c1", n_params=250_000).output_shape                          # doctest: +SKIP
    (None, 50)
    """
    structure = _structure(arch)
    widths = _check_widths(structure, _resolve_widths(structure, n_params, widths))
    if not structure.n_rnn and (rnn != "gru" or bidirectional or rnn_units is not None):
        raise ValueError(
            f"rnn, bidirectional and rnn_units apply to the crnn only, not {structure.name}"
        )
    if rnn_units is not None:
        widths = widths[:-1] + (int(rnn_units),)
    if classes < 1:
        raise ValueError(f"classes must be positive, got {classes}")
    inputs = _input(input_tensor, tuple(input_shape))
    time_frames = inputs.shape[legacy.TIME_AXIS]
    if time_frames is None and not structure.n_rnn:
        raise ValueError(
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
        x = layers.Dense(classes, activation="sigmoid", name="output")(x)
    return keras.Model(inputs, x, name=name or structure.name)


def _resolve_widths(
    structure: Structure, n_params: int | None, widths: Sequence[int] | None
) -> Sequence[int]:
    if widths is not None:
        return widths
    if n_params is not None:
        return budget_widths(structure.name, n_params)
    if structure.name in ORIGINAL_WIDTHS:
        return ORIGINAL_WIDTHS[structure.name]
    raise ValueError(
        f"{structure.name} needs n_params (one of "
        f"{', '.join(str(b) for b in sorted(BUDGETS[structure.name]))}) or widths"
    )


#: Hidden-layer widths per structure and parameter budget: conv maps, then dense
#: units (k1c2, k2c1) or GRU units (crnn). The k2c2 and crnn rows are the paper's
#: Table 1 as recalled (not checked against the PDF); each lands within 2% of its
#: budget, three within about 0.01%. The paper's k1c2 and k2c1 widths were not
#: available: their rows are *derived*, not the paper's, by :func:`derive_widths`
#: under the paper's rule (:data:`SCALING_RULE`). All counts are for the default
#: configuration (time-indexed input BatchNorm on 1366 frames, GRU, one direction):
#: e.g. ``input_norm="freq"`` removes 2 x (1440 - 96) = 2,688 trainable parameters
#: from a CRNN, which takes the 0.1M one 2.7% under its budget.
BUDGETS: dict[str, dict[int, tuple[int, ...]]] = {
    # derived: derive_widths("k1c2", budget), conv maps then dense units
    "k1c2": {
        100_000: (11, 23, 23, 34, 27, 27),
        250_000: (21, 42, 42, 63, 37, 37),
        500_000: (33, 66, 66, 99, 46, 46),
        1_000_000: (52, 103, 103, 155, 58, 58),
        3_000_000: (104, 208, 208, 313, 82, 82),
    },
    # derived: derive_widths("k2c1", budget), conv maps then dense units
    "k2c1": {
        100_000: (28, 56, 56, 85, 113, 43, 43),
        250_000: (47, 94, 94, 141, 187, 55, 55),
        500_000: (68, 136, 136, 204, 271, 66, 66),
        1_000_000: (98, 195, 195, 293, 390, 79, 79),
        3_000_000: (172, 344, 344, 516, 687, 105, 105),
    },
    "k2c2": {
        100_000: (20, 41, 41, 62, 83),
        250_000: (33, 66, 66, 100, 133),
        500_000: (47, 95, 95, 142, 190),
        1_000_000: (67, 135, 135, 203, 271),
        3_000_000: (118, 236, 236, 355, 473),
    },
    "crnn": {
        100_000: (30, 60, 60, 60, 30),
        250_000: (48, 96, 96, 96, 48),
        500_000: (68, 137, 137, 137, 68),
        1_000_000: (96, 195, 195, 195, 96),
        3_000_000: (169, 339, 339, 339, 169),
    },
}

#: The budgets may miss their count by this fraction (the paper's 2%).
BUDGET_TOLERANCE = 0.02

#: The paper's rule for scaling a structure: one factor ``s`` for all layers, the
#: layers next to the fixed 50-unit output scaled more gently. Per structure:
#: ``(conv ratios, dense bases)``; at scale ``s`` a conv layer has
#: ``round(ratio * s)`` maps and a dense layer ``round(base * sqrt(s))`` units. The
#: conv ratios are k2c2's 1:2:2:3:4 (Table 1); the dense base 8 is our choice.
SCALING_RULE: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "k1c2": ((1, 2, 2, 3), (8, 8)),
    "k2c1": ((1, 2, 2, 3, 4), (8, 8)),
}


def budget_widths(arch: str, n_params: int) -> tuple[int, ...]:
    """The widths of ``arch`` at one of the paper's parameter budgets.

    Examples
    --------
    >>> budget_widths("crnn", 100_000)
    (30, 60, 60, 60, 30)
    """
    table = BUDGETS.get(_structure(arch).name, {})
    if n_params not in table:
        raise ValueError(
            f"no widths for {arch} at n_params={n_params}; known budgets: "
            f"{', '.join(str(b) for b in sorted(table)) or 'none'}"
        )
    return table[n_params]


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


def scaled_widths(arch: str, scale: float) -> tuple[int, ...]:
    """Widths of ``arch`` at scale factor ``scale`` under :data:`SCALING_RULE`.

    Examples
    --------
    >>> scaled_widths("k1c2", 4.0)
    (4, 8, 8, 12, 16, 16)
    """
    if arch not in SCALING_RULE:
        raise ValueError(f"no scaling rule for {arch!r}; known: {', '.join(SCALING_RULE)}")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    conv, dense = SCALING_RULE[arch]
    return tuple(max(1, round(r * scale)) for r in conv) + tuple(
        max(1, round(b * math.sqrt(scale))) for b in dense
    )


def derive_widths(arch: str, n_params: int) -> tuple[int, ...]:
    """The widths under :data:`SCALING_RULE` whose trainable count is nearest ``n_params``.

    This is how the k1c2 and k2c1 rows of :data:`BUDGETS` were obtained. The count
    grows with the scale factor, so doubling it brackets the budget and a bisection
    on ``log(scale)`` finds the two width tuples around it; the nearer one wins.

    Examples
    --------
    >>> derive_widths("k1c2", 100_000)                   # doctest: +SKIP
    (11, 23, 23, 34, 27, 27)
    """
    counts: dict[tuple[int, ...], int] = {}

    def trainable(scale: float) -> int:
        widths = scaled_widths(arch, scale)
        if widths not in counts:
            counts[widths] = count_params(build(arch, widths=widths))[0]
        return counts[widths]

    if n_params <= trainable(1e-3):
        raise ValueError(f"n_params={n_params} is below the smallest {arch}")
    low, high = 1e-3, 1.0
    while trainable(high) < n_params:  # bracket without building huge models
        low, high = high, 2 * high
    for _ in range(40):
        mid = math.sqrt(low * high)
        low, high = (mid, high) if trainable(mid) < n_params else (low, mid)
    candidates = (scaled_widths(arch, low), scaled_widths(arch, high))
    return min(candidates, key=lambda w: abs(counts[w] - n_params))


@functools.lru_cache(maxsize=1)
def _table() -> tuple[tuple, ...]:
    rows = []
    for arch in STRUCTURES:
        for budget, widths in sorted(BUDGETS[arch].items()):
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
        (``trainable / budget``, within :data:`BUDGET_TOLERANCE` of 1).

    Examples
    --------
    >>> table()[0]                                       # doctest: +SKIP
    {'arch': 'k1c2', 'budget': 100000, 'widths': (11, 23, 23, 34, 27, 27), ...}
    """
    keys = ("arch", "budget", "widths", "trainable", "total", "ratio")
    return [dict(zip(keys, row)) for row in _table()]


def _build_with_weights(
    arch: str, weights, include_top: bool, input_tensor, classes: int, **kwargs
) -> keras.Model:
    """Build ``arch`` and load a Keras 3 weight file into it (K1C2 and K2C1)."""
    if weights is not None and not (
        is_keras3_file(weights) and os.path.isfile(weights)
    ):
        raise ValueError(
            f"{arch} has no pretrained weights: weights must be None (random "
            "initialisation) or the path to an existing Keras 3 .keras / .weights.h5 "
            f"file; got {weights!r}"
        )
    model = build(
        arch, classes=classes, include_top=include_top, input_tensor=input_tensor, **kwargs
    )
    if weights is not None:
        model.load_weights(str(weights))
    return model


def K1C2(
    weights: str | os.PathLike | None = None,
    include_top: bool = True,
    input_tensor=None,
    classes: int = 50,
    *,
    input_shape: tuple = INPUT_SHAPE,
    n_params: int | None = None,
    widths: Sequence[int] | None = None,
    input_norm: str | None = None,
) -> keras.Model:
    """k1c2: 4 conv layers with 1x4 kernels along time, then 2 dense layers.

    Parameters
    ----------
    weights : None or path
        None: random initialisation; a path: a Keras 3 ``.keras`` or ``.weights.h5``
        file saved from the same configuration.
    include_top : bool
        False returns the output of the second dense layer.
    input_tensor : keras tensor, optional
    classes : int
        Sigmoid outputs of the top layer.
    input_shape, n_params, widths, input_norm
        See :func:`build`; one of ``n_params`` and ``widths`` is needed (the k1c2
        budget widths are derived by the paper's rule, not the paper's own).

    Returns
    -------
    keras.Model

    Examples
    --------
    >>> K1C2(n_params=500_000).output_shape              # doctest: +SKIP
    (None, 50)
    """
    return _build_with_weights(
        "k1c2", weights, include_top, input_tensor, classes, input_shape=input_shape,
        n_params=n_params, widths=widths, input_norm=input_norm,
    )


def K2C1(
    weights: str | os.PathLike | None = None,
    include_top: bool = True,
    input_tensor=None,
    classes: int = 50,
    *,
    input_shape: tuple = INPUT_SHAPE,
    n_params: int | None = None,
    widths: Sequence[int] | None = None,
    input_norm: str | None = None,
) -> keras.Model:
    """k2c1: a 96x4 conv layer over all mel bands, 4 conv layers along time, 2 dense.

    Parameters
    ----------
    weights, include_top, input_tensor, classes, input_shape, n_params, widths, input_norm
        As for :func:`K1C2` (the k2c1 budget widths are derived too).

    Returns
    -------
    keras.Model

    Examples
    --------
    >>> K2C1(n_params=100_000, include_top=False).output_shape   # doctest: +SKIP
    (None, 43)
    """
    return _build_with_weights(
        "k2c1", weights, include_top, input_tensor, classes, input_shape=input_shape,
        n_params=n_params, widths=widths, input_norm=input_norm,
    )


def K2C2(
    weights: str | os.PathLike | None = None,
    include_top: bool = True,
    input_tensor=None,
    classes: int = 50,
    *,
    input_shape: tuple = INPUT_SHAPE,
    n_params: int | None = None,
    widths: Sequence[int] | None = None,
    input_norm: str | None = None,
) -> keras.Model:
    """k2c2: the fully convolutional 5-layer 3x3 network of MusicTaggerCNN.

    :func:`music_tagger.CNN` with random initialisation by default: without
    ``n_params`` and ``widths`` this is MusicTaggerCNN (32-128-128-192-256 maps), and
    ``weights="msd"`` loads its released weights.

    Parameters
    ----------
    weights : None, "msd" or path
        As for :func:`music_tagger.CNN`.
    include_top, input_tensor, classes, input_shape, n_params, widths, input_norm
        As for :func:`K1C2`.

    Returns
    -------
    keras.Model

    Examples
    --------
    >>> K2C2(n_params=1_000_000).output_shape            # doctest: +SKIP
    (None, 50)
    """
    from .models import CNN  # models builds on this module

    return CNN(
        weights, include_top, input_tensor, classes, input_shape=input_shape,
        n_params=n_params, widths=widths, input_norm=input_norm,
    )
