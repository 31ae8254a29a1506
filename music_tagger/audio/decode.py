"""Decoding audio files the way the 2016 code's ``librosa.load`` did, and cropping them.

The 2016 pipeline decoded to 16-bit PCM (``clip(round(32768 y), -32768, 32767) /
32768``), averaged the channels to mono and, for an MP3 without a gapless
(Xing/Info/LAME or VBRI) header, kept the 529-sample decoder delay of the 2016
decoder (:func:`mp3_has_gapless_header`, from the MP3 frame headers). It then
resampled to 12 kHz (:mod:`music_tagger.audio.resample`) and took the centre
:data:`N_SAMPLES` samples (:func:`center_crop`).

Examples
--------
>>> from music_tagger.audio import load_audio, center_crop
>>> y = load_audio("bensound-cute.mp3")                 # doctest: +SKIP
>>> center_crop(y).shape                                # doctest: +SKIP
(349440,)
"""

from __future__ import annotations

import os
from typing import Union

import numpy as np

from ..errors import AudioError, ParameterError
from ..util.checks import non_negative_int, positive_int
from .mp3 import MP3_DECODER_DELAY, mp3_has_gapless_header
from .resample import KAISER_BEST_2016, _resample_kaiser_best_2016, check_resampler, resample

PathLike = Union[str, "os.PathLike[str]"]

SR = 12000
"""Sample rate of the network input (Hz)."""
DURATION = 29.12
"""Length of one crop in seconds."""
N_SAMPLES = 349440
"""Length of one crop in samples at :data:`SR` (``DURATION * SR``)."""
# --------------------------------------------------------------------------- loading


def _check_path(path: PathLike) -> str:
    """The path as a string; AudioError if it is missing, a folder, or not a regular
    file (a FIFO or a device would block the read, or never end)."""
    name = os.fspath(path)
    if not os.path.exists(name):
        raise AudioError(f"{name}: no such file") from FileNotFoundError(name)
    if os.path.isdir(name):
        raise AudioError(f"{name}: is a directory, not an audio file") from IsADirectoryError(name)
    if not os.path.isfile(name):
        raise AudioError(f"{name}: is not a regular file (a FIFO, socket or device), not read")
    return name


def finite_frames(data: np.ndarray, name: str) -> np.ndarray:
    """``data`` as decoded, or an AudioError if a sample is NaN or infinite.

    Every sample read from a file passes here, before the 16-bit rounding that
    would clip an infinity to full scale and carry a NaN into the scores.

    Examples
    --------
    >>> finite_frames(np.array([[0.5], [np.nan]]), "x.wav")
    Traceback (most recent call last):
    ...
    music_tagger.errors.AudioError: x.wav: the audio contains NaN or infinite samples
    """
    if not np.isfinite(data).all():
        raise AudioError(f"{name}: the audio contains NaN or infinite samples")
    return data


#: libsndfile subtypes whose samples a float32 read holds exactly: integers of up
#: to 24 bits (scaled by a power of two) and the codecs that decode to float32.
#: They are read as float32 (half the memory of float64, the same 16-bit PCM
#: afterwards: a test compares both reads); any other subtype as float64.
FLOAT32_EXACT_SUBTYPES = frozenset(
    {
        "PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "FLOAT", "ULAW", "ALAW",
        "VORBIS", "OPUS", "MPEG_LAYER_I", "MPEG_LAYER_II", "MPEG_LAYER_III",
    }
)  # fmt: skip


def read_dtype(subtype: str) -> str:
    """The soundfile read dtype for a libsndfile ``subtype``: "float32" where exact.

    Examples
    --------
    >>> read_dtype("PCM_16"), read_dtype("PCM_32")
    ('float32', 'float64')
    """
    return "float32" if subtype in FLOAT32_EXACT_SUBTYPES else "float64"


