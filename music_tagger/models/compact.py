"""The compact convnet of Choi et al. (2017): raw 12 kHz audio in, a 32-d feature per level.

The second network of the original repository (``compact_cnn/``, January 2017), behind
Choi, Fazekas, Sandler and Cho, "Transfer learning for music classification and
regression tasks" (ISMIR 2017): a kapre mel-spectrogram layer inside the graph, then
five blocks of conv 3x3 (32 maps) - BatchNorm - ELU - max-pool, trained on the
Million Song Dataset's top-50 tags. Its released files are feature extractors: the
file for ``conv_until=N`` holds the mel layer and blocks 1 to N + 1 (no tag layer).
The "convnet feature" of the paper is the five levels' 32-d outputs concatenated,
160-d (:func:`music_tagger.features` with ``arch="compact"``).

=======================  =======================================================
block (``pool`` size)    maps after it, for 29 s (348,000 samples at 12 kHz)
=======================  =======================================================
``melgram``              96 mel bands x 1360 frames, decibels (top 80 dB)
1 (2 x 4)                32 x 48 x 340
2 (3 x 4)                32 x 16 x 85
3 (2 x 5)                32 x 8 x 17
4 (2 x 4)                32 x 4 x 4
5 (4 x 4)                32 x 1 x 1
=======================  =======================================================

``conv_until=N`` ends after block N + 1 with the mean of its maps (the original
flattens after block 5, which is the same for its 1 x 1 maps). The Keras 1 and kapre
behaviours the features depend on are :mod:`music_tagger.models.legacy`'s (BatchNorm
mode 2 and kapre's decibels, both per clip; tensorflow kernels unflipped; kapre's
``'same'`` STFT borders); docs/compact.md measures each.

Examples
--------
>>> from music_tagger.models.builders import CompactCNN
>>> model = CompactCNN(conv_until=4)                   # doctest: +SKIP
>>> model.input_shape, model.output_shape              # doctest: +SKIP
((None, 348000), (None, 32))
"""

from __future__ import annotations

import os

import h5py
import keras
import numpy as np
from keras import layers, ops

from ..errors import ParameterError, WeightsError
from ..registry import get_file
from ..util.checks import int_between, positive_int
from . import legacy

#: Sample rate of the input audio.
SR = 12000
#: Input length of the original: 29 s at 12 kHz.
N_SAMPLES = 348_000
N_DFT = 512
N_HOP = 256
N_MELS = 96
#: Highest mel frequency (Hz): the Nyquist frequency of 12 kHz.
FMAX = 6000.0
N_MAPS = 32
#: Max-pool sizes (frequency, time) of the five blocks.
POOLS = ((2, 4), (3, 4), (2, 5), (2, 4), (4, 4))
#: Registry keys of the released files, by ``conv_until``.
WEIGHTS = tuple(f"compact_msd_layer{n}" for n in range(len(POOLS)))
#: conv1 runs in float64: its inputs are decibels down to -80, its outputs reach
#: about 450, and the per-clip BatchNorm then subtracts most of that; in float32 the
#: features land up to 4.3e-4 from the exact values on a quiet passage (float64: 1.5e-6).
CONV1_DTYPE = "float64"


