"""The log-mel spectrogram of the original 2016 tagger, from an array or a file.

The 2016 code (librosa 0.4 era) did::

    src, sr = librosa.load(path, sr=12000)
    src = centre 29.12 s crop (or zero padding at the end)
    x = logamplitude(melspectrogram(src, sr=12000, hop_length=256, n_fft=512,
                                    n_mels=96) ** 2, ref_power=1.0)

that is a Slaney mel power spectrogram (periodic Hann window, centred frames with
*reflect* padding), squared again (power 4), then ``power_to_db(ref=1.0,
amin=1e-10, top_db=80)``, on the signal of :func:`music_tagger.audio.load_audio`.

Examples
--------
>>> import numpy as np
>>> from music_tagger import audio
>>> y = np.random.default_rng(0).standard_normal(44100 * 5).astype(np.float32)
>>> audio.compute_melgram_from_array(0.1 * y, 44100).shape
(96, 1366)
>>> x = audio.compute_melgram("song.mp3")            # doctest: +SKIP
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import ParameterError
from ..util.checks import positive_int
from .decode import N_SAMPLES, SR, PathLike, center_crop, load_audio, load_crops
from .resample import KAISER_BEST_2016, check_resampler, resample

N_FFT = 512
#: The STFT hop, in samples between log-mel frames; not the taggram's hop, the seconds
#: between crops (:mod:`music_tagger.tagging.taggram`), whose finest value is one frame.
HOP_LENGTH = 256
N_MELS = 96
N_FRAMES = 1366
AMIN = 1e-10
TOP_DB = 80.0


def _as_mono(y: np.ndarray) -> np.ndarray:
    """Validate a signal of shape ``(n,)`` or ``(channels, n)`` and mean it to mono float32."""
    y = np.asarray(y)
    if not (np.issubdtype(y.dtype, np.floating) or np.issubdtype(y.dtype, np.integer)):
        raise ParameterError(f"audio must be a real numeric array, got dtype {y.dtype}")
    if y.ndim == 2:
        if y.shape[0] > y.shape[1]:
            raise ParameterError(
                f"audio of shape {y.shape} has more channels than samples: pass "
                "(channels, n), e.g. the transpose of soundfile's (frames, channels)"
            )
        y = y.mean(axis=0, dtype=np.float64 if y.dtype == np.float64 else np.float32)
    elif y.ndim != 1:
        raise ParameterError(f"audio must have shape (n,) or (channels, n), got shape {y.shape}")
    if y.size == 0:
        raise ParameterError("audio is empty (0 samples)")
    if not np.all(np.isfinite(y)):
        raise ParameterError("audio contains NaN or infinite values")
    return y.astype(np.float32, copy=False)


@lru_cache(maxsize=8)
def mel_basis(sr: int = SR, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """The Slaney mel filterbank of the recipe (``norm="slaney"``, ``htk=False``).

    Cached and read-only; the exports' in-graph front end uses it too.

    Returns
    -------
    np.ndarray, shape (n_mels, 1 + n_fft // 2), float64

    Examples
    --------
    >>> mel_basis().shape
    (96, 257)
    """
    import librosa

    basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, htk=False, norm="slaney", dtype=np.float64)
    basis.setflags(write=False)
    return basis


def log_melgram(y: np.ndarray, *, pad_mode: str = "reflect") -> np.ndarray:
    """The 2016 log-mel of a 12 kHz signal (no cropping): power-4 mel in dB.

    ``power_to_db(melspectrogram(y, sr=12000, n_fft=512, hop_length=256,
    n_mels=96) ** 2, ref=1.0, amin=1e-10, top_db=80)`` with a periodic Hann
    window and centred frames with reflect padding (librosa 0.4's behaviour).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono signal at :data:`SR`.
    pad_mode : str
        STFT edge padding; ``"reflect"`` is the 2016 behaviour.

    Returns
    -------
    np.ndarray, shape (96, 1 + n // 256), float32

    Examples
    --------
    >>> import numpy as np
    >>> from music_tagger.audio import log_melgram
    >>> log_melgram(np.ones(2560, np.float32)).shape
    (96, 11)
    """
    import librosa

    y = np.asarray(y, dtype=np.float32)
    stft = librosa.stft(y, n_fft=N_FFT, hop_length=HOP_LENGTH, window="hann", center=True, pad_mode=pad_mode)
    power = stft.real.astype(np.float64) ** 2 + stft.imag.astype(np.float64) ** 2
    mel = mel_basis() @ power
    db = librosa.power_to_db(mel**2, ref=1.0, amin=AMIN, top_db=TOP_DB)
    return db.astype(np.float32)


def compute_melgram_from_array(y: np.ndarray, sr: int, *, resampler: str = KAISER_BEST_2016) -> np.ndarray:
    """The network input of a signal: resample to 12 kHz, centre crop, log-mel.

    Unlike :func:`load_audio`, no 16-bit rounding or decoder delay is applied:
    the array is taken as it is.

    Parameters
    ----------
    y : np.ndarray, shape (n,) or (channels, n)
        The signal; channels are averaged like librosa's ``to_mono``.
    sr : int
        Its sample rate (Hz).
    resampler : {"kaiser_best_2016", "soxr_hq"}

    Returns
    -------
    np.ndarray, shape (96, 1366), float32

    Raises
    ------
    ValueError
        Wrong shape, empty or non-finite signal, ``sr <= 0``, unknown resampler.

    Examples
    --------
    >>> import numpy as np
    >>> from music_tagger.audio import compute_melgram_from_array
    >>> y = np.random.default_rng(0).standard_normal(12000 * 3).astype(np.float32)
    >>> x = compute_melgram_from_array(0.1 * y, 12000)
    >>> x.shape, x.dtype
    ((96, 1366), dtype('float32'))
    """
    check_resampler(resampler)
    sr = positive_int(sr, "sr")
    y = _as_mono(y)
    y = resample(y, sr, SR, resampler=resampler)
    return log_melgram(center_crop(y))


def compute_melgram(path: PathLike, *, resampler: str = KAISER_BEST_2016) -> np.ndarray:
    """The 2016 network input of an audio file: its centre 29.12 s as a log-mel.

    Equals the original ``audio_processor.compute_melgram(path)[0, 0]``.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file (read by :func:`music_tagger.audio.load_audio`).
    resampler : {"kaiser_best_2016", "soxr_hq"}
        As for :func:`compute_melgram_from_array`.

    Returns
    -------
    np.ndarray, shape (96, 1366), float32
        The log-mel, as :func:`compute_melgram_from_array` gives for the decoded file.

    Raises
    ------
    AudioError
        The file is missing, unreadable or empty.

    Examples
    --------
    >>> from music_tagger.audio import compute_melgram
    >>> compute_melgram("bensound-cute.mp3").shape     # doctest: +SKIP
    (96, 1366)
    """
    return log_melgram(center_crop(load_audio(path, SR, resampler=resampler)))


def compute_melgrams(path: PathLike, n_crops: int, *, resampler: str = KAISER_BEST_2016) -> np.ndarray:
    """Log-mels of ``n_crops`` crops spread over a track, for multi-crop tagging.

    The file is decoded and resampled once; each crop (from :func:`load_crops`)
    is turned into a log-mel exactly as the centre crop of
    :func:`compute_melgram` is (own reflect padding, own 80 dB floor), so
    ``compute_melgrams(path, 1)[0]`` equals ``compute_melgram(path)``.

    Parameters
    ----------
    path : str or os.PathLike
    n_crops : int
        Number of crops, at least 1.
    resampler : {"kaiser_best_2016", "soxr_hq"}

    Returns
    -------
    np.ndarray, shape (n_crops, 96, 1366), float32
        A track no longer than one crop gives a single, zero-padded crop:
        shape (1, 96, 1366).

    Examples
    --------
    >>> from music_tagger.audio import compute_melgrams
    >>> compute_melgrams("bensound-cute.mp3", 4).shape   # doctest: +SKIP
    (4, 96, 1366)
    """
    return np.stack([log_melgram(y) for y in load_crops(path, n_crops, N_SAMPLES, resampler=resampler)])
