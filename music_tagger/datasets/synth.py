"""Synthetic, labelled music-like clips in the MagnaTagATune layout.

:func:`make_mtt_like` renders short clips whose tags follow from how each was made,
and writes them exactly as MagnaTagATune is distributed: a tab-separated
``annotations_final.csv`` (``clip_id``, one 0/1 column per tag, ``mp3_path``) and MP3
files in the folders ``0`` .. ``f``. It lets the readers, training and evaluation run
end to end without the real data set, and a small CNN/CRNN on log-mel spectrograms
can learn its tags.

Each clip draws, with a seeded generator:

- a source: ``guitar`` (plucked: decaying harmonics), ``organ`` (sustained harmonics)
  or ``noisy`` (band-limited noise swells); ``tonal`` marks the first two;
- a register, ``low`` or ``high`` (fundamentals or noise band);
- for tonal clips, ``chord`` (a major or minor triad) or a single tone;
- a tempo, ``fast`` or ``slow``, at which notes (and drum hits) start;
- ``percussive`` or not: short broadband noise bursts on the beats;
- a level, ``loud`` or ``quiet`` (about 22 dB apart).

Within each split every level of every factor is dealt out evenly before
shuffling, so every tag is present in train, valid and test. A few rare
:data:`DECOY_TAGS`, unrelated to the audio, are mixed into the columns so that a
top-n tag selection has something to leave out.

Examples
--------
>>> from music_tagger.datasets.synth import make_mtt_like
>>> root = make_mtt_like("/tmp/mtt_like", n_clips=60, seed=0)   # doctest: +SKIP
>>> sorted(p.name for p in root.iterdir())[:3]                  # doctest: +SKIP
['0', '1', '2']
"""

from __future__ import annotations

import csv
import os
from numbers import Integral
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import AudioError, ParameterError
from ..util.files import check_output

#: Tags that follow from how a clip is rendered.
TAGS = [
    "guitar",
    "organ",
    "noisy",
    "tonal",
    "chord",
    "low",
    "high",
    "fast",
    "slow",
    "percussive",
    "loud",
    "quiet",
]
#: Rare tags assigned at random (probability :data:`DECOY_RATE`), unrelated to audio.
DECOY_TAGS = ["choir", "harpsichord", "sitar", "vocal", "whistle"]
DECOY_RATE = 0.03

#: Folders of the conventional MagnaTagATune split.
SPLIT_FOLDERS = {"train": "0123456789ab", "valid": "c", "test": "def"}
#: Share of the clips in the valid and test splits (the rest is train).
SPLIT_SHARES = {"valid": 0.15, "test": 0.25}
#: Fewest clips per split, so that every tag can occur in each.
MIN_CLIPS_PER_SPLIT = 3

_SOURCES = ("guitar", "organ", "noisy")
_REGISTERS = {"low": (40, 55), "high": (76, 88)}  # MIDI notes of fundamentals
_NOISE_BANDS = {"low": (80.0, 500.0), "high": (2000.0, 5000.0)}  # Hz
_BEAT_SECONDS = {"fast": (0.22, 0.3), "slow": (0.7, 0.95)}
_PEAK = {"loud": 0.9, "quiet": 0.07}


def _deal(rng: np.random.Generator, levels: tuple, n: int) -> np.ndarray:
    """``n`` levels, each level dealt as evenly as possible, in random order."""
    return rng.permutation(np.resize(np.asarray(levels, dtype=object), n))


def _draw_specs(rng: np.random.Generator, n: int) -> list[dict]:
    """Render settings of ``n`` clips of one split (see the module docstring)."""
    sources = _deal(rng, _SOURCES, n)
    chords = np.zeros(n, dtype=bool)
    tonal = sources != "noisy"
    chords[tonal] = _deal(rng, (True, False), int(tonal.sum())).astype(bool)
    registers = _deal(rng, ("low", "high"), n)
    tempos = _deal(rng, ("fast", "slow"), n)
    drums = _deal(rng, (True, False), n).astype(bool)
    levels = _deal(rng, ("loud", "quiet"), n)
    return [
        {
            "source": sources[i],
            "chord": bool(chords[i]),
            "register": registers[i],
            "tempo": tempos[i],
            "percussive": bool(drums[i]),
            "level": levels[i],
            "decoys": [t for t in DECOY_TAGS if rng.random() < DECOY_RATE],
        }
        for i in range(n)
    ]


