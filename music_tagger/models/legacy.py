"""Everything Keras 1: reading the original HDF5 weight files, and the legacy behaviours.

:func:`load_legacy_weights` reads an original Keras 1 HDF5 file with h5py and sets it
into a model of :mod:`music_tagger.models.builders`, layer by layer, through the conversions
below; :func:`is_keras3_file` tells a Keras 3 file from a Keras 1 one.

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
>>> from music_tagger import legacy
>>> round(float(legacy.keras1_hard_sigmoid(np.float32(1.0))), 6)
0.7
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import h5py
import keras
import numpy as np
from keras import ops

from ..errors import WeightsError
from ..util.checks import one_of
from ..vocabulary import BN_AS_TRAINED, BN_PUBLISHED, BN_READINGS

#: BatchNormalization epsilon of Keras 1.0.8-1.1.x, current when the CRNN's scores
#: were published (Keras 1.2 moved to 1e-3). Used by every BatchNorm layer here.
BN_EPSILON = 1e-5

#: Keras 1.0.6's BatchNorm added this to the stored standard deviation at inference:
#: ``x_hat = (x - mean) / (running_std + KERAS106_STD_EPSILON)``.
KERAS106_STD_EPSILON = 1e-6

#: Layer epsilon of the CRNN read as trained (``bn_semantics="std_keras106"``): the
#: zero-padded time columns of its ``bn_0_freq`` hold a standard deviation of exactly
#: ``sqrt(1e-6)``, whose equivalent variance ``(1e-3 + 1e-6) ** 2`` is below
#: :data:`BN_EPSILON`; any epsilon below it gives the same outputs, this one leaves
#: a wide margin.
KERAS106_LAYER_EPSILON = 1e-9

#: Keras 1 GRUs apply the reset gate before the recurrent matmul.
GRU_RESET_AFTER = False

#: Axis of the time index in a channels-last (batch, freq, time, channel) melgram.
TIME_AXIS = 2
#: Axis of the mel band in a channels-last melgram.
FREQ_AXIS = 1

BNSemantics = Literal["variance", "std_keras106"]


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


def convert_conv_kernel(kernel: np.ndarray, flip: bool) -> np.ndarray:
    """Turn a Keras 1 ``Convolution2D`` kernel into a Keras 3 ``Conv2D`` kernel.

    Both original files store kernels as ``(out, in, rows, cols)``; Keras 3 wants
    ``(rows, cols, in, out)``. Files saved from the theano backend hold true
    convolution kernels, which must be flipped on both spatial axes to become the
    cross-correlation kernels that Keras 3 (and Keras 1 on tensorflow) applies.

    Parameters
    ----------
    kernel : np.ndarray, shape (out, in, rows, cols)
    flip : bool
        True for a theano-backend file.

    Returns
    -------
    np.ndarray, shape (rows, cols, in, out)

    Examples
    --------
    >>> import numpy as np
    >>> k = np.arange(9, dtype="float32").reshape(1, 1, 3, 3)
    >>> convert_conv_kernel(k, flip=True)[:, :, 0, 0].tolist()
    [[8.0, 7.0, 6.0], [5.0, 4.0, 3.0], [2.0, 1.0, 0.0]]
    """
    kernel = np.asarray(kernel)
    if kernel.ndim != 4:
        raise WeightsError(f"expected a 4-d (out, in, rows, cols) kernel, got shape {kernel.shape}")
    if flip:
        kernel = kernel[:, :, ::-1, ::-1]
    return np.ascontiguousarray(kernel.transpose(2, 3, 1, 0))


def convert_bn_statistics(
    running_mean: np.ndarray,
    running_std: np.ndarray,
    semantics: BNSemantics,
    epsilon: float = BN_EPSILON,
) -> tuple[np.ndarray, np.ndarray]:
    """Turn Keras 1 BatchNorm statistics into Keras 3 ``(moving_mean, moving_variance)``.

    Keras 3 normalises as ``(x - mean) / sqrt(variance + epsilon)``.

    - ``"variance"``: the reading under which the CRNN's scores were published
      (Keras 1.1/1.2): ``running_std`` holds a variance, used as it is.
    - ``"std_keras106"``: Keras 1.0.6 (the MusicTaggerCNN) stored the standard
      deviation and divided by ``running_std + 1e-6``; the equivalent variance is
      ``(running_std + 1e-6) ** 2 - epsilon``, exact at inference.

    Parameters
    ----------
    running_mean, running_std : np.ndarray
        The stored statistics.
    semantics : {"variance", "std_keras106"}
    epsilon : float
        The epsilon of the Keras 3 layer that receives the statistics.

    Returns
    -------
    moving_mean, moving_variance : np.ndarray

    Examples
    --------
    >>> import numpy as np
    >>> mean, var = convert_bn_statistics(np.zeros(1), np.array([2.0]), "std_keras106")
    >>> float(np.sqrt(var[0] + BN_EPSILON))  # divides by 2 + 1e-6, as Keras 1.0.6 did
    2.000001
    """
    running_mean = np.asarray(running_mean)
    running_std = np.asarray(running_std)
    if semantics == BN_PUBLISHED:
        return running_mean, running_std
    if semantics == BN_AS_TRAINED:
        variance = (running_std.astype(np.float64) + KERAS106_STD_EPSILON) ** 2 - epsilon
        if np.any(variance < 0):
            raise WeightsError(
                f"a stored standard deviation is below sqrt({epsilon}); these statistics "
                "cannot be read with Keras 1.0.6 semantics"
            )
        return running_mean, variance.astype(running_std.dtype)
    raise WeightsError(f"unknown BatchNorm semantics {semantics!r}; use one of {BN_READINGS}")


def bn_layer_epsilon(arch: str, semantics: BNSemantics) -> float:
    """The BatchNorm epsilon a Keras 3 layer needs to hold statistics read as ``semantics``.

    The MSD CRNN read as published (``"variance"``) and the MSD CNN (always
    ``"std_keras106"``) use :data:`BN_EPSILON`. The CRNN read as trained
    (``"std_keras106"``) needs a smaller epsilon, :data:`KERAS106_LAYER_EPSILON`,
    because the padded columns of its input BatchNorm store a standard deviation of
    ``sqrt(1e-6)`` (see :func:`convert_bn_statistics`).

    Parameters
    ----------
    arch : {"crnn", "k2c2"}
    semantics : {"variance", "std_keras106"}

    Returns
    -------
    float

    Examples
    --------
    >>> bn_layer_epsilon("crnn", "variance"), bn_layer_epsilon("crnn", "std_keras106")
    (1e-05, 1e-09)
    """
    one_of(semantics, "bn_semantics", BN_READINGS)
    if arch == "crnn" and semantics == BN_AS_TRAINED:
        return KERAS106_LAYER_EPSILON
    return BN_EPSILON


GRU_GATES = ("z", "r", "h")


def pack_gru_weights(arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Pack a Keras 1 GRU's nine arrays into Keras 3's ``[kernel, recurrent, bias]``.

    Keras 1 stores ``W_z, U_z, b_z, W_r, U_r, b_r, W_h, U_h, b_h``; Keras 3's GRU
    (``reset_after=False``) concatenates the gates in the order update (z), reset
    (r), candidate (h).

    Parameters
    ----------
    arrays : dict
        The nine arrays keyed ``"W_z"``, ``"U_z"``, ... ``"b_h"``.

    Returns
    -------
    list of np.ndarray
        ``[kernel (in, 3u), recurrent_kernel (u, 3u), bias (3u,)]``.

    Examples
    --------
    >>> import numpy as np
    >>> arrs = {f"{k}_{g}": np.zeros((4, 2) if k == "W" else (2, 2) if k == "U" else 2)
    ...         for k in "WUb" for g in "zrh"}
    >>> [a.shape for a in pack_gru_weights(arrs)]
    [(4, 6), (2, 6), (6,)]
    """
    missing = [f"{k}_{g}" for k in "WUb" for g in GRU_GATES if f"{k}_{g}" not in arrays]
    if missing:
        raise WeightsError(f"GRU weights missing: {', '.join(missing)}")
    return [
        np.concatenate([arrays[f"{k}_{g}"] for g in GRU_GATES], axis=-1) for k in "WUb"
    ]


