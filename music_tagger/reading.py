"""Read only the audio a crop needs: windowed decoding and resampling.

:func:`music_tagger.audio.compute_melgram` decodes and resamples a whole file,
then keeps its centre 29.12 s. On a 5-minute track that is about ten times the
work the crop needs, and on a 2-hour file several gigabytes of memory. This
module computes the same crops from the samples they depend on:

1. the exact length of the file, from its header (for an MP3 without a gapless
   header, where libsndfile only estimates it, by walking the MPEG frames:
   :func:`exact_length`);
2. the crop starts at 12 kHz, exactly as the whole-file path places them
   (:func:`music_tagger.audio.crop_starts` on the resampled length);
3. for each crop the input samples it depends on: the crop plus the resampler's
   filter margin (:func:`input_span`), shifted by the 529-sample MP3 decoder
   delay where :func:`music_tagger.audio.load_audio` applies it;
4. those samples only: seeking where libsndfile seeks exactly
   (:data:`EXACT_SEEK_FORMATS`, each checked by a test against a full decode),
   otherwise decoding from the start up to the last window's end, in reads that
   end where a whole-file decode's do (MP3 decodes depend on that in the last
   float bits);
5. the 16-bit rounding and channel mean of :func:`~music_tagger.audio.load_audio`,
   then the resampler on the window alone, with the output times of the whole
   file (the 2016 resampler's accumulated float times included).

For ``resampler="kaiser_best_2016"`` (the faithful mode) a crop equals the
whole-file crop to float rounding (the tests bound the score difference by 1e-6
on the example clips and on long generated files of every supported format).
For ``"soxr_hq"`` a window is resampled on its own, 4096 input samples of margin
each side and its start on the resampler's output grid; its samples differ from
the whole-file ones by float rounding only where soxr's block boundaries fall
differently (measured in the tests). Crops that overlap share one window, so a
track shorter than its crops is still decoded once.

Examples
--------
>>> from music_tagger.reading import read_melgrams
>>> x, starts, n = read_melgrams("song.mp3", 1)      # doctest: +SKIP
>>> x.shape                                           # doctest: +SKIP
(1, 96, 1366)
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable, Union

import numpy as np

from . import audio
from .audio import decode
from .audio.resample import (
    KAISER_BEST_2016,
    _filter_tables,
    _KB_PRECISION,
    _MAX_PHASES,
    _resample_grouped,
    _resample_polyphase,
)

__all__ = [
    "EXACT_SEEK_FORMATS",
    "READ_MODULES",
    "AudioInfo",
    "exact_length",
    "input_span",
    "read_melgrams",
]

PathLike = Union[str, "os.PathLike[str]"]

#: libsndfile formats whose ``seek`` then ``read`` gives bit for bit what a full
#: decode has there: PCM containers, FLAC, and Ogg Vorbis (``("OGG", "VORBIS")``);
#: tested in ``tests/test_reading.py``. MP3 (mpg123) and Ogg Opus land on the right
#: sample but their first decoded values after a seek differ in the last float
#: bits (up to 1.8e-7), enough to flip a 16-bit rounding: they are decoded from
#: the start up to the end of the last window instead.
EXACT_SEEK_FORMATS = frozenset(
    {"WAV", "WAVEX", "RF64", "W64", "AIFF", "AU", "CAF", "FLAC", ("OGG", "VORBIS")}
)
#: The modules a first :func:`read_melgrams` call imports (librosa loads its
#: submodules lazily, on first use: about 1.5 s, then 0.5 s of numba caches). A
#: process about to start reading workers imports them first, so that every
#: worker inherits them instead of importing them again.
READ_MODULES = (
    "soundfile",
    "soxr",
    "scipy.signal.windows",
    "librosa.util.utils",
    "librosa.core.spectrum",
    "librosa.filters",
    "music_tagger.reading",
)
#: Input samples of margin around a window for the soxr resampler.
SOXR_MARGIN = 4096
#: Frames per read when decoding sequentially: a multiple of the MPEG-1 frame
#: length (see :func:`_mp3_first_block`).
_READ_BLOCK = 1152 * 256


@dataclass(frozen=True)
class AudioInfo:
    """What is known about a file before decoding it.

    Attributes
    ----------
    frames : int
        Exact number of decoded frames (at ``rate``).
    rate : int
        Sample rate (Hz).
    channels : int
    format, subtype : str
        libsndfile's format and subtype names ("MP3", "OGG", "WAV"...; "VORBIS",
        "PCM_16"...).
    delay : int
        Samples dropped at the start (and zero-padded at the end) by
        :func:`music_tagger.audio.load_audio`: the 2016 MP3 decoder delay, or 0.
    """

    frames: int
    rate: int
    channels: int
    format: str
    subtype: str
    delay: int

    @property
    def seeks_exactly(self) -> bool:
        """Whether the format is in :data:`EXACT_SEEK_FORMATS`."""
        return self.format in EXACT_SEEK_FORMATS or (self.format, self.subtype) in EXACT_SEEK_FORMATS


# --------------------------------------------------------------------------- length


def _mp3_frame_walk(path: PathLike) -> int | None:
    """Decoded length of an MP3 without a gapless header: frames x samples per frame.

    Without a Xing/Info/VBRI header libsndfile's mpg123 decodes every frame, so
    the length is the number of MPEG frames times 1152 (MPEG-1 layer II/III), 576
    (MPEG-2/2.5 layer III) or 384 (layer I). Returns None when the frame chain is
    broken anywhere (junk between frames, a truncated frame): the caller then
    decodes the whole file instead of trusting a count.
    """
    with open(path, "rb") as f:
        data = f.read()
    found = decode._first_frame(data, decode._id3v2_end(data[:10]))
    if found is None:
        return None
    i, info = found
    samples = 0
    while i + 4 <= len(data):
        info = decode._parse_frame_header(data[i : i + 4])
        if info is None:
            break
        if i + info["length"] > len(data):
            return None  # truncated last frame: mpg123's handling is not modelled
        if info["layer"] == 1:
            samples += 384
        elif info["layer"] == 2 or info["mpeg1"]:
            samples += 1152
        else:
            samples += 576
        i += info["length"]
    rest = data[i:]
    # only an ID3v1 tag (and an APE/Lyrics tag before it is not handled) may follow
    if rest and not (len(rest) == 128 and rest.startswith(b"TAG")):
        return None
    return samples


def exact_length(path: PathLike) -> AudioInfo | None:
    """The file's exact decoded length and format, or None where it is unknown.

    Raises the same :class:`~music_tagger.audio.AudioError` as
    :func:`music_tagger.audio.load_audio` for a missing, unreadable or empty file.

    Examples
    --------
    >>> from music_tagger.reading import exact_length
    >>> exact_length("song.wav")                  # doctest: +SKIP
    AudioInfo(frames=1323000, rate=44100, channels=2, format='WAV', subtype='PCM_16', delay=0)
    """
    import soundfile as sf

    name = decode._check_path(path)
    try:
        info = sf.info(name)
    except sf.LibsndfileError as err:
        raise audio.AudioError(f"{name}: not an audio file or unsupported format ({err})") from err
    except (RuntimeError, OSError) as err:
        raise audio.AudioError(f"{name}: cannot be read ({err})") from err
    frames, delay = int(info.frames), 0
    if info.format == "MP3" and not audio.mp3_has_gapless_header(name):
        # libsndfile estimates the length from the first frame and stops decoding
        # there; it decodes every frame when the estimate is longer
        walked = _mp3_frame_walk(name)
        if walked is None:
            return None
        frames, delay = min(frames, walked), audio.MP3_DECODER_DELAY
    if frames <= 0:
        raise audio.AudioError(f"{name}: contains no audio samples")
    return AudioInfo(
        frames, int(info.samplerate), int(info.channels), info.format, info.subtype, delay
    )


# --------------------------------------------------------------------------- spans


def _kaiser_reach(rate: int) -> int:
    """Most input samples one 2016-resampler output reads on either side of its time."""
    ratio = audio.SR / rate
    scale = min(1.0, ratio)
    win, _ = _filter_tables(ratio)
    return len(win) // int(scale * 2**_KB_PRECISION) + 2


def input_span(start: int, stop: int, rate: int, n_in: int, resampler: str) -> tuple[int, int]:
    """Input samples ``[lo, hi)`` that outputs ``[start, stop)`` at 12 kHz depend on.

    Parameters
    ----------
    start, stop : int
        Output samples at :data:`music_tagger.audio.SR`.
    rate : int
        The file's sample rate.
    n_in : int
        The file's length in samples (the span is clipped to ``[0, n_in)``).
    resampler : {"kaiser_best_2016", "soxr_hq"}

    Returns
    -------
    (int, int)

    Examples
    --------
    >>> from music_tagger.reading import input_span
    >>> input_span(1000, 2000, 12000, 10**6, "soxr_hq")
    (1000, 2000)
    """
    if rate == audio.SR:
        return max(0, start), min(n_in, stop)
    reach = _kaiser_reach(rate) if resampler == KAISER_BEST_2016 else SOXR_MARGIN
    g = math.gcd(rate, audio.SR)
    p, q = audio.SR // g, rate // g
    if resampler == KAISER_BEST_2016:
        k = -(-32 // p)
        p, q = k * p, k * q  # the polyphase blocks of the whole-file resampler
        blocks = -(-reach // q) + 1
    else:
        blocks = -(-reach // q)
    first = max(0, start // p - blocks) * q  # a block start: on the output grid
    last = (-(-stop // p) + blocks) * q + reach
    return first, min(n_in, last)


# --------------------------------------------------------------------------- resampling


def _accumulated_times(first: int, count: int, ratio: float) -> np.ndarray:
    """``audio._time_registers(n, ratio)[first:first + count]`` in bounded memory.

    The 2016 loop summed ``1 / ratio`` sequentially from 0.0; the running sum is
    carried from chunk to chunk, so every value is the same float64 addition.
    """
    inc = 1.0 / ratio
    chunk = 1 << 20
    before: float | None = None  # time of output i0 - 1
    i0 = 0

    def run(n: int) -> np.ndarray:
        if before is None:
            seq = np.full(n, inc)
            seq[0] = 0.0
            return np.cumsum(seq)
        seq = np.full(n + 1, inc)
        seq[0] = before
        return np.cumsum(seq)[1:]

    while i0 + chunk <= first:
        before = float(run(chunk)[-1])
        i0 += chunk
    return run(first + count - i0)[first - i0 :]


def _kaiser_window(x: np.ndarray, lo: int, n_in: int, rate: int, start: int, stop: int) -> np.ndarray:
    """Outputs ``[start, stop)`` of ``resample_kaiser_best_2016(full, rate, SR)``.

    ``x`` holds the full signal's samples ``[lo, lo + len(x))``, covering every
    sample those outputs read (zeros are assumed only beyond the file's ends).
    The polyphase blocks are those of the whole-file call, started a few blocks
    early so that the first kept block sees its real left context; outputs whose
    accumulated float time differs from the exact one are recomputed from it, as
    in :func:`music_tagger.audio.resample_kaiser_best_2016`.
    """
    ratio = float(audio.SR) / rate
    n_out = int(n_in * ratio)  # outputs of the resampler; the rest is fix_length's zeros
    out = np.zeros(stop - start)
    stop_r = min(stop, n_out)
    if stop_r <= start:
        return out
    num_table = 2**_KB_PRECISION
    scale = min(1.0, ratio)
    win, delta = _filter_tables(ratio)
    g = math.gcd(rate, audio.SR)
    p, q = audio.SR // g, rate // g
    times = _accumulated_times(start, stop_r - start, ratio)
    n = times.astype(np.int64)
    frac = scale * (times - n)
    if p <= _MAX_PHASES:
        k = -(-32 // p)
        big_p, big_q = k * p, k * q
        reach = _kaiser_reach(rate)
        m0 = max(0, start // big_p - (-(-reach // big_q) + 1))
        first = m0 * big_p  # first output computed (a block start)
        seg = x[m0 * big_q - lo :]  # input_span started the window at this block
        got = _resample_polyphase(
            seg, big_p, big_q, stop_r - first, win, delta, scale, num_table
        )[start - first :]
        t = np.arange(start, stop_r)
        n_exact = (t * q) // p
        frac_exact = scale * ((t * q) % p) / p
        bad = n != n_exact
        for a, b in ((frac, frac_exact), (scale - frac, scale - frac_exact)):
            bad |= (a * num_table).astype(np.int64) != (b * num_table).astype(np.int64)
        if bad.any():
            idx = np.flatnonzero(bad)
            got[idx] = _grouped(x, lo, n[idx], frac[idx], win, delta, scale, num_table)
    else:
        got = _grouped(x, lo, n, frac, win, delta, scale, num_table)
    out[: stop_r - start] = got
    return out


def _grouped(x, lo, n, frac, win, delta, scale, num_table) -> np.ndarray:
    """resampy's per-output sum for outputs reading around ``n`` (absolute indices)."""
    return _resample_grouped(x, n - lo, frac, win, delta, scale, num_table)


def _soxr_window(x: np.ndarray, lo: int, rate: int, n_in: int, start: int, stop: int) -> np.ndarray:
    """Outputs ``[start, stop)`` of soxr_hq on the whole file, from ``x = full[lo:hi]``.

    ``lo`` is on the output grid (``lo * SR / rate`` is an integer), so output ``j``
    of the window is output ``lo * SR / rate + j`` of the whole file.
    """
    import soxr

    g = math.gcd(rate, audio.SR)
    offset = lo * (audio.SR // g) // (rate // g)
    hi = lo + len(x)
    n_fix = int(math.ceil(hi * (float(audio.SR) / rate))) - offset if hi == n_in else None
    y = soxr.resample(x.astype(np.float32), rate, audio.SR, quality="soxr_hq")
    if n_fix is not None:  # the window reaches the file's end: librosa's fix_length
        y = np.pad(y, (0, max(0, n_fix - len(y))))[:n_fix]
    out = y[start - offset : stop - offset]
    return np.pad(out, (0, stop - start - len(out)))


# --------------------------------------------------------------------------- decoding


def _decode_spans(path: str, info: AudioInfo, spans: list[tuple[int, int]]) -> list[np.ndarray]:
    """The mono, 16-bit-rounded, delay-shifted samples ``[lo, hi)`` of each span.

    Equals ``load_audio(path, sr=None)[lo:hi]`` for every span.
    """
    import soundfile as sf

    d = info.delay
    wanted = [(lo + d, min(hi + d, info.frames)) for lo, hi in spans]
    out: list[np.ndarray] = []
    try:
        with sf.SoundFile(path) as f:
            dtype = decode.read_dtype(f.subtype)
            if info.seeks_exactly:
                for a, b in wanted:
                    f.seek(min(a, info.frames))
                    out.append(f.read(max(0, b - a), dtype=dtype, always_2d=True))
            else:
                first = _mp3_first_block(path) if info.format == "MP3" else 0
                out = _read_sequentially(f, wanted, first, dtype)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise audio.AudioError(f"{path}: cannot be read ({err})") from err
    mono = []
    for (lo, hi), (a, b), data in zip(spans, wanted, out):
        if len(data) != max(0, b - a):
            raise audio.AudioError(f"{path}: ends before its header says ({a + len(data)} < {b})")
        y = decode.pcm16_mono(data)
        mono.append(np.concatenate([y, np.zeros(hi - lo - len(y), np.float32)]))
    return mono


def _mp3_first_block(path: str) -> int | None:
    """Frames of the first read that puts every later read on an MPEG frame boundary.

    libsndfile's MP3 decode gives different last float bits when reads end
    inside an MPEG frame (measured: up to 1.8e-7 from there on), so a
    sequential decode must cut where a whole-file read does. An MPEG-1 file
    without a gapless header starts on a frame (0); with a LAME header the
    decoder drops the encoder delay of the LAME tag plus 529 samples first.
    None when that is not known (MPEG-2/2.5, a gapless header without a LAME
    tag): the caller then decodes up to the window's end in one read.
    """
    with open(path, "rb") as fh:
        head = fh.read(10)
        fh.seek(decode._id3v2_end(head))
        data = fh.read(1 << 16)
    found = decode._first_frame(data, 0)
    if found is None or not found[1]["mpeg1"] or found[1]["layer"] != 3:
        return None
    i, info = found
    if not audio.mp3_has_gapless_header(path):
        return 0
    lame = data.find(b"LAME", i, i + info["length"])
    if lame < 0:
        return None
    k = lame + 21  # 12-bit encoder delay, 12-bit padding
    delay = (data[k] << 4) | (data[k + 1] >> 4)
    return -(delay + audio.MP3_DECODER_DELAY) % 1152


def _read_sequentially(
    f, wanted: list[tuple[int, int]], first: int | None, dtype: str
) -> list[np.ndarray]:
    """Decode from the start up to the last span's end, keeping only the spans.

    ``first``: frames of the first read (then reads of :data:`_READ_BLOCK`), or
    None for a single read up to the end.
    """
    end = max(b for _, b in wanted)
    parts: list[list[np.ndarray]] = [[] for _ in wanted]
    pos = 0
    size = end if first is None else (first or _READ_BLOCK)
    while pos < end:
        block = f.read(min(size, end - pos), dtype=dtype, always_2d=True)
        size = _READ_BLOCK
        if len(block) == 0:
            break
        for i, (a, b) in enumerate(wanted):
            s, e = max(a, pos), min(b, pos + len(block))
            if s < e:
                parts[i].append(block[s - pos : e - pos])
        pos += len(block)
    return [
        np.concatenate(p) if p else np.zeros((0, f.channels), dtype) for p in parts
    ]


# --------------------------------------------------------------------------- crops


def read_melgrams(
    path: PathLike,
    n_crops: int | None = 1,
    *,
    resampler: str = KAISER_BEST_2016,
    starts: Callable[[int], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Log-mels of a file's crops, reading only the audio they need.

    Equals :func:`music_tagger.audio.compute_melgrams` (``n_crops=1``:
    :func:`~music_tagger.audio.compute_melgram`) to float rounding with the 2016
    resampler; see the module docstring for soxr.

    Parameters
    ----------
    path : str or os.PathLike
    n_crops : int or None
        Crops spread evenly over the track (:func:`music_tagger.audio.crop_starts`).
    resampler : {"kaiser_best_2016", "soxr_hq"}
    starts : callable, optional
        Instead of ``n_crops``: a function of the track's length at 12 kHz that
        returns the crop starts (in samples at 12 kHz), e.g. a taggram's hop.

    Returns
    -------
    melgrams : np.ndarray, shape (n, 96, 1366), float32
    starts : np.ndarray of int64, shape (n,)
        Start of each crop, in samples at 12 kHz.
    length : int
        Length of the resampled track in samples at 12 kHz.

    Raises
    ------
    music_tagger.audio.AudioError
        The file is missing, unreadable or empty.

    Examples
    --------
    >>> from music_tagger.reading import read_melgrams
    >>> x, s, n = read_melgrams("song.ogg", 8, resampler="soxr_hq")  # doctest: +SKIP
    """
    audio.check_resampler(resampler)
    if starts is None:
        starts = lambda n: audio.crop_starts(n, n_crops)  # noqa: E731
    name = os.fspath(path)
    info = exact_length(name)
    if info is None:  # length unknown without decoding: the whole-file path
        y = audio.load_audio(name, audio.SR, resampler=resampler)
        return _crops_of(y, np.asarray(starts(len(y)), np.int64)), np.asarray(starts(len(y))), len(y)
    ratio = float(audio.SR) / info.rate
    n_fix = info.frames if info.rate == audio.SR else int(math.ceil(info.frames * ratio))
    crop_at = np.asarray(starts(n_fix), dtype=np.int64)
    windows = _merge(
        [(int(s), int(s) + audio.N_SAMPLES) for s in crop_at], info, resampler
    )
    mels = np.empty((len(crop_at), audio.N_MELS, audio.N_FRAMES), np.float32)
    spans = [span for span, _ in windows]
    for (lo, hi), x, (_, members) in zip(spans, _decode_spans(name, info, spans), windows):
        a = min(int(crop_at[i]) for i in members)
        b = max(int(crop_at[i]) for i in members) + audio.N_SAMPLES
        y = _resample_window(x, lo, info, resampler, a, min(b, n_fix))
        for i in members:
            s = int(crop_at[i]) - a
            mels[i] = audio.log_melgram(audio.center_crop(y[s : s + audio.N_SAMPLES]))
    return mels, crop_at, n_fix


def _crops_of(y: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.stack([audio.log_melgram(audio.center_crop(y[s : s + audio.N_SAMPLES])) for s in starts])


def _merge(crops: list[tuple[int, int]], info: AudioInfo, resampler: str):
    """Input spans of the crops, overlapping ones merged: [((lo, hi), [crop index...])]."""
    order = sorted(range(len(crops)), key=lambda i: crops[i][0])
    merged: list[tuple[list[int], list[int]]] = []  # ([lo, hi], members)
    for i in order:
        lo, hi = input_span(*crops[i], info.rate, info.frames, resampler)
        if merged and lo <= merged[-1][0][1]:
            merged[-1][0][1] = max(merged[-1][0][1], hi)
            merged[-1][1].append(i)
        else:
            merged.append(([lo, hi], [i]))
    return [((lo, hi), members) for (lo, hi), members in merged]


def _resample_window(
    x: np.ndarray, lo: int, info: AudioInfo, resampler: str, start: int, stop: int
) -> np.ndarray:
    """Outputs ``[start, stop)`` at 12 kHz of the whole file, from its samples ``x = full[lo:]``."""
    if info.rate == audio.SR:
        return x[start - lo : stop - lo]
    if resampler == KAISER_BEST_2016:
        return _kaiser_window(x.astype(np.float64), lo, info.frames, info.rate, start, stop).astype(np.float32)
    return _soxr_window(x, lo, info.rate, info.frames, start, stop)
