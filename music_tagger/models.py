"""The pretrained taggers: ``CRNN`` (MusicTaggerCRNN) and ``CNN`` (MusicTaggerCNN).

Builders in the style of ``keras.applications``: one function per architecture with
the uniform arguments ``weights``, ``include_top``, ``input_tensor`` and ``classes``.
``weights="msd"`` loads the original Million Song Dataset weights (50 last.fm tags,
:data:`music_tagger.TAGS`), resolved by :func:`music_tagger.weights.get_file`.

Examples
--------
>>> from music_tagger import CRNN, compute_melgram, decode_predictions, example
>>> model = CRNN(weights="msd")                              # doctest: +SKIP
>>> x = compute_melgram(example("bensound-cute"))            # doctest: +SKIP
>>> decode_predictions(model.predict(x[None, ..., None]), top_n=2)  # doctest: +SKIP
[[('jazz', 0.444), ('instrumental', 0.151)]]
"""
from __future__ import annotations

import os
from typing import Sequence

import keras

from . import architectures, legacy, weights as weight_files

#: For each builder: registry keys of its MSD weights (by variant) and how the
#: file's BatchNorm statistics are read by default (the CRNN: as published).
_MSD = {
    "crnn": ({"theano": "crnn_msd_theano", "tensorflow": "crnn_msd_tensorflow"}, "variance"),
    "k2c2": ({"theano": "cnn_msd_theano", "tensorflow": "cnn_msd_tensorflow"}, "std_keras106"),
}
_N_MSD_TAGS = 50


def _same_widths(widths, original: tuple[int, ...]) -> bool:
    return widths is None or tuple(int(w) for w in widths) == original


def _load(
    model: keras.Model, arch: str, weights, variant: str, msd_ok: bool, semantics: str
) -> None:
    keys = _MSD[arch][0]
    if weights == "msd":
        if not msd_ok:
            raise ValueError(
                f"weights='msd' exist only for the released {arch} (its original widths, "
                "a (96, 1366, 1) input and the time-indexed input BatchNorm); pass "
                "weights=None to build this configuration randomly initialised"
            )
        if variant not in keys:
            raise ValueError(f"variant must be 'theano' or 'tensorflow', got {variant!r}")
        path = weight_files.get_file("weights", keys[variant])
        weight_files.load_legacy_weights(model, path, bn_semantics=semantics)
    elif weight_files.is_keras3_file(weights):
        model.load_weights(weights)
    else:
        weight_files.load_legacy_weights(model, weights, bn_semantics=semantics)


def _build_pretrainable(
    arch: str,
    weights,
    include_top: bool,
    input_tensor,
    classes: int,
    variant: str,
    bn_semantics: str | None = None,
    **kwargs,
) -> keras.Model:
    if not (weights in (None, "msd") or os.path.isfile(str(weights))):
        raise ValueError(
            "weights must be None (random initialisation), 'msd' (pretrained on the "
            f"Million Song Dataset) or the path to a weight file; got {weights!r}"
        )
    if weights == "msd" and include_top and classes != _N_MSD_TAGS:
        raise ValueError(
            f"weights='msd' with include_top=True has {_N_MSD_TAGS} classes, got "
            f"classes={classes}; use include_top=False and add your own output layer"
        )
    semantics = _MSD[arch][1] if bn_semantics is None else bn_semantics
    epsilon = legacy.bn_layer_epsilon(arch, semantics)  # validates semantics
    model = architectures.build(
        arch, classes=classes, include_top=include_top, input_tensor=input_tensor, **kwargs
    )
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.epsilon = epsilon  # read at call time, and saved with the config
    if weights is not None:
        msd_ok = (
            kwargs.get("n_params") is None
            and _same_widths(kwargs.get("widths"), architectures.ORIGINAL_WIDTHS[arch])
            and kwargs.get("rnn", "gru") == "gru"
            and not kwargs.get("bidirectional")
            and kwargs.get("rnn_units") in (None, architectures.ORIGINAL_WIDTHS[arch][-1])
            and tuple(model.input_shape[1:]) == architectures.INPUT_SHAPE
            and model.get_layer("bn_0_freq").axis in ([legacy.TIME_AXIS], legacy.TIME_AXIS)
        )
        _load(model, arch, weights, variant, msd_ok, semantics)
    return model