def _tags_of(spec: dict) -> set[str]:
    tags = {spec["source"], spec["register"], spec["tempo"], spec["level"]}
    tags |= {"tonal"} if spec["source"] != "noisy" else set()
    tags |= {"chord"} if spec["chord"] else set()
    tags |= {"percussive"} if spec["percussive"] else set()
    return tags | set(spec["decoys"])


def _onsets(rng: np.random.Generator, tempo: str, n_samples: int, sr: int) -> np.ndarray:
    """Sample indices of the beats, starting near the beginning of the clip."""
    period = rng.uniform(*_BEAT_SECONDS[tempo]) * sr
    start = rng.uniform(0.0, 0.1) * sr
    return np.arange(start, n_samples, period).astype(int)


def _harmonic_note(rng: np.random.Generator, spec: dict, length: int, sr: int) -> np.ndarray:
    """One note (or triad) of a plucked or sustained harmonic tone, ``length`` samples."""
    t = np.arange(length) / sr
    root = rng.integers(*_REGISTERS[spec["register"]], endpoint=True)
    notes = [root, root + rng.choice([3, 4]), root + 7] if spec["chord"] else [root]
    f0 = 440.0 * 2.0 ** ((np.asarray(notes, dtype=float) - 69) / 12)
    if spec["source"] == "guitar":
        k = np.arange(1, 11)
        amps, decay = 1.0 / k, rng.uniform(0.15, 0.3) / np.sqrt(k)  # highs die first
    else:
        k = np.array([1, 2, 3, 4, 6, 8])
        amps, decay = np.array([1.0, 0.8, 0.6, 0.5, 0.3, 0.2]), np.full(6, np.inf)
    freqs = f0[:, None] * k[None, :]  # (notes, harmonics)
    keep = freqs < 0.45 * sr
    phases = rng.uniform(0, 2 * np.pi, freqs.shape)
    partials = np.sin(2 * np.pi * freqs[keep][:, None] * t + phases[keep][:, None])
    envelopes = np.exp(-t / np.broadcast_to(decay, freqs.shape)[keep][:, None])
    note = (np.broadcast_to(amps, freqs.shape)[keep][:, None] * envelopes * partials).sum(0)
    return note * _attack_release(length, sr, sustained=spec["source"] == "organ")


def _attack_release(length: int, sr: int, sustained: bool) -> np.ndarray:
    """Linear fade in (3 ms plucked, 15 ms sustained) and 20 ms fade out."""
    env = np.ones(length)
    n_in = min(length, int((0.015 if sustained else 0.003) * sr))
    n_out = min(length, int(0.02 * sr))
    env[:n_in] *= np.linspace(0.0, 1.0, n_in)
    env[length - n_out :] *= np.linspace(1.0, 0.0, n_out)
    return env