def pcm16_mono(data: np.ndarray) -> np.ndarray:
    """Decoded frames x channels to mono float32 the 2016 way: 16-bit PCM, then the mean.

    Bit for bit ``(np.clip(np.round(data * 32768), -32768, 32767) / 32768).astype(
    np.float32).mean(axis=1, dtype=np.float32)``, about ten times faster: with a
    power-of-two number of channels the sum of the 16-bit values and the division
    by the channel count are exact in any precision, so they are done on whole
    columns; other channel counts (5.1...) take the formula as written.

    Parameters
    ----------
    data : np.ndarray, shape (frames, channels), float32 or float64

    Returns
    -------
    np.ndarray, shape (frames,), float32

    Examples
    --------
    >>> import numpy as np
    >>> pcm16_mono(np.array([[0.5, 0.25], [1.5, -2.0]]))  # the second frame clips
    array([ 3.7500000e-01, -1.5258789e-05], dtype=float32)
    """
    k = data * 32768.0
    np.rint(k, out=k)
    np.clip(k, -32768, 32767, out=k)
    channels = k.shape[1]
    if channels & (channels - 1):
        return (k / 32768.0).astype(np.float32).mean(axis=1, dtype=np.float32)
    y = k[:, 0].copy()
    for c in range(1, channels):
        y += k[:, c]
    y *= 1.0 / (32768 * channels)
    return y.astype(np.float32, copy=False)


def _decode(path: PathLike) -> tuple[np.ndarray, int, str]:
    """Decode a file with soundfile: (frames x channels, rate, format).

    The frames are float32 where that is exact (:func:`read_dtype`), else float64.
    """
    import soundfile as sf

    name = _check_path(path)
    try:
        with sf.SoundFile(name) as f:
            fmt = f.format
            data = f.read(dtype=read_dtype(f.subtype), always_2d=True)
            rate = f.samplerate
    except sf.LibsndfileError as err:
        raise AudioError(f"{name}: not an audio file or unsupported format ({err})") from err
    except (RuntimeError, OSError) as err:
        raise AudioError(f"{name}: cannot be read ({err})") from err
    if data.shape[0] == 0:
        raise AudioError(f"{name}: contains no audio samples")
    return finite_frames(data, name), rate, fmt


def load_audio(path: PathLike, sr: int | None = SR, *, resampler: str = KAISER_BEST_2016) -> np.ndarray:
    """Load an audio file as mono float32, the way the 2016 code's ``librosa.load`` did.

    Decodes with soundfile (libsndfile; WAV, FLAC, OGG, MP3, ...), rounds to
    16-bit PCM like the 2016 decoder, averages the channels, applies the 2016
    MP3 decoder delay (:data:`MP3_DECODER_DELAY` samples) to MP3 files without a
    gapless header, and resamples to ``sr``.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.
    sr : int or None
        Target sample rate (default 12000); None keeps the file's rate.
    resampler : {"kaiser_best_2016", "soxr_hq"}
        ``"kaiser_best_2016"`` (default) reproduces the 2016 resampler;
        ``"soxr_hq"`` is faster and about 0.03 dB (mean) away in the spectrogram.

    Returns
    -------
    np.ndarray, shape (n,), float32

    Raises
    ------
    AudioError
        The file is missing, unreadable, not audio, or empty.

    Examples
    --------
    >>> from music_tagger.audio import load_audio
    >>> y = load_audio("bensound-cute.mp3")            # doctest: +SKIP
    >>> y.dtype, y.shape                                # doctest: +SKIP
    (dtype('float32'), (375223,))
    """
    check_resampler(resampler)
    if sr is not None:
        sr = positive_int(sr, "sr")
    data, rate, fmt = _decode(path)
    delay = MP3_DECODER_DELAY if fmt == "MP3" and not mp3_has_gapless_header(path) else 0
    return _signal(data, rate, sr, resampler=resampler, delay=delay)


def _signal(
    data: np.ndarray,
    rate: int,
    sr: int | None,
    *,
    resampler: str,
    delay: int,
    pcm16: bool = True,
    periodic: bool = False,
    accumulated_times: bool = True,
) -> np.ndarray:
    """The steps of :func:`load_audio` after decoding (frames x channels at ``rate``).

    ``pcm16``, ``periodic`` and ``accumulated_times`` are there for the tests that
    leave one 2016 detail out at a time and show that the output moves away from the
    original spectrograms.
    """
    y = pcm16_mono(data) if pcm16 else data.astype(np.float32).mean(axis=1, dtype=np.float32)
    if delay:
        d = min(delay, len(y))
        y = np.concatenate([y[d:], np.zeros(d, np.float32)])
    if sr is None or sr == rate:
        return y
    if resampler == KAISER_BEST_2016:
        return _resample_kaiser_best_2016(y, rate, sr, periodic=periodic, accumulated_times=accumulated_times)
    return resample(y, rate, sr, resampler=resampler)


