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
>>> from music_tagger.audio.reading import read_melgrams
>>> x, starts, n = read_melgrams("song.mp3", 1)      # doctest: +SKIP
>>> x.shape                                           # doctest: +SKIP
(1, 96, 1366)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable, Iterator, Union

import numpy as np

from .. import audio
from ..util.checks import one_of, positive_int
from ..vocabulary import INPUTS
from . import decode, mp3
from .resample import KAISER_BEST_2016
from .windowed import input_span, resample_window

__all__ = [
    "EXACT_SEEK_FORMATS",
    "CHUNK_CROPS",
    "DECODE_MODULES",
    "READ_MODULES",
    "AudioInfo",
    "exact_length",
    "iter_melgrams",
    "read_melgrams",
]

PathLike = Union[str, "os.PathLike[str]"]

#: libsndfile formats whose ``seek`` then ``read`` gives bit for bit what a full
#: decode has there: PCM containers, FLAC, and Ogg Vorbis (``("OGG", "VORBIS")``);
#: tested in ``tests/test_reading.py``. MP3 (mpg123) and Ogg Opus land on the right
#: sample but their first decoded values after a seek differ in the last float
#: bits (up to 1.8e-7), enough to flip a 16-bit rounding: they are decoded from
#: the start up to the end of the last window instead.
EXACT_SEEK_FORMATS = frozenset({"WAV", "WAVEX", "RF64", "W64", "AIFF", "AU", "CAF", "FLAC", ("OGG", "VORBIS")})
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
    "music_tagger.audio.reading",
)
#: Those of a read that gives samples, not log-mels (``input="audio"``): no librosa.
DECODE_MODULES = tuple(m for m in READ_MODULES if not m.startswith("librosa"))
#: Crops per chunk of :func:`iter_melgrams` by default (17 MB of spectrograms).
CHUNK_CROPS = 32
#: Frames per read when decoding sequentially: a multiple of the MPEG-1 frame
#: length (see :func:`music_tagger.audio.mp3.first_block`).
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