def _band_noise(rng: np.random.Generator, n: int, sr: int, band: tuple) -> np.ndarray:
    """White noise with its spectrum cut to ``band`` (Hz), unit standard deviation."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    spectrum[(freqs < band[0]) | (freqs > band[1])] = 0.0
    noise = np.fft.irfft(spectrum, n)
    return noise / (noise.std() + 1e-12)


def _render(rng: np.random.Generator, spec: dict, n_samples: int, sr: int) -> np.ndarray:
    """The audio of one clip, float32 in [-1, 1]."""
    onsets = _onsets(rng, spec["tempo"], n_samples, sr)
    bounds = np.append(onsets, n_samples)
    x = np.zeros(n_samples)
    if spec["source"] == "noisy":
        noise = _band_noise(rng, n_samples, sr, _NOISE_BANDS[spec["register"]])
        for start, stop in zip(bounds[:-1], bounds[1:]):
            t = np.arange(stop - start) / sr
            x[start:stop] = noise[start:stop] * np.exp(-t / 0.12)
    else:
        for start, stop in zip(bounds[:-1], bounds[1:]):
            x[start:stop] = _harmonic_note(rng, spec, stop - start, sr)
    x /= np.abs(x).max() + 1e-12
    if spec["percussive"]:
        n_hit = int(0.08 * sr)
        hit = rng.standard_normal(n_hit) * np.exp(-np.arange(n_hit) / (0.012 * sr))
        for start in onsets:
            stop = min(n_samples, start + len(hit))
            x[start:stop] += 1.2 * hit[: stop - start]
    x += 1e-3 * rng.standard_normal(n_samples)  # a faint noise floor
    return (x * _PEAK[spec["level"]] / np.abs(x).max()).astype(np.float32)


def _split_sizes(n_clips: int) -> dict[str, int]:
    sizes = {split: max(MIN_CLIPS_PER_SPLIT, round(share * n_clips)) for split, share in SPLIT_SHARES.items()}
    return {"train": n_clips - sum(sizes.values()), **sizes}


def make_mtt_like(
    root: str | os.PathLike,
    n_clips: int = 200,
    duration: float = 3.0,
    sr: int = 12000,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a synthetic data set in the MagnaTagATune layout.

    Parameters
    ----------
    root : str or path-like
        Output folder; created if missing.
    n_clips : int
        Number of clips, at least 12 (``4 * MIN_CLIPS_PER_SPLIT``), so that every
        split can hold every tag. About 60 % go to the train folders ``0``-``b``, 15 % to the valid
        folder ``c`` and 25 % to the test folders ``d``-``f``.
    duration : float
        Clip length in seconds (> 0).
    sr : int
        Sample rate in Hz; must be one that MP3 supports (e.g. 12000, 16000, 22050,
        44100).
    seed : int
        Seed of every random choice; the same seed gives the same files.
    overwrite : bool
        Allow replacing an existing ``root/annotations_final.csv``.

    Returns
    -------
    pathlib.Path
        ``root``, ready for :func:`music_tagger.datasets.mtt.read_mtt`.

    Raises
    ------
    ParameterError
        If ``n_clips``, ``duration`` or ``sr`` are out of range or MP3 cannot be
        written at ``sr``.
    OutputExistsError
        If ``root`` already holds an ``annotations_final.csv`` and not ``overwrite``.

    Examples
    --------
    >>> from music_tagger.datasets.synth import make_mtt_like, TAGS
    >>> root = make_mtt_like("data/mtt_like", n_clips=300)       # doctest: +SKIP
    >>> from music_tagger.datasets.mtt import read_mtt
    >>> read_mtt(root, top_n=len(TAGS)).subset("valid")          # doctest: +SKIP
    """
    min_clips = 4 * MIN_CLIPS_PER_SPLIT
    if not isinstance(n_clips, Integral) or n_clips < min_clips:
        raise ParameterError(f"n_clips must be an integer >= {min_clips}; got {n_clips!r}")
    if not duration > 0:
        raise ParameterError(f"duration must be > 0 seconds; got {duration!r}")
    if not isinstance(sr, Integral) or sr <= 0:
        raise ParameterError(f"sr must be a positive integer; got {sr!r}")
    root = Path(root)
    annotations = root / "annotations_final.csv"
    check_output(annotations, "annotations", overwrite=overwrite)

    rng = np.random.default_rng(seed)
    n_samples = int(round(duration * sr))
    rows = []
    clip_id = 0
    for split, size in _split_sizes(n_clips).items():
        for spec in _draw_specs(rng, size):
            folder = rng.choice(list(SPLIT_FOLDERS[split]))
            mp3_path = f"{folder}/synthetic-clip_{clip_id:05d}-0-{int(np.ceil(duration))}.mp3"
            _write_mp3(root / mp3_path, _render(rng, spec, n_samples, sr), sr)
            rows.append((clip_id, _tags_of(spec), mp3_path))
            clip_id += 1

    columns = sorted(TAGS + DECOY_TAGS)
    with open(annotations, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_ALL)
        writer.writerow(["clip_id", *columns, "mp3_path"])
        for clip_id, tags, mp3_path in rows:
            writer.writerow([clip_id, *(int(c in tags) for c in columns), mp3_path])
    return root


