"""Keras 1 weight files and their conversions, with numpy and h5py only (no Keras).

The original HDF5 files are read here, and each Keras 1 storage convention is turned
into the Keras 3 layout; :mod:`music_tagger.models.legacy` sets the result into a
Keras model, and :mod:`music_tagger.deploy` writes it into an ONNX graph without
loading TensorFlow. The behaviours, and the measured cost of getting each wrong,
are listed in :mod:`music_tagger.models.legacy`.

Examples
--------
>>> import numpy as np
>>> from music_tagger.models.keras1 import convert_conv_kernel
>>> convert_conv_kernel(np.zeros((8, 1, 3, 3)), flip=True).shape
(3, 3, 1, 8)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import h5py
import numpy as np

from ..errors import ParameterError, WeightsError
from ..util.checks import one_of
from ..vocabulary import BN_AS_TRAINED, BN_PUBLISHED, BN_READINGS, MSD_NETWORKS

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

BNSemantics = Literal["variance", "std_keras106"]

#: How the released files' BatchNorm statistics must be read, per structure.
MSD_BN_SEMANTICS: dict[str, BNSemantics] = {row.arch: row.bn_reading for row in MSD_NETWORKS.values()}


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
    return [np.concatenate([arrays[f"{k}_{g}"] for g in GRU_GATES], axis=-1) for k in "WUb"]


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


def read_keras1_file(path: Path) -> dict[str, dict[str, np.ndarray]]:
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


def is_theano_file(path: Path) -> bool:
    """Files saved from the tensorflow backend name their variables ``...:0``."""
    with h5py.File(path, "r") as f:
        for layer in (n.decode() for n in f.attrs["layer_names"]):
            names = [n.decode() for n in f[layer].attrs["weight_names"]]
            if names:
                return not names[0].endswith(":0")
    raise WeightsError(f"{path} holds no weights")


def read_msd_arrays(
    path: str | os.PathLike, arch: str, bn_semantics: BNSemantics | None = None
) -> tuple[dict[str, list[np.ndarray]], float]:
    """The arrays of an original weight file in Keras 3 layout, without Keras.

    What :func:`music_tagger.models.legacy.load_legacy_weights` sets into a Keras
    model, keyed by layer name: conv ``[kernel (rows, cols, in, out), bias]``
    (flipped for a theano file), BatchNorm ``[gamma, beta, mean, variance]``
    (statistics read as ``bn_semantics``), GRU ``[kernel, recurrent, bias]``,
    dense ``[kernel, bias]``.

    Parameters
    ----------
    path : path-like
        An original Keras 1 HDF5 file.
    arch : {"crnn", "k2c2"}
    bn_semantics : {"variance", "std_keras106"}, optional
        Default: how the released file of ``arch`` must be read
        (:data:`MSD_BN_SEMANTICS`).

    Returns
    -------
    arrays : dict
    epsilon : float
        The BatchNorm epsilon the statistics go with (:func:`bn_layer_epsilon`).

    Examples
    --------
    >>> arrays, eps = read_msd_arrays("music_tagger_crnn_weights_theano.h5", "crnn")  # doctest: +SKIP
    >>> arrays["gru1"][0].shape, eps                                               # doctest: +SKIP
    ((128, 96), 1e-05)
    """
    if arch not in MSD_BN_SEMANTICS:
        raise ParameterError(f"original weights exist for {', '.join(MSD_BN_SEMANTICS)}, not {arch!r}")
    semantics = MSD_BN_SEMANTICS[arch] if bn_semantics is None else bn_semantics
    epsilon = bn_layer_epsilon(arch, semantics)
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weight file not found: {path}")
    stored, flip = read_keras1_file(path), is_theano_file(path)
    out = {}
    for layer, arrays in stored.items():
        kind = next((k for p, k in _PREFIXES if layer.startswith(p)), None)
        if not arrays:
            continue
        if kind is None:
            raise WeightsError(f"{path.name}: no conversion for a layer named {layer!r}")
        try:
            out[layer] = convert_layer(kind, arrays, flip=flip, semantics=semantics, epsilon=epsilon)
        except KeyError as err:
            raise WeightsError(f"{path.name}: layer {layer!r} lacks weight {err}") from err
    return out, epsilon


#: The kind of each layer of the original files, by the start of its name.
_PREFIXES = (("conv", "conv"), ("bn", "bn"), ("gru", "gru"), ("fc", "dense"), ("output", "dense"))


def convert_layer(
    kind: str, arrays: dict[str, np.ndarray], *, flip: bool, semantics: BNSemantics, epsilon: float
) -> list[np.ndarray]:
    """The Keras 3 weight list of one Keras 1 layer.

    Parameters
    ----------
    kind : {"conv", "bn", "gru", "dense"}
    arrays : dict
        The layer's Keras 1 arrays by short name (``W``, ``b``, ``running_std``, ...).
    flip : bool
        Flip conv kernels (a theano file).
    semantics : {"variance", "std_keras106"}
        How to read ``running_std`` (:func:`convert_bn_statistics`).
    epsilon : float
        The epsilon of the BatchNorm that receives the statistics.

    Returns
    -------
    list of np.ndarray

    Examples
    --------
    >>> import numpy as np
    >>> [a.shape for a in convert_layer("dense", {"W": np.zeros((32, 50)), "b": np.zeros(50)},
    ...                                  flip=False, semantics="variance", epsilon=1e-5)]
    [(32, 50), (50,)]
    """
    if kind == "conv":
        return [convert_conv_kernel(arrays["W"], flip), arrays["b"]]
    if kind == "bn":
        mean, var = convert_bn_statistics(arrays["running_mean"], arrays["running_std"], semantics, epsilon)
        return [arrays["gamma"], arrays["beta"], mean, var]
    if kind == "gru":
        return pack_gru_weights(arrays)
    if kind == "dense":
        return [arrays["W"], arrays["b"]]
    raise WeightsError(f"unknown layer kind {kind!r}")