def exact_length(path: PathLike) -> AudioInfo | None:
    """The file's exact decoded length and format, or None where it is unknown.

    Raises the same :class:`~music_tagger.audio.AudioError` as
    :func:`music_tagger.audio.load_audio` for a missing, unreadable or empty file.

    Examples
    --------
    >>> from music_tagger.audio.reading import exact_length
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
        walked = mp3.count_samples(name)
        if walked is None:
            return None
        frames, delay = min(frames, walked), audio.MP3_DECODER_DELAY
    if frames <= 0:
        raise audio.AudioError(f"{name}: contains no audio samples")
    return AudioInfo(frames, int(info.samplerate), int(info.channels), info.format, info.subtype, delay)


# --------------------------------------------------------------------------- decoding


class _SpanReader:
    """The mono, 16-bit-rounded, delay-shifted samples ``[lo, hi)`` of a file, span
    after span, the file kept open: ``read(lo, hi)`` equals
    ``load_audio(path, sr=None)[lo:hi]`` (zero-padded past the end).

    Formats that seek exactly seek to each span. Others are decoded from the start
    in reads that end where a whole-file decode's do (:func:`music_tagger.audio.mp3.first_block`),
    keeping only the decoded frames from the start of the last span on: spans in
    time order cost one pass over the file and the memory of one span; a span
    that starts before the last one starts the decode again.

    Where those read ends are not known (:func:`music_tagger.audio.mp3.first_block` gives None), an
    ``exact`` reader decodes up to the last span's end in one read, as a
    whole-file decode does; otherwise it reads in blocks, keeping memory bounded,
    and its samples may differ from a whole-file decode's in the last float bits.
    """

    def __init__(self, path: str, info: AudioInfo, end: int, exact: bool = True) -> None:
        self.path, self.info = path, info
        self._end = min(end + info.delay, info.frames)  # the last frame any span needs
        self._first = 0
        if not info.seeks_exactly and info.format == "MP3":
            self._first = mp3.first_block(path)
            if self._first is None and not exact:
                self._first = 0
        self._file = None
        self._open()

    def _open(self) -> None:
        """(Re)open the file: a decode from the start must not follow a seek (MP3
        gives other last bits after one)."""
        import soundfile as sf

        if self._file is not None:
            self._file.close()
        try:
            self._file = sf.SoundFile(self.path)
        except (sf.LibsndfileError, RuntimeError, OSError) as err:
            raise audio.AudioError(f"{self.path}: cannot be read ({err})") from err
        self._dtype = decode.read_dtype(self._file.subtype)
        self._blocks: list[np.ndarray] = []  # decoded frames from self._start on
        self._start = self._pos = 0
        self._size = self._end if self._first is None else (self._first or _READ_BLOCK)

    def __enter__(self) -> "_SpanReader":
        return self

    def __exit__(self, *exc) -> None:
        self._file.close()

    def read(self, lo: int, hi: int) -> np.ndarray:
        """Mono float32 samples ``[lo, hi)`` of the delay-shifted signal."""
        import soundfile as sf

        d, frames = self.info.delay, self.info.frames
        a, b = lo + d, min(hi + d, frames)
        try:
            if self.info.seeks_exactly:
                self._file.seek(min(a, frames))
                data = self._file.read(max(0, b - a), dtype=self._dtype, always_2d=True)
            else:
                data = self._sequential(a, b)
        except (sf.LibsndfileError, RuntimeError, OSError) as err:
            raise audio.AudioError(f"{self.path}: cannot be read ({err})") from err
        if len(data) != max(0, b - a):
            raise audio.AudioError(f"{self.path}: ends before its header says ({a + len(data)} < {b})")
        y = decode.pcm16_mono(decode.finite_frames(data, self.path))
        if len(y) < hi - lo:  # past the end of the file
            y = np.concatenate([y, np.zeros(hi - lo - len(y), np.float32)])
        return y

    def _sequential(self, a: int, b: int) -> np.ndarray:
        if a < self._start:
            self._open()
        while self._pos < b:
            block = self._file.read(min(self._size, self._end - self._pos), dtype=self._dtype, always_2d=True)
            self._size = _READ_BLOCK
            if len(block) == 0:
                break
            self._blocks.append(block)
            self._pos += len(block)
        while self._blocks and self._start + len(self._blocks[0]) <= a:  # not needed again
            self._start += len(self._blocks.pop(0))
        parts, at = [], self._start
        for block in self._blocks:
            s, e = max(a, at), min(b, at + len(block))
            if s < e:
                parts.append(block[s - at : e - at])
            at += len(block)
        if not parts:
            return np.zeros((0, self._file.channels), self._dtype)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


# --------------------------------------------------------------------------- crops


def iter_melgrams(
    path: PathLike,
    n_crops: int | None = 1,
    *,
    resampler: str = KAISER_BEST_2016,
    starts: Callable[[int], np.ndarray] | None = None,
    chunk: int | None = CHUNK_CROPS,
    input: str = "melgram",
) -> Iterator[tuple[int, np.ndarray, np.ndarray, int]]:
    """Log-mels of a file's crops, ``chunk`` crops at a time, reading only the audio they need.

    The memory of one chunk (its crops and their samples), whatever the track's
    length or the number of crops: a taggram of a 2-hour file included.
    Concatenated, the chunks are :func:`read_melgrams`.

    Parameters
    ----------
    path, n_crops, resampler, starts
        As for :func:`read_melgrams`.
    chunk : int or None
        Crops per chunk, in the order of the starts; None: all in one.
    input : {"melgram", "audio"}
        What the network takes (:data:`music_tagger.vocabulary.INPUTS`): each crop's
        log-mel, or its 12 kHz samples, shape ``(n, 349440)`` (zero-padded at the
        end like the log-mel's input), for a network that computes the front end
        itself (the ONNX runtime); librosa is then never imported.

    Yields
    ------
    first : int
        Index of the chunk's first crop.
    melgrams : np.ndarray, shape (n, 96, 1366), float32
        Crops ``first`` to ``first + n - 1`` (their samples for ``input="audio"``).
    starts : np.ndarray of int64, shape (n_crops,)
        Start of every crop of the file, in samples at 12 kHz (the same array each time).
    length : int
        Length of the resampled track in samples at 12 kHz.

    Raises
    ------
    music_tagger.audio.AudioError
        The file is missing, unreadable or empty (before the first chunk).

    Examples
    --------
    >>> from music_tagger.audio.reading import iter_melgrams
    >>> for first, x, starts, n in iter_melgrams("long.ogg", starts=every_5_s):  # doctest: +SKIP
    ...     print(first, x.shape)
    0 (32, 96, 1366)
    32 (32, 96, 1366)
    """
    audio.check_resampler(resampler)
    chunk = positive_int(chunk, "chunk", allow_none=True)
    one_of(input, "input", INPUTS)
    if starts is None:
        starts = lambda n: audio.crop_starts(n, n_crops)  # noqa: E731
    name = os.fspath(path)
    info = exact_length(name)
    if info is None:  # length unknown without decoding: the whole-file path
        y = audio.load_audio(name, audio.SR, resampler=resampler)
        crop_at = np.asarray(starts(len(y)), dtype=np.int64)
        step = chunk or max(1, len(crop_at))
        for first in range(0, len(crop_at), step):
            yield first, _crops_of(y, crop_at[first : first + step], input), crop_at, len(y)
        return
    ratio = float(audio.SR) / info.rate
    n_fix = info.frames if info.rate == audio.SR else int(math.ceil(info.frames * ratio))
    crop_at = np.asarray(starts(n_fix), dtype=np.int64)
    step = chunk or max(1, len(crop_at))
    spans = [input_span(int(s), int(s) + audio.N_SAMPLES, info.rate, info.frames, resampler) for s in crop_at]
    # the 2016 resampler promises the whole-file samples; soxr's windows already
    # differ from them by float rounding, so its reads may too (memory stays bounded)
    exact = resampler == KAISER_BEST_2016
    with _SpanReader(name, info, max((hi for _, hi in spans), default=0), exact) as reader:
        for first in range(0, len(crop_at), step):
            at = crop_at[first : first + step]
            shape = (audio.N_MELS, audio.N_FRAMES) if input == "melgram" else (audio.N_SAMPLES,)
            mels = np.empty((len(at), *shape), np.float32)
            for (lo, hi), members in _merge(spans[first : first + step]):
                a = min(int(at[i]) for i in members)
                b = max(int(at[i]) for i in members) + audio.N_SAMPLES
                y = resample_window(reader.read(lo, hi), lo, info.rate, info.frames, resampler, a, min(b, n_fix))
                for i in members:
                    s = int(at[i]) - a
                    mels[i] = _crop(y[s : s + audio.N_SAMPLES], input)
            yield first, mels, crop_at, n_fix


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
    resampler; see the module docstring for soxr. Many crops of a long file
    (a taggram) are better read by :func:`iter_melgrams`, a chunk at a time.

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
    >>> from music_tagger.audio.reading import read_melgrams
    >>> x, s, n = read_melgrams("song.ogg", 8, resampler="soxr_hq")  # doctest: +SKIP
    """
    ((_, mels, crop_at, length),) = iter_melgrams(path, n_crops, resampler=resampler, starts=starts, chunk=None)
    return mels, crop_at, length


def _crop(y: np.ndarray, input: str) -> np.ndarray:
    """One crop's network input: its log-mel, or its samples padded to one crop."""
    y = audio.center_crop(y)
    return audio.log_melgram(y) if input == "melgram" else y


def _crops_of(y: np.ndarray, starts: np.ndarray, input: str = "melgram") -> np.ndarray:
    return np.stack([_crop(y[s : s + audio.N_SAMPLES], input) for s in starts])


def _merge(spans: list[tuple[int, int]]) -> list[tuple[tuple[int, int], list[int]]]:
    """Input spans of crops, overlapping ones merged: [((lo, hi), [crop index...])], in time order."""
    order = sorted(range(len(spans)), key=lambda i: spans[i][0])
    merged: list[tuple[list[int], list[int]]] = []  # ([lo, hi], members)
    for i in order:
        lo, hi = spans[i]
        if merged and lo <= merged[-1][0][1]:
            merged[-1][0][1] = max(merged[-1][0][1], hi)
            merged[-1][1].append(i)
        else:
            merged.append(([lo, hi], [i]))
    return [((lo, hi), members) for (lo, hi), members in merged]