#: Suffixes of the weight files Keras 3 writes; any other file is read as Keras 1.
KERAS3_SUFFIXES = (".keras", ".weights.h5")


def is_keras3_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a Keras 3 ``.keras`` / ``.weights.h5`` file (by its name).

    Examples
    --------
    >>> is_keras3_file("run/model.keras"), is_keras3_file("music_tagger_crnn_weights_theano.h5")
    (True, False)
    """
    return str(path).endswith(KERAS3_SUFFIXES)


def _read_keras1_file(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """``{layer: {short weight name: array}}`` from a Keras 1 HDF5 weight file."""
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as err:
        raise WeightsError(f"{path} is not a readable HDF5 file ({err})") from err
    with f:
        if "layer_names" not in f.attrs:
            raise WeightsError(f"{path} is not a Keras 1 weight file (no 'layer_names')")
        out = {}
        for layer in (n.decode() for n in f.attrs["layer_names"]):
            group = f[layer]
            arrays = {}
            for full in (n.decode() for n in group.attrs["weight_names"]):
                short = full.split(":")[0]
                if short.endswith("_1"):  # tensorflow files: 'conv1_W_1:0'
                    short = short[:-2]
                arrays[short[len(layer) + 1 :]] = group[full][()]
            out[layer] = arrays
    return out


def _is_theano_file(path: Path) -> bool:
    """Files saved from the tensorflow backend name their variables ``...:0``."""
    with h5py.File(path, "r") as f:
        for layer in (n.decode() for n in f.attrs["layer_names"]):
            names = [n.decode() for n in f[layer].attrs["weight_names"]]
            if names:
                return not names[0].endswith(":0")
    raise WeightsError(f"{path} holds no weights")


def _layer_arrays(layer, arrays: dict[str, np.ndarray], flip: bool, bn_semantics: str):
    """The Keras 3 weight list of ``layer`` from its Keras 1 arrays."""
    kind = type(layer).__name__
    if kind == "Conv2D":
        return [convert_conv_kernel(arrays["W"], flip), arrays["b"]]
    if kind == "BatchNormalization":
        mean, var = convert_bn_statistics(
            arrays["running_mean"], arrays["running_std"], bn_semantics, layer.epsilon
        )
        return [arrays["gamma"], arrays["beta"], mean, var]
    if kind == "GRU":
        return pack_gru_weights(arrays)
    if kind == "Dense":
        return [arrays["W"], arrays["b"]]
    raise WeightsError(f"no Keras 1 conversion for layer {layer.name!r} of type {kind}")


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
    stored = _read_keras1_file(path)
    flip = _is_theano_file(path) if flip is None else flip
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
            raise WeightsError(
                f"{path.name}: layer {layer.name!r} lacks weight {err}"
            ) from err
        except WeightsError as err:  # the conversion's own check
            raise WeightsError(f"{path.name}: layer {layer.name!r}: {err}") from err
        expected = [tuple(w.shape) for w in layer.weights]
        found = [tuple(a.shape) for a in arrays]
        if expected != found:
            raise WeightsError(
                f"{path.name}: layer {layer.name!r} expects weights of shapes {expected}, "
                f"the file gives {found}"
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