def _dft_kernels(n_dft: int) -> tuple[np.ndarray, np.ndarray]:
    """kapre's STFT kernels: a periodic Hann window times cosines and sines, (n_dft, 1, bins)."""
    n = np.arange(n_dft)[:, None]
    k = np.arange(n_dft // 2 + 1)[None, :]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / n_dft)
    angle = 2 * np.pi * n * k / n_dft
    return (window * np.cos(angle))[:, None, :], (window * np.sin(angle))[:, None, :]


@keras.saving.register_keras_serializable(package="music_tagger")
class Melspectrogram(layers.Layer):
    """kapre 0.0.3's ``Melspectrogram(power_melgram=2, return_decibel_melgram=True)``.

    Raw audio ``(batch, samples)`` in, decibel mel spectrogram ``(batch, n_mels,
    frames, 1)`` out: the STFT is a strided convolution with two fixed kernels (real
    and imaginary parts), the power goes through a mel filterbank, then kapre's
    decibels (:func:`music_tagger.models.legacy.kapre_decibel`), per clip. The three
    arrays are non-trainable weights, initialised as kapre built them (periodic Hann,
    Slaney mel filterbank) and replaced by the stored ones with ``weights="msd"``.

    Parameters
    ----------
    n_dft, n_hop, n_mels : int
        Window, hop and mel bands (512, 256, 96 in the original).
    sr : int
        Sample rate of the input.
    fmax : float
        Highest frequency of the filterbank.

    Examples
    --------
    >>> import numpy as np
    >>> tuple(Melspectrogram()(np.zeros((1, 12000), "float32")).shape)   # doctest: +SKIP
    (1, 96, 47, 1)
    """

    def __init__(self, n_dft: int = N_DFT, n_hop: int = N_HOP, n_mels: int = N_MELS,
                 sr: int = SR, fmax: float = FMAX, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.n_dft, self.n_hop, self.n_mels, self.sr, self.fmax = n_dft, n_hop, n_mels, sr, fmax

    def build(self, input_shape):
        import librosa

        real, imag = _dft_kernels(self.n_dft)
        mel = librosa.filters.mel(sr=self.sr, n_fft=self.n_dft, n_mels=self.n_mels, fmin=0.0,
                                  fmax=self.fmax, htk=False, norm="slaney").T  # fmt: skip
        for attr, array in (("dft_real", real), ("dft_imag", imag), ("filterbank", mel)):
            weight = self.add_weight(shape=array.shape, name=attr, trainable=False,
                                     initializer=keras.initializers.Constant(array))  # fmt: skip
            setattr(self, attr, weight)

    def call(self, x):
        n = x.shape[-1]
        if n is None:
            raise ParameterError("the compact convnet needs a fixed input length (input_shape=(n,))")
        before, after = legacy.kapre_same_padding(n, self.n_dft, self.n_hop)
        x = ops.pad(x, [[0, 0], [before, after]])[..., None]
        real = ops.conv(x, self.dft_real, strides=self.n_hop, padding="valid")
        imag = ops.conv(x, self.dft_imag, strides=self.n_hop, padding="valid")
        mel = ops.matmul(real * real + imag * imag, self.filterbank)  # (batch, frames, mels)
        return ops.expand_dims(ops.transpose(legacy.kapre_decibel(mel), (0, 2, 1)), -1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_mels, -(-input_shape[-1] // self.n_hop), 1)

    def get_config(self):
        return {**super().get_config(), "n_dft": self.n_dft, "n_hop": self.n_hop,
                "n_mels": self.n_mels, "sr": self.sr, "fmax": self.fmax}  # fmt: skip


def min_samples(conv_until: int) -> int:
    """The shortest input whose maps survive the pooling of blocks 1 to ``conv_until + 1``.

    Examples
    --------
    >>> min_samples(4), min_samples(0)
    (327425, 769)
    """
    frames = int(np.prod([pool[1] for pool in POOLS[: conv_until + 1]]))
    return (frames - 1) * N_HOP + 1


def check_conv_until(conv_until) -> int:
    """``conv_until`` as an int in 0..4, or a :class:`ParameterError`."""
    return int_between(conv_until, "conv_until", 0, len(POOLS) - 1)


def _input(input_tensor, input_shape, conv_until: int):
    if input_tensor is not None:
        if not keras.backend.is_keras_tensor(input_tensor):
            raise ParameterError(
                "input_tensor must be a Keras tensor (the output of keras.Input or a layer), "
                f"got {type(input_tensor).__name__}"
            )
        inputs = input_tensor
    else:
        shape = tuple(input_shape) if input_shape is not None else (N_SAMPLES,)
        if len(shape) != 1 or shape[0] is None:
            raise ParameterError(
                f"the compact convnet takes mono audio of a fixed length, input_shape=(n,); got {shape!r}"
            )
        inputs = layers.Input(shape=shape, name="audio")
    n = inputs.shape[-1]
    if len(inputs.shape) != 2 or n is None or n < min_samples(conv_until):
        raise ParameterError(
            f"conv_until={conv_until} needs mono audio (batch, n) of a fixed length n >= "
            f"{min_samples(conv_until)} samples ({min_samples(conv_until) / SR:.2f} s at 12 kHz); "
            f"got an input of shape {tuple(inputs.shape)}"
        )
    return inputs


def _block(x, index: int, pool: tuple[int, int]):
    """conv 3x3 (32 maps, 'same') - BatchNorm mode 2 - ELU - max-pool, as the original's."""
    dtype = CONV1_DTYPE if index == 1 else None
    x = layers.Conv2D(N_MAPS, (3, 3), padding="same", name=f"conv{index}", dtype=dtype)(x)
    x = legacy.mode2_batch_norm(f"bn{index}")(x)
    x = layers.ELU(name=f"elu{index}")(x)
    return layers.MaxPooling2D(pool, name=f"pool{index}")(x)


def build_graph(conv_until: int, *, include_top: bool, input_tensor, input_shape,
                classes: int, classifier_activation, name: str) -> keras.Model:  # fmt: skip
    """The randomly initialised compact convnet, blocks 1 to ``conv_until + 1``.

    Examples
    --------
    >>> build_graph(2, include_top=False, input_tensor=None, input_shape=None,
    ...             classes=50, classifier_activation=None, name="c").output_shape  # doctest: +SKIP
    (None, 32)
    """
    conv_until = check_conv_until(conv_until)
    positive_int(classes, "classes")
    inputs = _input(input_tensor, input_shape, conv_until)
    x = Melspectrogram(name="melgram")(inputs)
    for index, pool in enumerate(POOLS[: conv_until + 1], start=1):
        x = _block(x, index, pool)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    if include_top:
        x = layers.Dense(classes, activation=classifier_activation, name="output")(x)
    return keras.Model(inputs, x, name=name)


def read_compact_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of an original ``weights_layerN_tensorflow.hdf5``, by Keras 3 layer weight.

    Returns
    -------
    dict
        ``melgram`` (``[dft_real (512, 1, 257), dft_imag, filterbank (257, 96)]``),
        then ``conv{i}`` (``[kernel (3, 3, in, 32), bias]``, unflipped) and ``bn{i}``
        (``[gamma, beta]``; mode 2 never reads the stored running statistics) for
        every block in the file.

    Raises
    ------
    WeightsError
        Not a readable compact convnet file of the tensorflow backend.
    """
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as err:
        raise WeightsError(f"{path} is not a readable HDF5 file ({err})") from err
    with f:
        if "melgram" not in f or "ConvBNEluDr" not in f:
            raise WeightsError(f"{path} is not a compact convnet file (no 'melgram' and 'ConvBNEluDr' layers)")
        mel, blocks = f["melgram"], f["ConvBNEluDr"]
        if "Variable:0" not in mel:
            raise WeightsError(f"{path}: only the tensorflow-backend compact files are supported")
        real, imag, fb = (mel[f"{v}:0"][()] for v in ("Variable", "Variable_1", "Variable_2"))
        out = {"melgram": [real[:, :, 0, :], imag[:, :, 0, :], fb]}
        index = 1
        while f"convolution2d_{index}_W:0" in blocks:
            w, b = (blocks[f"convolution2d_{index}_{k}:0"][()] for k in ("W", "b"))
            out[f"conv{index}"] = [legacy.convert_conv_kernel(w, flip=False), b]
            out[f"bn{index}"] = [blocks[f"batchnormalization_{index}_{k}:0"][()] for k in ("gamma", "beta")]
            index += 1
    return out


def load_weights(model: keras.Model, path: str | os.PathLike) -> None:
    """Set an original compact file into ``model``; the file may hold more blocks than it.

    Raises
    ------
    WeightsError
        The file lacks a block of the model, or an array does not fit.
    """
    stored = read_compact_file(path)
    for layer in model.layers:
        if not layer.weights or layer.name == "output":
            continue
        if layer.name not in stored:
            raise WeightsError(f"{os.fspath(path)} has no weights for layer {layer.name!r} (it holds "
                               f"{', '.join(stored)})")  # fmt: skip
        arrays = stored[layer.name]
        expected = [tuple(w.shape) for w in layer.weights]
        if expected != [a.shape for a in arrays]:
            raise WeightsError(f"{os.fspath(path)}: layer {layer.name!r} expects shapes {expected}, "
                               f"the file gives {[a.shape for a in arrays]}")  # fmt: skip
        layer.set_weights(arrays)


def check_weights(weights, include_top: bool) -> None:
    """Fail before building on weights that cannot be loaded (keras.applications' rule)."""
    if weights == "msd":
        if include_top:
            raise ParameterError(
                "the released compact convnet has no tag layer (its files hold the feature "
                "extractor only): use include_top=False for its 32-d feature, or weights=None "
                "to train the network with an output layer"
            )
        return
    if weights is None or isinstance(weights, (str, os.PathLike)) and os.path.isfile(weights):
        return
    raise ParameterError(
        "weights must be None (random initialisation), 'msd' (the released feature "
        f"extractor) or the path to a weight file; got {weights!r}"
    )


def application(*, include_top: bool, weights, input_tensor, input_shape, classes: int,
                classifier_activation, name: str, conv_until: int) -> keras.Model:  # fmt: skip
    """Check, build and load: the compact branch of the builders' factory.

    ``weights`` is None, ``"msd"`` (the registry file of ``conv_until``, fetched and
    checked by :func:`music_tagger.registry.get_file`), a Keras 3 file, or an
    original Keras 1 compact file.
    """
    conv_until = check_conv_until(conv_until)
    check_weights(weights, include_top)
    model = build_graph(conv_until, include_top=include_top, input_tensor=input_tensor,
                        input_shape=input_shape, classes=classes,
                        classifier_activation=classifier_activation, name=name)  # fmt: skip
    if weights == "msd":
        load_weights(model, get_file("weights", WEIGHTS[conv_until]))
    elif weights is not None and legacy.is_keras3_file(weights):
        model.load_weights(os.fspath(weights))
    elif weights is not None:
        load_weights(model, weights)
    return model
