"""Everything Keras 1: reading the original HDF5 weight files, and the legacy behaviours.

:func:`load_legacy_weights` reads an original Keras 1 HDF5 file with h5py and sets it
into a model of :mod:`music_tagger.models.builders`, layer by layer, through the conversions
below; :func:`is_keras3_file` tells a Keras 3 file from a Keras 1 one. The reading and
the conversions need no Keras and live in :mod:`music_tagger.models.keras1` (the ONNX
exports use them without TensorFlow); they are named here as well.

Each behaviour below is reproduced on purpose, because the published scores of the
original MusicTaggerCRNN and MusicTaggerCNN (and the compact convnet's published
feature norm) depend on it; ``tests/test_legacy.py`` and ``tests/test_compact.py`` pin
every one of them by showing that the wrong choice changes the output.

==========================  ==========================================================
behaviour                   what this module does
==========================  ==========================================================
gate activation             :func:`keras1_hard_sigmoid`, ``clip(0.2 x + 0.5, 0, 1)``
                            (Keras 3's ``hard_sigmoid`` is ``x / 6 + 0.5``)
GRU formulation             :data:`GRU_RESET_AFTER` ``= False`` (reset gate applied
                            before the recurrent matmul) and :func:`pack_gru_weights`
kernel flip                 :func:`convert_conv_kernel`: theano files store true
                            convolution kernels, flipped on both spatial axes
BatchNorm statistics        :func:`convert_bn_statistics`: ``running_std`` is a
                            *variance* (Keras 1.1/1.2 reading, CRNN) or a Keras 1.0.6
                            standard deviation (CNN)
BatchNorm epsilon           :data:`BN_EPSILON` ``= 1e-5`` (Keras 1.0.8-1.1.x default);
                            :func:`bn_layer_epsilon` for the as-trained reading
time-indexed input BN       :data:`TIME_AXIS` (and the CRNN's ``time_padding`` in
                            :mod:`music_tagger.models.architectures`): the CRNN's
                            ``bn_0_freq`` normalises per time index of the
                            zero-padded input (1366 + 2 * 37 = 1440 parameters)
*compact convnet* (2017)    Keras 1.2.1 and kapre 0.0.3 (``docs/compact.md``):
BatchNorm mode 2            :func:`mode2_batch_norm`: the statistics of each clip,
                            variance, epsilon :data:`BN_MODE2_EPSILON` ``= 1e-3``
kapre decibels              :func:`kapre_decibel`: top 80 dB below each clip's maximum
kapre STFT borders          :func:`kapre_same_padding`: tensorflow's ``SAME`` split
tensorflow kernels          :func:`convert_conv_kernel` with ``flip=False``
==========================  ==========================================================

Examples
--------
>>> import numpy as np
>>> from music_tagger.models import legacy
>>> round(float(legacy.keras1_hard_sigmoid(np.float32(1.0))), 6)
0.7
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
from keras import ops

from ..errors import WeightsError
from .keras1 import (  # noqa: F401  (the Keras-free conversions, named here as well)
    BN_EPSILON,
    KERAS3_SUFFIXES,
    KERAS106_LAYER_EPSILON,
    KERAS106_STD_EPSILON,
    BNSemantics,
    bn_layer_epsilon,
    convert_bn_statistics,
    convert_conv_kernel,
    convert_layer,
    is_keras3_file,
    is_theano_file,
    pack_gru_weights,
    read_keras1_file,
)

#: Keras 1 GRUs apply the reset gate before the recurrent matmul.
GRU_RESET_AFTER = False

#: Axis of the time index in a channels-last (batch, freq, time, channel) melgram.
TIME_AXIS = 2
#: Axis of the mel band in a channels-last melgram.
FREQ_AXIS = 1


@keras.saving.register_keras_serializable(package="music_tagger")
def keras1_hard_sigmoid(x):
    """The hard sigmoid of Keras 1: ``clip(0.2 * x + 0.5, 0, 1)``.

    Keras 1 used it as the default gate activation of its recurrent layers; Keras 3's
    ``hard_sigmoid`` is a different function (``relu6(x + 3) / 6``), which moves the
    CRNN's published scores by up to 0.075.

    Parameters
    ----------
    x : tensor or array
        Pre-activation.

    Returns
    -------
    tensor
        Same shape as ``x``, values in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> np.asarray(keras1_hard_sigmoid(np.array([-3.0, 0.0, 3.0], "float32"))).tolist()
    [0.0, 0.5, 1.0]
    """
    return ops.clip(0.2 * x + 0.5, 0.0, 1.0)


#: The Keras 3 layer types that hold weights, by the kind of Keras 1 layer they receive.
_KINDS = {"Conv2D": "conv", "BatchNormalization": "bn", "GRU": "gru", "Dense": "dense"}


def _layer_arrays(layer, arrays: dict[str, np.ndarray], flip: bool, bn_semantics: str):
    """The Keras 3 weight list of ``layer`` from its Keras 1 arrays."""
    kind = type(layer).__name__
    if kind not in _KINDS:
        raise WeightsError(f"no Keras 1 conversion for layer {layer.name!r} of type {kind}")
    epsilon = getattr(layer, "epsilon", BN_EPSILON)
    return convert_layer(_KINDS[kind], arrays, flip=flip, semantics=bn_semantics, epsilon=epsilon)


def load_legacy_weights(
    model,
    path: str | os.PathLike,
    *,
    bn_semantics: BNSemantics = "variance",
    flip: bool | None = None,
) -> None:
    """Set an original Keras 1 HDF5 weight file into ``model``, layer by layer by name.

    Parameters
    ----------
    model : keras.Model
        Built by :mod:`music_tagger.models.builders` (layer names as in the original).
    path : path-like
        A Keras 1 weight file, theano or tensorflow variant.
    bn_semantics : {"variance", "std_keras106"}
        How to read ``running_std`` (see :func:`convert_bn_statistics`).
    flip : bool, optional
        Flip conv kernels; default: detected from the file (theano files flip).

    Raises
    ------
    WeightsError
        Not HDF5, not a Keras 1 file, a layer of the model missing in the file, or
        an array whose shape does not fit; the message names the layer and shapes.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weight file not found: {path}")
    stored = read_keras1_file(path)
    flip = is_theano_file(path) if flip is None else flip
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in stored:
            raise WeightsError(
                f"{path.name} has no weights for layer {layer.name!r} "
                f"(the file has: {', '.join(n for n, a in stored.items() if a)})"
            )
        try:
            arrays = _layer_arrays(layer, stored[layer.name], flip, bn_semantics)
        except KeyError as err:
            raise WeightsError(f"{path.name}: layer {layer.name!r} lacks weight {err}") from err
        except WeightsError as err:  # the conversion's own check
            raise WeightsError(f"{path.name}: layer {layer.name!r}: {err}") from err
        expected = [tuple(w.shape) for w in layer.weights]
        found = [tuple(a.shape) for a in arrays]
        if expected != found:
            raise WeightsError(
                f"{path.name}: layer {layer.name!r} expects weights of shapes {expected}, the file gives {found}"
            )
        layer.set_weights(arrays)


