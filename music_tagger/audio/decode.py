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

from .._checks import positive_int
from ..errors import AudioError, ParameterError
from .resample import KAISER_BEST_2016, _resample_kaiser_best_2016, check_resampler, resample

PathLike = Union[str, "os.PathLike[str]"]

SR = 12000
"""Sample rate of the network input (Hz)."""
DURATION = 29.12
"""Length of one crop in seconds."""
N_SAMPLES = 349440
"""Length of one crop in samples at :data:`SR` (``DURATION * SR``)."""
MP3_DECODER_DELAY = 529
"""Samples by which the 2016 MP3 decoder's output led today's libsndfile/mpg123 decode."""

_MPEG_BITRATES = {  # kbit/s, index 1..14; keys (mpeg1, layer)
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _parse_frame_header(h: bytes) -> dict | None:
    """Decode a 4-byte MPEG audio frame header, or None if it is not a valid one."""
    if len(h) < 4 or h[0] != 0xFF or (h[1] & 0xE0) != 0xE0:
        return None
    version = (h[1] >> 3) & 3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5, 1: reserved
    layer = 4 - ((h[1] >> 1) & 3)  # 4 means reserved
    bitrate_index = h[2] >> 4
    rate_index = (h[2] >> 2) & 3
    if version == 1 or layer == 4 or bitrate_index in (0, 15) or rate_index == 3:
        return None  # free-format (bitrate 0) frames are not followed: too rare
    mpeg1 = version == 3
    bitrate = _MPEG_BITRATES[(mpeg1, layer)][bitrate_index - 1] * 1000
    rate = _MPEG_RATES[version][rate_index]
    padding = (h[2] >> 1) & 1
    if layer == 1:
        length = (12 * bitrate // rate + padding) * 4
    else:
        per_frame = 144 if (layer == 2 or mpeg1) else 72
        length = per_frame * bitrate // rate + padding
    return {"mpeg1": mpeg1, "layer": layer, "mono": (h[3] >> 6) == 3, "length": length}


def _id3v2_end(data: bytes) -> int:
    """Offset just past a leading ID3v2 tag (0 if there is none)."""
    if len(data) >= 10 and data[:3] == b"ID3" and all(b < 0x80 for b in data[6:10]):
        size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
        footer = 10 if data[5] & 0x10 else 0
        return 10 + size + footer
    return 0


def _first_frame(data: bytes, start: int) -> tuple[int, dict] | None:
    """The first MPEG frame header at or after ``start`` that is followed by another."""
    i = data.find(b"\xff", start)
    while 0 <= i < len(data) - 4:
        info = _parse_frame_header(data[i : i + 4])
        if info is not None:
            nxt = i + info["length"]
            # a real frame is followed by another frame header (or the end of the data)
            if nxt + 4 > len(data) or _parse_frame_header(data[nxt : nxt + 4]) is not None:
                return i, info
        i = data.find(b"\xff", i + 1)
    return None


def mp3_has_gapless_header(path: PathLike, *, max_scan: int = 1 << 20) -> bool:
    """Whether an MP3 file's first frame carries a Xing/Info (LAME) or VBRI header.

    Decoders that see such a header (libsndfile's mpg123 among them) trim the
    encoder and decoder delay, so no 2016 decoder-delay correction is applied
    to such files (its effect on them is unknown; none is assumed).

    The parser skips a leading ID3v2 tag (syncsafe size) and anything else up to
    the first valid MPEG audio frame header that is followed by a second one,
    then looks for ``Xing``/``Info`` right after the side information (whose
    length depends on the MPEG version and channel mode) and ``VBRI`` at byte 36.

    Parameters
    ----------
    path : str or os.PathLike
        The MP3 file.
    max_scan : int
        How many bytes after the ID3v2 tag to search for the first frame.

    Returns
    -------
    bool
        True if a gapless/VBR info header is present, False otherwise (also when
        no MPEG frame is found).

    Examples
    --------
    >>> from music_tagger import audio
    >>> audio.mp3_has_gapless_header("bensound-cute.mp3")   # doctest: +SKIP
    False
    """
    with open(path, "rb") as f:
        head = f.read(10)
        start = _id3v2_end(head)
        f.seek(start)
        data = f.read(max_scan)
    found = _first_frame(data, 0)
    if found is None:
        return False
    i, info = found
    if info["mpeg1"]:
        side = 17 if info["mono"] else 32
    else:
        side = 9 if info["mono"] else 17
    xing = i + 4 + side
    if data[xing : xing + 4] in (b"Xing", b"Info"):
        return True
    return data[i + 36 : i + 40] == b"VBRI"


# --------------------------------------------------------------------------- loading


def _check_path(path: PathLike) -> str:
    """The path as a string; AudioError if it is missing or a folder."""
    name = os.fspath(path)
    if not os.path.exists(name):
        raise AudioError(f"{name}: no such file") from FileNotFoundError(name)
    if os.path.isdir(name):
        raise AudioError(f"{name}: is a directory, not an audio file") from IsADirectoryError(name)
    return name


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
    return data, rate, fmt


def load_audio(
    path: PathLike, sr: int | None = SR, *, resampler: str = KAISER_BEST_2016
) -> np.ndarray:
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
        return _resample_kaiser_best_2016(
            y, rate, sr, periodic=periodic, accumulated_times=accumulated_times
        )
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
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ParameterError(f"n must be a non-negative integer, got {n!r}")
    n_crops = positive_int(n_crops, "n_crops")
    n_samples = positive_int(n_samples, "n_samples")
    span = int(n) - n_samples
    if span <= 0:
        return np.zeros(1, dtype=np.int64)
    i = np.arange(int(n_crops), dtype=np.int64)
    return ((2 * i + 1) * span) // (2 * int(n_crops))
