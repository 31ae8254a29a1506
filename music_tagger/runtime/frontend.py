"""The 2016 log-mel front end as graph operations, for exports that take audio.

:func:`music_tagger.audio.log_melgram` computes the network input with librosa; an
exported model with ``input="audio"`` computes the same inside its graph from
``(batch, 349440)`` float32 samples: mono, 12 kHz, one 29.12 s crop (decoding,
resampling and cropping stay with the caller). Every step is a plain tensor
operation, so the same recipe is written for ONNX (:func:`add_onnx_frontend`) and
for Keras/TensorFlow (:func:`keras_frontend`):

1. reflect-pad 256 samples on each side (librosa's centred frames);
2. frames of 512 every 256 samples: the padded signal cut into blocks of 256, each
   frame two neighbouring blocks;
3. the STFT as one float32 matmul with :func:`dft_matrix` (periodic Hann window
   times cosines and sines, 257 bins each), then the power ``re**2 + im**2``;
4. the Slaney mel filterbank (:func:`music_tagger.audio.mel_basis`), squared again
   (the recipe's power 4);
5. ``10 * log10(max(x, 1e-10))``, floored at 80 dB below the crop's own maximum.

Measured against :func:`~music_tagger.audio.compute_melgram_from_array`: about
1e-4 dB at most, far below what moves a score (see ``docs/deploy.md``).

Examples
--------
>>> from music_tagger.runtime.frontend import dft_matrix
>>> dft_matrix().shape
(512, 514)
"""

from __future__ import annotations

import numpy as np

from ..audio import spectrogram
from ..audio.decode import N_SAMPLES

#: Samples of one crop at 12 kHz: the audio input's second dimension.
AUDIO_SAMPLES = N_SAMPLES
_BINS = spectrogram.N_FFT // 2 + 1
_DB_PER_LOG = np.float32(10 / np.log(10))


def dft_matrix() -> np.ndarray:
    """``(512, 514)`` float32: windowed cosines, then windowed negative sines.

    ``frames @ dft_matrix()`` gives the real and imaginary STFT of 512-sample
    frames with librosa's periodic Hann window.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal(512)
    >>> m = dft_matrix()
    >>> spec = x @ m[:, :257] + 1j * (x @ m[:, 257:])
    >>> bool(np.allclose(spec, np.fft.rfft(x * np.hanning(513)[:-1]), atol=1e-4))
    True
    """
    n = np.arange(spectrogram.N_FFT)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / spectrogram.N_FFT)  # periodic Hann
    angle = 2 * np.pi * np.outer(n, np.arange(_BINS)) / spectrogram.N_FFT
    real, imag = window[:, None] * np.cos(angle), -window[:, None] * np.sin(angle)
    return np.concatenate([real, imag], axis=1).astype(np.float32)


def mel_matrix() -> np.ndarray:
    """``(257, 96)`` float32: the Slaney mel filterbank, transposed for a matmul.

    Examples
    --------
    >>> mel_matrix().shape
    (257, 96)
    """
    return np.ascontiguousarray(spectrogram.mel_basis().T, dtype=np.float32)


def _n_frames(n_samples: int) -> int:
    return 1 + n_samples // spectrogram.HOP_LENGTH


def add_onnx_frontend(g, audio: str, n_samples: int = AUDIO_SAMPLES) -> str:
    """Add the front end to an ONNX graph: ``audio (batch, n)`` -> ``(batch, 96, frames, 1)``.

    Parameters
    ----------
    g : music_tagger.runtime.onnx_graph.GraphBuilder
    audio : str
        Name of the ``(batch, n_samples)`` float32 input.
    n_samples : int
        Samples per crop, a multiple of 256.

    Returns
    -------
    str
        Name of the log-mel output.
    """
    hop, half = spectrogram.HOP_LENGTH, spectrogram.N_FFT // 2
    blocks = (n_samples + 2 * half) // hop
    x = g.op("Pad", [audio, g.ints("fe_pads", [0, half, 0, half])], name="fe_reflect", mode="reflect")
    x = g.op("Reshape", [x, g.ints("fe_blocks", [-1, blocks, hop])])
    axis = g.ints("fe_axis1", [1])
    first = g.op("Slice", [x, g.ints("fe_0", [0]), g.ints("fe_last", [blocks - 1]), axis])
    second = g.op("Slice", [x, g.ints("fe_1", [1]), g.ints("fe_end", [blocks]), axis])
    frames = g.op("Concat", [first, second], name="fe_frames", axis=2)  # (b, frames, 512)
    spec = g.op("MatMul", [frames, g.const("fe_dft_matrix", dft_matrix())], name="fe_stft")
    spec = g.op("Mul", [spec, spec])
    axis2 = g.ints("fe_axis2", [2])
    real = g.op("Slice", [spec, g.ints("fe_r0", [0]), g.ints("fe_r1", [_BINS]), axis2])
    imag = g.op("Slice", [spec, "fe_r1", g.ints("fe_i1", [2 * _BINS]), axis2])
    power = g.op("Add", [real, imag], name="fe_power")
    mel = g.op("MatMul", [power, g.const("fe_mel_matrix", mel_matrix())], name="fe_mel")
    mel = g.op("Mul", [mel, mel])  # the recipe's power 4
    mel = g.op("Max", [mel, g.const("fe_amin", np.float32(spectrogram.AMIN))])
    db = g.op("Mul", [g.op("Log", [mel]), g.const("fe_db", _DB_PER_LOG)])
    top = g.op("ReduceMax", [db], axes=[1, 2], keepdims=1)  # the crop's own maximum
    floor = g.op("Sub", [top, g.const("fe_top_db", np.float32(spectrogram.TOP_DB))])
    db = g.op("Max", [db, floor], name="fe_floor")
    x = g.op("Transpose", [db], perm=[0, 2, 1])
    return g.op("Unsqueeze", [x, g.ints("fe_axis3", [3])], name="fe_melgram")


def keras_frontend(audio, n_samples: int = AUDIO_SAMPLES):
    """The front end with ``keras.ops``: ``(batch, n)`` -> ``(batch, 96, frames, 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> keras_frontend(np.zeros((1, 349440), np.float32)).shape   # doctest: +SKIP
    TensorShape([1, 96, 1366, 1])
    """
    from keras import ops

    hop, half = spectrogram.HOP_LENGTH, spectrogram.N_FFT // 2
    blocks = (n_samples + 2 * half) // hop
    x = ops.pad(audio, [[0, 0], [half, half]], mode="reflect")
    x = ops.reshape(x, (-1, blocks, hop))
    frames = ops.concatenate([x[:, :-1], x[:, 1:]], axis=2)
    spec = ops.square(ops.matmul(frames, dft_matrix()))
    power = spec[..., :_BINS] + spec[..., _BINS:]
    mel = ops.square(ops.matmul(power, mel_matrix()))
    db = ops.log(ops.maximum(mel, np.float32(spectrogram.AMIN))) * _DB_PER_LOG
    db = ops.maximum(db, ops.max(db, axis=(1, 2), keepdims=True) - np.float32(spectrogram.TOP_DB))
    return ops.transpose(db, (0, 2, 1))[..., None]