# --------------------------------------------------------------------------- compact convnet
# The compact convnet (Choi et al. 2017) ran on Keras 1.2.1 (tensorflow backend) with
# the kapre of early 2017; its features depend on the four behaviours below.

#: Keras 1.2's BatchNormalization epsilon (its default; the compact convnet's layers).
BN_MODE2_EPSILON = 1e-3

#: kapre's ``amplitude_to_decibel``: power below this is raised to it.
KAPRE_AMIN = 1e-10
#: kapre's ``amplitude_to_decibel``: decibels below the maximum minus this are clipped.
KAPRE_DYNAMIC_RANGE = 80.0


def mode2_batch_norm(name: str, epsilon: float = BN_MODE2_EPSILON) -> keras.layers.Layer:
    """Keras 1 ``BatchNormalization(axis=1, mode=2)`` as the original ran it: one clip at a time.

    Mode 2 normalises with the statistics of the batch it is given, in training and
    at inference alike (its ``running_mean`` / ``running_std`` are never used: every
    compact file stores 0 and 1). The original's ``main.py`` fed one clip per call,
    so each feature map was normalised by the mean and *variance* of that clip over
    frequency and time: ``(x - mean) / sqrt(var + 1e-3) * gamma + beta``, which is a
    per-clip (instance) normalisation. That is what this layer computes, so a clip's
    output does not depend on the rest of its batch.

    Parameters
    ----------
    name : str
        The layer's name.
    epsilon : float
        Added to the variance (Keras 1.2's default, inside the square root as in
        ``tf.nn.batch_normalization``).

    Returns
    -------
    keras.layers.GroupNormalization
        One group per channel (``groups=-1``), with ``gamma`` and ``beta``.

    Examples
    --------
    >>> mode2_batch_norm("bn1").epsilon
    0.001
    """
    return keras.layers.GroupNormalization(groups=-1, axis=-1, epsilon=epsilon, name=name)


def kapre_same_padding(n_samples: int, n_dft: int, n_hop: int) -> tuple[int, int]:
    """Zeros before and after the signal in kapre's ``border_mode='same'`` STFT.

    kapre 0.0.3 computed its STFT as a strided ``K.conv2d`` with ``'same'`` borders,
    which the tensorflow backend hands to ``tf.nn.conv2d(padding="SAME")``:
    ``ceil(n / hop)`` frames, the missing samples split with the odd one after the
    signal (not librosa's ``n_dft // 2`` on each side).

    Parameters
    ----------
    n_samples, n_dft, n_hop : int

    Returns
    -------
    (before, after) : tuple of int

    Examples
    --------
    >>> kapre_same_padding(348000, 512, 256)
    (208, 208)
    """
    frames = -(-n_samples // n_hop)
    total = max((frames - 1) * n_hop + n_dft - n_samples, 0)
    return total // 2, total - total // 2


def kapre_decibel(power, amin: float = KAPRE_AMIN, dynamic_range: float = KAPRE_DYNAMIC_RANGE):
    """kapre 0.0.3's ``amplitude_to_decibel`` of a batch, reduced to one clip at a time.

    ``10 log10(max(x, amin))``, minus its maximum, clipped below at ``-dynamic_range``.
    kapre took that maximum over the whole batch tensor until 2019 (then per
    sample); the original fed one clip per call, so here it is each clip's own
    maximum (every axis but the first), and a clip's decibels do not depend on the
    loudest clip of its batch.

    Parameters
    ----------
    power : tensor, shape (batch, ...)
        A power (mel) spectrogram.

    Returns
    -------
    tensor
        Same shape, values in ``[-dynamic_range, 0]``.

    Examples
    --------
    >>> import numpy as np
    >>> np.asarray(kapre_decibel(np.array([[1.0, 0.1, 1e-12]], "float32"))).round(3).tolist()
    [[0.0, -10.0, -80.0]]
    """
    db = 10.0 * ops.log(ops.maximum(power, amin)) / np.log(10.0)
    axes = tuple(range(1, len(db.shape)))
    db = db - ops.max(db, axis=axes, keepdims=True)
    return ops.maximum(db, -dynamic_range)