def CRNN(
    weights: str | os.PathLike | None = "msd",
    include_top: bool = True,
    input_tensor=None,
    classes: int = 50,
    *,
    input_shape: tuple = architectures.INPUT_SHAPE,
    n_params: int | None = None,
    widths: Sequence[int] | None = None,
    rnn: str = "gru",
    bidirectional: bool = False,
    rnn_units: int | None = None,
    input_norm: str | None = None,
    variant: str = "theano",
    bn_semantics: str = "variance",
) -> keras.Model:
    """MusicTaggerCRNN: 4 conv layers and 2 GRUs on a 96 x 1366 log-mel input.

    Parameters
    ----------
    weights : None, "msd" or path
        ``"msd"``: the original Million Song Dataset weights; a path: an original
        Keras 1 HDF5 file, or a Keras 3 ``.keras`` / ``.weights.h5`` file.
    include_top : bool
        False returns the 32-dim output of the last GRU (the features).
    input_tensor : keras tensor, optional
    classes : int
        Outputs of the top layer; must be 50 with ``weights="msd"``.
    input_shape, n_params, widths, rnn, bidirectional, rnn_units, input_norm
        See :func:`music_tagger.architectures.build`; the MSD weights need the
        defaults.
    variant : {"theano", "tensorflow"}
        Which original file to read for ``weights="msd"`` (same outputs).
    bn_semantics : {"variance", "std_keras106"}
        How to read the BatchNorm statistics of a Keras 1 file. ``"variance"``
        (default, faithful) is the reading under which the original published its
        scores. ``"std_keras106"`` is the reading of Keras 1.0.6, under which the
        weights were trained (``running_std`` holds a standard deviation); every
        BatchNorm layer then gets epsilon
        :data:`music_tagger.legacy.KERAS106_LAYER_EPSILON`. It gives other scores
        than the published ones; see the README's transfer section for what each
        reading is worth as a starting point for transfer.

    Returns
    -------
    keras.Model
        Input ``(None, 96, 1366, 1)``, output ``(None, classes)`` sigmoid scores in the
        order of :data:`music_tagger.TAGS`.

    Examples
    --------
    >>> model = CRNN(weights="msd")                     # doctest: +SKIP
    >>> model.input_shape, model.output_shape          # doctest: +SKIP
    ((None, 96, 1366, 1), (None, 50))
    >>> CRNN(weights="msd", include_top=False).output_shape   # doctest: +SKIP
    (None, 32)
    >>> as_trained = CRNN(weights="msd", bn_semantics="std_keras106")   # doctest: +SKIP
    """
    return _build_pretrainable(
        "crnn",
        weights,
        include_top,
        input_tensor,
        classes,
        variant,
        bn_semantics,
        input_shape=input_shape,
        n_params=n_params,
        widths=widths,
        rnn=rnn,
        bidirectional=bidirectional,
        rnn_units=rnn_units,
        input_norm=input_norm,
        name="music_tagger_crnn",
    )


def CNN(
    weights: str | os.PathLike | None = "msd",
    include_top: bool = True,
    input_tensor=None,
    classes: int = 50,
    *,
    input_shape: tuple = architectures.INPUT_SHAPE,
    n_params: int | None = None,
    widths: Sequence[int] | None = None,
    input_norm: str | None = None,
    variant: str = "theano",
) -> keras.Model:
    """MusicTaggerCNN: the 5-layer k2c2 network (32-128-128-192-256 maps).

    The released weights fit the earlier version of the original code (input
    BatchNorm over the time axis, no zero padding), trained under Keras 1.0.6, whose
    BatchNorm statistics are standard deviations. No scores were published for it;
    its 256-dim ``include_top=False`` output is the feature the original recommends.

    Parameters
    ----------
    weights, include_top, input_tensor, classes, variant
        As for :func:`CRNN`.
    input_shape, n_params, widths, input_norm
        See :func:`music_tagger.architectures.build`.

    Returns
    -------
    keras.Model

    Examples
    --------
    >>> CNN(weights="msd", include_top=False).output_shape   # doctest: +SKIP
    (None, 256)
    """
    return _build_pretrainable(
        "k2c2",
        weights,
        include_top,
        input_tensor,
        classes,
        variant,
        input_shape=input_shape,
        n_params=n_params,
        widths=widths,
        input_norm=input_norm,
        name="music_tagger_cnn",
    )