# --------------------------------------------------------------------------- cropping


def center_crop(y: np.ndarray, n_samples: int = N_SAMPLES) -> np.ndarray:
    """The original crop rule: the centre ``n_samples``, or zero padding at the end.

    A longer signal gives ``y[(n - n_samples) // 2 : (n + n_samples) // 2]``.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    n_samples : int

    Returns
    -------
    np.ndarray, shape (n_samples,)

    Examples
    --------
    >>> import numpy as np
    >>> from music_tagger.audio import center_crop
    >>> center_crop(np.arange(7), 4)
    array([1, 2, 3, 4])
    >>> center_crop(np.arange(3), 4)
    array([0, 1, 2, 0])
    """
    y = np.asarray(y)
    n_samples = positive_int(n_samples, "n_samples")
    if y.ndim != 1:
        raise ParameterError(f"y must be one-dimensional, got shape {y.shape}")
    n = len(y)
    if n < n_samples:
        return np.concatenate([y, np.zeros(n_samples - n, dtype=y.dtype)])
    return y[(n - n_samples) // 2 : (n + n_samples) // 2]


def crop_starts(n: int, n_crops: int, n_samples: int = N_SAMPLES) -> np.ndarray:
    """Start offsets of ``n_crops`` crops spread evenly over a track of ``n`` samples.

    Crop ``i`` starts at ``((2 i + 1) (n - n_samples)) // (2 n_crops)``: the crops
    are centred in ``n_crops`` equal parts of the range of possible starts, so
    ``n_crops=1`` gives exactly the centre crop of :func:`center_crop`. A track no
    longer than one crop gives ``[0]`` (a single, zero-padded crop).

    Parameters
    ----------
    n : int
        Length of the track in samples.
    n_crops : int
        Number of crops, at least 1.
    n_samples : int
        Length of one crop.

    Returns
    -------
    np.ndarray of int64, shape (n_crops,) or (1,)

    Examples
    --------
    >>> from music_tagger.audio import crop_starts
    >>> crop_starts(1000, 1, 100)
    array([450])
    >>> crop_starts(1000, 3, 100)
    array([150, 450, 750])
    >>> crop_starts(50, 3, 100)
    array([0])
    """
    n = non_negative_int(n, "n")
    n_crops = positive_int(n_crops, "n_crops")
    n_samples = positive_int(n_samples, "n_samples")
    span = int(n) - n_samples
    if span <= 0:
        return np.zeros(1, dtype=np.int64)
    i = np.arange(int(n_crops), dtype=np.int64)
    return ((2 * i + 1) * span) // (2 * int(n_crops))


def load_crops(
    path: PathLike,
    n_crops: int,
    n_samples: int = N_SAMPLES,
    *,
    sr: int = SR,
    resampler: str = KAISER_BEST_2016,
) -> np.ndarray:
    """Raw audio crops spread over a track: :func:`load_audio`, then :func:`crop_starts`.

    What a network on raw audio takes (the compact convnet: 348,000 samples, 29 s at
    12 kHz); each crop is cut like :func:`center_crop` (zero padding at the end of a
    short track), so ``n_crops=1`` gives the centre crop.

    Parameters
    ----------
    path : str or os.PathLike
    n_crops : int
        Number of crops, at least 1.
    n_samples : int
        Length of one crop.
    sr : int
        Sample rate to resample to.
    resampler : {"kaiser_best_2016", "soxr_hq"}

    Returns
    -------
    np.ndarray, shape (n_crops, n_samples) or (1, n_samples), float32
        A track no longer than one crop gives a single, zero-padded crop.

    Examples
    --------
    >>> from music_tagger.audio import load_crops
    >>> load_crops("bensound-cute.mp3", 2, 348000).shape      # doctest: +SKIP
    (2, 348000)
    """
    n_crops = positive_int(n_crops, "n_crops")
    y = load_audio(path, sr, resampler=resampler)
    starts = crop_starts(len(y), n_crops, n_samples)
    return np.stack([center_crop(y[s : s + n_samples], n_samples) for s in starts])