def _write_mp3(path: Path, audio: np.ndarray, sr: int) -> None:
    """Write ``audio`` as MP3 and check that it reads back with the right rate."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        sf.write(path, audio, sr, format="MP3")
        info = sf.info(path)
    except (sf.LibsndfileError, RuntimeError) as err:
        raise AudioError(f"could not write MP3 at sr={sr} to {path}: {err}") from err
    if info.samplerate != sr or info.frames == 0:
        raise AudioError(
            f"{path} reads back with {info.frames} frames at {info.samplerate} Hz, expected {len(audio)} at {sr} Hz"
        )


#: File formats :func:`write_track` writes: (libsndfile format, subtype).
TRACK_FORMATS = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
}


def write_track(
    path: str | os.PathLike,
    seconds: float,
    sr: int = 44100,
    *,
    channels: int = 2,
    seed: int = 0,
    gapless_header: bool = True,
    section_seconds: float = 10.0,
) -> Path:
    """Write a full-length music-like track: a sequence of :func:`make_mtt_like` sections.

    Every ``section_seconds`` the source, register, tempo, percussion and level
    change (drawn like the clips of :func:`make_mtt_like`); the channels are the
    same music slightly delayed. Rendered and written section by section, so a
    long track needs little memory. For tagging speed and I/O tests, not for
    claims about what a model learns.

    Parameters
    ----------
    path : str or os.PathLike
        Output file; its suffix picks the format (:data:`TRACK_FORMATS`).
    seconds : float
        Length of the track.
    sr : int
        Sample rate (Hz).
    channels : int
        1 or 2.
    seed : int
        The same seed gives the same audio.
    gapless_header : bool
        For MP3 only: False removes the Xing/Info frame (with its LAME tag) that
        libsndfile's encoder writes first, so the file reads like an MP3 from an
        encoder without one: the decoder then keeps the encoder delay, and the 2016
        decoder delay applies (see :func:`music_tagger.audio.mp3_has_gapless_header`).
    section_seconds : float
        Length of each section.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> from music_tagger.datasets.synth import write_track
    >>> write_track("/tmp/song.flac", 200, 48000, seed=1)    # doctest: +SKIP
    PosixPath('/tmp/song.flac')
    """
    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if kind not in TRACK_FORMATS:
        raise ParameterError(f"{path}: suffix must be one of {sorted(TRACK_FORMATS)}")
    if channels not in (1, 2):
        raise ParameterError(f"channels must be 1 or 2, got {channels!r}")
    n_total = int(round(seconds * sr))
    if n_total < 1:
        raise ParameterError(f"seconds must give at least one sample, got {seconds!r}")
    fmt, subtype = TRACK_FORMATS[kind]
    rng = np.random.default_rng(seed)
    section = max(1, int(section_seconds * sr))
    lag = int(0.0007 * sr)  # the second channel: the same music 0.7 ms later
    path.parent.mkdir(parents=True, exist_ok=True)
    # CBR, like the encoders of 2016 (libsndfile applies the mode only with a level)
    extra = {"bitrate_mode": "CONSTANT", "compression_level": 0.5} if kind == "mp3" else {}
    with sf.SoundFile(path, "w", sr, channels, format=fmt, subtype=subtype, **extra) as f:
        for start in range(0, n_total, section):
            n = min(section, n_total - start)
            spec = _draw_specs(rng, 1)[0]
            x = _render(rng, spec, n + lag, sr)
            frames = x[lag:, None] if channels == 1 else np.stack([x[lag:], x[:n]], axis=1)
            for i in range(0, n, 1 << 16):  # small writes: libsndfile's Vorbis encoder
                f.write(frames[i : i + (1 << 16)])  # crashes on very large ones
    if kind == "mp3" and not gapless_header:
        _drop_info_frame(path)
    return path


def _drop_info_frame(path: Path) -> None:
    """Remove the first MPEG frame (LAME's Xing/Info frame, with its LAME tag)."""
    from ..audio.mp3 import first_frame, id3v2_end

    data = path.read_bytes()
    found = first_frame(data, id3v2_end(data[:10]))
    if found is None:
        raise AudioError(f"{path}: no MPEG frame found")
    i, info = found
    path.write_bytes(data[:i] + data[i + info["length"] :])
