"""Keras models of the paper's structures, built in the style of ``keras.applications``.

Seven public builders, one per architecture plus :func:`build` (any structure by
name), share keras.applications' parameters in its order and with the same defaults
(``include_top, weights, input_tensor, input_shape, classes, classifier_activation,
name``), then keyword-only architecture options; all of them go through one private
factory, :func:`_application`, which checks the weights, builds the graph and loads
the weights under one rule:

- ``weights=None``: random initialisation;
- ``weights="msd"``: the original Million Song Dataset weights (CRNN and the k2c2
  CNN only, in their released configuration), resolved by
  :func:`music_tagger.registry.get_file` and read by
  :func:`music_tagger.models.legacy.load_legacy_weights`;
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
:func:`CompactCNN` the compact convnet of 2017 on raw audio (weights="msd")
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
>>> from music_tagger.models.budgets import count_params
>>> from music_tagger.models.builders import build
>>> count_params(build("k1c2", n_params=100_000))          # doctest: +SKIP
(99724, 100228)
"""

from __future__ import annotations

import os
from typing import Sequence

import keras
from keras import layers

from ..vocabulary import BN_PUBLISHED
from . import architectures, compact, legacy
from .graph import build_graph
from .loading import MSD_FILES, check_weights, load_weights


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
    if arch == "compact":  # raw audio in: its own graph, files and weight rule
        return compact.application(
            include_top=include_top, weights=weights, input_tensor=input_tensor,
            input_shape=input_shape, classes=classes, classifier_activation=classifier_activation,
            name=name or default_name, **options,
        )  # fmt: skip
    structure = architectures.structure(arch)
    check_weights(structure.name, weights, include_top, classes)
    bn_semantics = options.pop("bn_semantics", None)
    released = MSD_FILES.get(structure.name)
    semantics = (released.bn_reading if released else BN_PUBLISHED) if bn_semantics is None else bn_semantics
    epsilon = legacy.bn_layer_epsilon(structure.name, semantics)  # validates semantics
    model = build_graph(
        structure.name,
        include_top=include_top,
        input_tensor=input_tensor,
        input_shape=input_shape,
        classes=classes,
        classifier_activation=classifier_activation,
        name=name or default_name,
        **options,
    )
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.epsilon = epsilon  # read at call time, and saved with the config
    load_weights(structure.name, model, weights, variant, options, semantics)
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
        :data:`music_tagger.models.architectures.BUDGETS`, whose trainable count is within
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
    include_top: bool = True,
    weights: str | os.PathLike | None = "msd",
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
    bn_semantics: str = BN_PUBLISHED,
) -> keras.Model:
    """MusicTaggerCRNN: 4 conv layers and 2 GRUs on a 96 x 1366 log-mel input.

    Parameters
    ----------
    include_top, weights, input_tensor, input_shape, classes, classifier_activation, name
        As for :func:`build`; ``weights="msd"`` (the default) loads the original
        Million Song Dataset weights, which need the options' defaults.
    n_params, widths, rnn, bidirectional, rnn_units, input_norm, dropout, variant
        As for :func:`build`.
    bn_semantics : {"variance", "std_keras106"}
        How to read the BatchNorm statistics of a Keras 1 file. ``"variance"``
        (default, faithful) is the reading under which the original published its
        scores. ``"std_keras106"`` is the reading of Keras 1.0.6, under which the
        weights were trained (``running_std`` holds a standard deviation); every
        BatchNorm layer then gets epsilon
        :data:`music_tagger.models.legacy.KERAS106_LAYER_EPSILON`. It gives other scores
        than the published ones; docs/transfer.md measures what each
        reading is worth as a starting point for transfer.

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
    include_top: bool = True,
    weights: str | os.PathLike | None = "msd",
    input_tensor=None,
    input_shape: tuple | None = None,
    classes: int = 50,
    classifier_activation: str | None = "sigmoid",
    name: str | None = None,
    *,
    n_params: int | None = None,
    widths: Sequence[int] | None = None,
    input_norm: str | None = None,
    dropout: float | None = None,
    variant: str = "theano",
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
    input_norm: str | None = None,
    dropout: float | None = None,
    variant: str = "theano",
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
    input_norm: str | None = None,
    dropout: float | None = None,
) -> keras.Model:
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
    input_norm: str | None = None,
    dropout: float | None = None,
) -> keras.Model:
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


def CompactCNN(
    include_top: bool = False,
    weights: str | os.PathLike | None = "msd",
    input_tensor=None,
    input_shape: tuple | None = None,
    classes: int = 50,
    classifier_activation: str | None = "sigmoid",
    name: str | None = None,
    *,
    conv_until: int = 4,
) -> keras.Model:
    """The compact convnet of Choi et al. (2017): raw 12 kHz audio in, a 32-d feature out.

    A kapre mel spectrogram inside the graph (built from the released STFT kernels and
    filterbank), then blocks 1 to ``conv_until + 1`` of conv 3x3 (32 maps) -
    BatchNorm - ELU - max-pool, then the mean of the last maps; see
    :mod:`music_tagger.models.compact` and docs/compact.md. The released files hold no
    tag layer, so ``include_top`` defaults to False, and True needs ``weights=None``
    (or a Keras 3 file trained with a top).

    Parameters
    ----------
    include_top : bool
        Add a ``Dense(classes, classifier_activation)`` output layer.
    weights : None, "msd" or path
        ``"msd"``: the released Million Song Dataset feature extractor of
        ``conv_until`` (one registry file per level); a path: a Keras 3 file or an
        original ``weights_layerN_tensorflow.hdf5``; None: random initialisation.
    input_tensor : keras tensor, optional
        Raw audio ``(batch, n)`` to use as the input.
    input_shape : tuple, optional
        ``(n,)``, default ``(348000,)`` (29 s at 12 kHz); ``n`` must leave at least one
        frame after the last pooling (:func:`music_tagger.models.compact.min_samples`).
    classes, classifier_activation, name
        As for :func:`build`.
    conv_until : {0, 1, 2, 3, 4}
        The last block is ``conv_until + 1`` (the original's ``conv_until``).

    Returns
    -------
    keras.Model
        Input ``(None, n)`` raw audio at 12 kHz, output ``(None, 32)`` (or
        ``(None, classes)`` with the top). A clip's output does not depend on the other
        clips of its batch (BatchNorm and decibels per clip, as the original ran it).

    Examples
    --------
    >>> model = CompactCNN(conv_until=4)                  # doctest: +SKIP
    >>> model.input_shape, model.output_shape            # doctest: +SKIP
    ((None, 348000), (None, 32))
    """
    return _application("compact", default_name=f"compact_cnn_{conv_until}", **locals())
