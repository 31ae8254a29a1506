"""Make a realistic development set of real sound in the MagnaTagATune layout.

Issue 10 (point 4) asks for a labelled set that is not generated tones, to measure
transfer learning. This script renders real MIDI files shipped in Debian packages
through FluidSynth with the sampled General MIDI bank ``fluid-soundfont-gm``
(FluidR3_GM: recorded instrument samples), cuts each piece into non-overlapping
29.12 s clips (the network's input window), labels every clip from the MIDI
itself, splits **by piece** (no piece in two splits) and writes what
:func:`music_tagger.datasets.mtt.read_mtt` reads.

Sources (all Debian ``main``, free licences; nothing is downloaded by the script)
-----------------------------------------------------------------------------------
``freedoom`` (package ``freedoom``, licence: Freedoom's BSD-3-Clause)
    The MIDI music lumps (``D_*``) of ``/usr/share/games/doom/freedoom1.wad`` and
    ``freedoom2.wad``: the soundtrack of the Freedoom first-person shooter
    (composed MIDI; rock/metal and ambient pieces). Identical lumps are kept once.
``openmsx`` (package ``openttd-openmsx``, licence: GPL-2.0)
    ``/usr/share/games/openttd/baseset/openmsx/*.mid``: the OpenMSX soundtrack of
    OpenTTD (ragtime, jazz, swing and light-music pieces by various composers).
``blupi`` (package ``planetblupi-music-midi``, licence: GPL-3+)
    ``/usr/share/planetblupi/music/*.mid``: the soundtrack of Planet Blupi.
``mma`` (package ``mma``, licence: GPL-2+)
    ``/usr/share/doc/mma/examples/**/*.mid``: the example songs of Musical MIDI
    Accompaniment (arranged accompaniments in jazz, pop, latin, ... grooves). Most are
    short; only pieces long enough for one clip are used.
Renderer: ``fluidsynth`` (LGPL-2.1+) with ``/usr/share/sounds/sf2/FluidR3_GM.sf2``
(package ``fluid-soundfont-gm``, licence: MIT).

Labels (each derived from the MIDI of the clip's own time range)
-----------------------------------------------------------------
Instrument tags: a clip is positive when a note starts inside the clip on a channel
whose current General MIDI program is in the tag's programs (:data:`INSTRUMENT_TAGS`;
e.g. ``piano`` is GM's piano family, electric pianos and harpsichord included;
``drums``: any note on MIDI channel 10); notes on a channel whose volume (CC 7) or
expression (CC 11) is 0 do not count. ``fast``: the MIDI tempo, averaged over the
clip's time, is at least :data:`FAST_BPM` beats per minute (the notated tempo, which is not always the felt
one). With ``--orchestration random`` each piece is re-scored first: 2-4 families of
:data:`ORCHESTRA` are drawn for it (seeded by ``--seed`` and the piece) and each melodic
channel plays one program of one of them from start to end (drums stay on channel
10), so the instruments no longer follow the collection's style; the labels are
those of the new programs. ``--orchestration per-clip`` draws anew from each clip's
start (program changes at that tick), so the labels no longer follow the piece
either. Source tags (e.g. ``freedoom``) say which collection a clip comes from. The
kept tags are chosen with ``--tags``; every candidate is listed in ``clips.tsv``.

Output (``OUT``)
----------------
``annotations_final.csv``
    Tab-separated ``clip_id``, one 0/1 column per tag, ``mp3_path`` (MTT's header).
``0`` .. ``f``/``*.ogg``
    22.05 kHz mono Ogg Vorbis clips. The folder agrees with MTT's conventional split
    (train in ``0``-``b``, valid in ``c``, test in ``d``-``f``), so ``read_mtt(OUT)``
    and ``read_mtt(OUT, split=OUT / "split")`` give the same split.
``split/train.txt``, ``valid.txt``, ``test.txt``
    The clip paths of each split.
``clips.tsv``
    Provenance: source, package, piece, start time, mean tempo, GM families heard.
``stems.tsv`` (with ``--stems``)
    Per clip, each instrument tag's level in dB against all the clip's notes
    (:func:`stem_levels`; empty where the tag has no note), and a summary in ``READY``.
``READY``
    Written last (the whole folder is built beside ``OUT`` and renamed into place; a
    previous ``OUT`` is moved to ``OUT.old-<time>``, not deleted, as it may be in use):
    counts per split, positives per tag per split, pieces, minutes, the command.

Examples
--------
Render the set (11 minutes with ``--jobs 2`` on two busy shared cores)::

    sudo apt-get install fluidsynth fluid-soundfont-gm freedoom openttd-openmsx \\
        planetblupi-music-midi mma
    nice -n 5 python benchmarks/make_devset.py /work/devset --jobs 2

Only look at the labels, without rendering::

    python benchmarks/make_devset.py /tmp/x --dry-run
"""

from __future__ import annotations

import argparse
import csv
import glob
import hashlib
import re
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: The sampled General MIDI bank of ``fluid-soundfont-gm``.
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
#: Sample rate of the rendered audio (Hz).
SR = 22050
#: Clip length (s): the 29.12 s the network sees (MTT clips are 29.1 s).
CLIP_SECONDS = 29.12
#: A clip is ``fast`` when its mean MIDI tempo is at least this (beats per minute).
FAST_BPM = 120.0
#: The General MIDI program families, eight programs each, in program order.
GM_FAMILIES = (
    "piano",
    "chromatic_percussion",
    "organ",
    "guitar",
    "bass",
    "strings",
    "ensemble",
    "brass",
    "reed",
    "pipe",
    "synth_lead",
    "synth_pad",
    "synth_effects",
    "ethnic",
    "percussive",
    "sound_effects",
)
#: Candidate instrument tags: tag -> General MIDI programs (0-based, half-open
#: ranges); ``drums`` is any note on MIDI channel 10 instead.
INSTRUMENT_TAGS = {
    "piano": (range(0, 8),),  # acoustic and electric pianos, harpsichord, clavinet
    "organ": (range(16, 24),),
    "guitar": (range(24, 32),),
    "bass": (range(32, 40),),
    "strings": (range(40, 52),),  # solo strings, string ensembles, synth strings
    "voice": (range(52, 55),),  # choir aahs, voice oohs, synth voice
    "brass": (range(56, 64),),
    "winds": (range(64, 80),),  # reeds (saxophones, oboe, clarinet, ...) and pipes
    "synth": (range(80, 104),),  # synth leads, pads and effects
    "drums": (),
}
#: The families ``--orchestration random`` draws from (tags of :data:`INSTRUMENT_TAGS`).
ORCHESTRA = ("piano", "organ", "guitar", "bass", "strings", "voice", "brass", "winds", "synth")
#: Default kept tags.
DEFAULT_TAGS = ("piano", "guitar", "strings", "winds", "synth", "fast", "freedoom")
SPLIT_FRACTIONS = {"train": 0.70, "valid": 0.15, "test": 0.15}
#: MTT folders of each split (``read_mtt``'s conventional split by first character).
SPLIT_FOLDERS = {"train": "0123456789ab", "valid": "c", "test": "def"}


class DevsetError(RuntimeError):
    """A missing tool or package, or a source that cannot be used."""


@dataclass(frozen=True)
class Source:
    """A collection of MIDI files shipped in a Debian package."""

    name: str
    package: str
    licence: str
    patterns: tuple[str, ...]
    wad: bool = False


SOURCES = (
    Source(
        "freedoom",
        "freedoom",
        "BSD-3-Clause (Freedoom licence)",
        ("/usr/share/games/doom/freedoom1.wad", "/usr/share/games/doom/freedoom2.wad"),
        wad=True,
    ),
    Source("openmsx", "openttd-openmsx", "GPL-2.0", ("/usr/share/games/openttd/baseset/openmsx/*.mid",)),
    Source("blupi", "planetblupi-music-midi", "GPL-3+", ("/usr/share/planetblupi/music/*.mid",)),
    Source("mma", "mma", "GPL-2+", ("/usr/share/doc/mma/examples/**/*.mid",)),
)
APT_LINE = "sudo apt-get install fluidsynth fluid-soundfont-gm " + " ".join(s.package for s in SOURCES)


# --------------------------------------------------------------------------- MIDI


@dataclass
class Midi:
    """What the labels need from a MIDI file.

    Attributes
    ----------
    onsets : np.ndarray, shape (n,)
        Note-on times (s) of audible notes (channel volume and expression above 0).
    channels : np.ndarray of int, shape (n,)
        MIDI channel of each note (0-based; 9 is the drum channel).
    programs : np.ndarray of int, shape (n,)
        General MIDI program (0-127) of the channel when the note starts.
    tempo : np.ndarray, shape (m, 2)
        ``(time s, bpm)`` of each tempo in force, from time 0.
    duration : float
        Time of the last event (s).
    """

    onsets: np.ndarray
    channels: np.ndarray
    programs: np.ndarray
    tempo: np.ndarray
    duration: float


def _varlen(data: bytes, i: int) -> tuple[int, int]:
    value = 0
    while True:
        if i >= len(data):
            raise DevsetError("truncated variable-length quantity")
        b = data[i]
        i += 1
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            return value, i


def _track_events(
    data: bytes | bytearray, programs=None, keep: set[int] | None = None
) -> list[tuple[int, str, int, int]]:
    """``(tick, kind, channel, value)`` of one track: kinds ``note``, ``program``,
    ``tempo`` (microseconds per quarter), ``volume`` and ``expression`` (CC 7 and
    11), ``other``. With ``programs`` (tick -> {channel: GM program}) and a
    ``bytearray``, every program change of those channels is rewritten in place to
    the program in force at its tick, and their bank selects (CC 0, 32) to bank 0.
    With ``keep`` (channels), every note-on of another channel gets velocity 0 (a
    note-off), in place."""
    events, tick, i, status = [], 0, 0, 0
    while i < len(data):
        delta, i = _varlen(data, i)
        tick += delta
        if data[i] & 0x80:
            status = data[i]
            i += 1
        if status == 0xFF:
            kind = data[i]
            length, i = _varlen(data, i + 1)
            if kind == 0x51 and length == 3:
                events.append((tick, "tempo", 0, int.from_bytes(data[i : i + 3], "big")))
            else:
                events.append((tick, "other", 0, 0))
            if kind == 0x2F:
                break
            i += length
        elif status in (0xF0, 0xF7):
            length, i = _varlen(data, i)
            i += length
        elif status >= 0x80:
            high, channel = status & 0xF0, status & 0x0F
            n = 1 if high in (0xC0, 0xD0) else 2
            plan = {} if programs is None else programs(tick)
            if channel in plan and i + n <= len(data):
                if high == 0xC0:
                    data[i] = plan[channel]
                elif high == 0xB0 and data[i] in (0, 32):
                    data[i + 1] = 0
            if keep is not None and high == 0x90 and channel not in keep and i + n <= len(data):
                data[i + 1] = 0
            values = data[i : i + n]
            i += n
            if high == 0x90 and len(values) == 2 and values[1] > 0:
                events.append((tick, "note", channel, values[0]))
            elif high == 0xC0 and values:
                events.append((tick, "program", channel, values[0]))
            elif high == 0xB0 and len(values) == 2 and values[0] in (7, 11):
                kind = "volume" if values[0] == 7 else "expression"
                events.append((tick, kind, channel, values[1]))
            else:
                events.append((tick, "other", channel, 0))
        else:
            raise DevsetError("MIDI data byte without a running status")
    return events


def parse_midi(data: bytes) -> Midi:
    """Note onsets with channel and program, and the tempo map, of a Standard MIDI File.

    Parameters
    ----------
    data : bytes
        The file's bytes (format 0 or 1; format 2 tracks are read as if parallel).

    Returns
    -------
    Midi

    Raises
    ------
    DevsetError
        If the bytes are not a Standard MIDI File.

    Examples
    --------
    >>> track = bytes([0, 0xC0, 33, 0, 0x90, 40, 100, 0x60, 0x80, 40, 0, 0, 0xFF, 0x2F, 0])
    >>> smf = (b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 0, 96])
    ...        + b"MTrk" + len(track).to_bytes(4, "big") + track)
    >>> m = parse_midi(smf)
    >>> m.programs.tolist(), m.tempo.tolist(), m.duration
    ([33], [[0.0, 120.0]], 0.5)
    """
    if data[:4] != b"MThd" or len(data) < 14:
        raise DevsetError("not a Standard MIDI File (no MThd header)")
    header_len = int.from_bytes(data[4:8], "big")
    _, _, division = struct.unpack(">HHH", data[8:14])
    events, i, order = [], 8 + header_len, 0
    while i + 8 <= len(data):
        kind, length = data[i : i + 4], int.from_bytes(data[i + 4 : i + 8], "big")
        if kind == b"MTrk":
            for e in _track_events(data[i + 8 : i + 8 + length]):
                events.append((e[0], order, *e[1:]))
                order += 1
        i += 8 + length
    events.sort(key=lambda e: (e[0], e[1]))
    if division & 0x8000:  # SMPTE: frames per second x ticks per frame
        fps = 256 - (division >> 8)
        seconds_per_tick, smpte = 1.0 / (fps * (division & 0xFF)), True
    else:
        seconds_per_tick, smpte = 0.5 / division, False
    program, volume, expression = [0] * 16, [100] * 16, [127] * 16
    onsets, channels, programs, tempo = [], [], [], [(0.0, 120.0)]
    last_tick, now = 0, 0.0
    for tick, _, kind, channel, value in events:
        now += (tick - last_tick) * seconds_per_tick
        last_tick = tick
        if kind == "tempo" and not smpte and value > 0:
            seconds_per_tick = value / 1e6 / division
            if tempo[-1][0] == now:
                tempo.pop()
            tempo.append((now, 60e6 / value))
        elif kind == "program":
            program[channel] = value
        elif kind == "volume":
            volume[channel] = value
        elif kind == "expression":
            expression[channel] = value
        elif kind == "note" and volume[channel] and expression[channel]:
            onsets.append(now)
            channels.append(channel)
            programs.append(program[channel])
    return Midi(
        np.array(onsets, float),
        np.array(channels, int),
        np.array(programs, int),
        np.array(tempo, float).reshape(-1, 2),
        now,
    )


def reorchestrate(data: bytes, programs: dict[int, int] | list[tuple[int, dict[int, int]]]) -> bytes:
    """The Standard MIDI File ``data`` with each channel of ``programs`` on its program.

    Every program change (and bank select) of those channels is rewritten, and a first
    track sets each program at tick 0, so the channel plays that one GM program from
    its first note to its last; other channels (drums on channel 10) are untouched.
    ``programs`` may also be ``[(tick, plan), ...]`` (first tick 0, increasing): each
    plan is set at its tick and holds until the next.

    Examples
    --------
    >>> track = bytes([0, 0x90, 40, 100, 0x60, 0x80, 40, 0, 0, 0xFF, 0x2F, 0])
    >>> smf = (b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 0, 96])
    ...        + b"MTrk" + len(track).to_bytes(4, "big") + track)
    >>> parse_midi(reorchestrate(smf, {0: 41})).programs.tolist()
    [41]
    """
    segments = [(0, programs)] if isinstance(programs, dict) else list(programs)
    starts = [t for t, _ in segments]

    def plan_at(tick: int) -> dict[int, int]:
        return segments[max(0, int(np.searchsorted(starts, tick, side="right")) - 1)][1]

    out = _rewrite_tracks(data, programs=plan_at)
    first, last = b"", 0
    for tick, plan in segments:
        for k, (c, p) in enumerate(sorted(plan.items())):
            first += _vlq(tick - last if k == 0 else 0) + bytes([0xC0 | c, p])
        last = tick
    first += b"\x00\xff\x2f\x00"
    fmt, tracks = struct.unpack(">HH", data[8:12])
    out[8:12] = struct.pack(">HH", max(fmt, 1), tracks + 1)  # format 0 -> 1: two tracks
    cut = 8 + int.from_bytes(data[4:8], "big")
    return bytes(out[:cut]) + b"MTrk" + struct.pack(">I", len(first)) + first + bytes(out[cut:])


def _rewrite_tracks(data: bytes, **rewrite) -> bytearray:
    """A copy of the Standard MIDI File ``data`` with every track passed through
    :func:`_track_events` with ``rewrite`` (its in-place rewrites)."""
    header_len = int.from_bytes(data[4:8], "big")
    out, i = bytearray(data[: 8 + header_len]), 8 + header_len
    while i + 8 <= len(data):
        length = int.from_bytes(data[i + 4 : i + 8], "big")
        chunk = bytearray(data[i : i + 8 + length])
        if chunk[:4] == b"MTrk":
            _track_events(memoryview(chunk)[8:], **rewrite)
        out += chunk
        i += 8 + length
    return out


def solo(data: bytes, channel: int) -> bytes:
    """The Standard MIDI File ``data`` with only ``channel``'s notes sounding (every
    other note-on gets velocity 0); controllers, programs and tempo are unchanged.

    Examples
    --------
    >>> track = bytes([0, 0x90, 40, 100, 0, 0x91, 41, 100, 0x60, 0x80, 40, 0, 0, 0xFF, 0x2F, 0])
    >>> smf = (b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 0, 96])
    ...        + b"MTrk" + len(track).to_bytes(4, "big") + track)
    >>> parse_midi(smf).channels.tolist(), parse_midi(solo(smf, 1)).channels.tolist()
    ([0, 1], [1])
    """
    return bytes(_rewrite_tracks(data, keep={channel}))


def _vlq(n: int) -> bytes:
    """MIDI's variable-length quantity: 7-bit groups, high first, continuation bits set."""
    k = max(1, (n.bit_length() + 6) // 7)
    return bytes(((n >> 7 * i) & 0x7F) | (0x80 if i else 0) for i in reversed(range(k)))


def ticks_at(data: bytes, seconds: list[float]) -> list[int]:
    """The MIDI ticks of the times ``seconds`` (increasing) of a Standard MIDI File.

    Examples
    --------
    >>> smf = (b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 0, 96])
    ...        + b"MTrk" + (4).to_bytes(4, "big") + bytes([0, 0xFF, 0x2F, 0]))
    >>> ticks_at(smf, [0.0, 1.0])   # 120 bpm, 96 ticks per quarter
    [0, 192]
    """
    header_len = int.from_bytes(data[4:8], "big")
    division = struct.unpack(">H", data[12:14])[0]
    if division & 0x8000:
        return [int(round(t * (256 - (division >> 8)) * (division & 0xFF))) for t in seconds]
    tempos, i = [], 8 + header_len
    while i + 8 <= len(data):
        length = int.from_bytes(data[i + 4 : i + 8], "big")
        if data[i : i + 4] == b"MTrk":
            tempos += [
                (e[0], e[3]) for e in _track_events(data[i + 8 : i + 8 + length]) if e[1] == "tempo" and e[3] > 0
            ]
        i += 8 + length
    pieces = [[0, 0.0, 0.5 / division]]  # (tick, seconds, seconds per tick) from there on
    for tick, usec in sorted(tempos, key=lambda e: e[0]):  # stable: the file order at a tick
        start, sec, per = pieces[-1]
        if tick == start:
            pieces[-1][2] = usec / 1e6 / division
        else:
            pieces.append([tick, sec + (tick - start) * per, usec / 1e6 / division])
    out = []
    for target in seconds:
        start, sec, per = [p for p in pieces if p[1] <= target][-1]
        out.append(start + int(np.ceil((target - sec) / per - 1e-6)))  # the first tick at or after
    return out


def random_orchestration(midi: Midi, key: str, seed: int) -> dict[int, int]:
    """Channel -> GM program for a piece: 2-4 families of :data:`ORCHESTRA` drawn for
    the piece, one program per melodic channel (each family on a channel when there
    are enough), deterministic per ``(key, seed)``; the drum channel is left out.

    Examples
    --------
    >>> m = Midi(np.zeros(3), np.array([0, 1, 9]), np.zeros(3, int), np.zeros((1, 2)), 1.0)
    >>> plan = random_orchestration(m, "src/piece", 0)
    >>> sorted(plan) == [0, 1] and plan == random_orchestration(m, "src/piece", 0)
    True
    """
    channels = sorted(set(midi.channels.tolist()) - {9})
    rng = np.random.default_rng([seed, int(hashlib.sha1(key.encode()).hexdigest()[:8], 16)])
    families = rng.choice(ORCHESTRA, size=int(rng.integers(2, 5)), replace=False)
    plan = {}
    for k, channel in enumerate(rng.permutation(channels).tolist()):
        family = families[k] if k < len(families) else rng.choice(families)
        plan[channel] = int(rng.choice([p for r in INSTRUMENT_TAGS[family] for p in r]))
    return plan


def mean_bpm(tempo: np.ndarray, start: float, stop: float) -> float:
    """Time-weighted mean tempo (bpm) over ``[start, stop)``.

    Examples
    --------
    >>> mean_bpm(np.array([[0.0, 100.0], [10.0, 200.0]]), 5.0, 15.0)
    150.0
    """
    bounds = np.append(tempo[:, 0], np.inf)
    lo, hi = np.clip(bounds[:-1], start, stop), np.clip(bounds[1:], start, stop)
    return float(np.sum((hi - lo) * tempo[:, 1]) / (stop - start))


def tag_notes(midi: Midi, start: float, stop: float, tag: str) -> np.ndarray:
    """Which notes of ``midi`` start in ``[start, stop)`` and belong to the instrument
    ``tag`` of :data:`INSTRUMENT_TAGS`: a melodic note whose program is in the tag's
    ranges, or for ``drums`` a note on the drum channel (boolean mask over the notes).

    Examples
    --------
    >>> m = Midi(np.array([1.0, 2.0, 40.0]), np.array([9, 0, 0]), np.array([0, 0, 40]),
    ...          np.array([[0.0, 90.0]]), 41.0)
    >>> tag_notes(m, 0.0, 29.12, "piano").tolist(), tag_notes(m, 0.0, 29.12, "drums").tolist()
    ([False, True, False], [True, False, False])
    """
    inside = (midi.onsets >= start) & (midi.onsets < stop)
    if tag == "drums":
        return inside & (midi.channels == 9)
    programs = [q for r in INSTRUMENT_TAGS[tag] for q in r]
    return inside & (midi.channels != 9) & np.isin(midi.programs, programs)


def clip_labels(midi: Midi, start: float, stop: float) -> dict[str, object]:
    """The candidate labels of the clip ``[start, stop)`` of a piece.

    Returns
    -------
    dict
        ``families`` (sorted GM families with a note starting in the clip, plus
        ``drums``), ``notes`` (number of onsets), ``bpm`` (mean tempo), and one bool
        per instrument tag of :data:`INSTRUMENT_TAGS` and for ``fast``.

    Examples
    --------
    >>> m = Midi(np.array([1.0, 2.0, 40.0]), np.array([9, 0, 0]), np.array([0, 0, 40]),
    ...          np.array([[0.0, 90.0]]), 41.0)
    >>> labels = clip_labels(m, 0.0, 29.12)
    >>> labels["families"], labels["drums"], labels["piano"], labels["strings"]
    (['drums', 'piano'], True, True, False)
    """
    inside = (midi.onsets >= start) & (midi.onsets < stop)
    drums = bool(np.any(inside & (midi.channels == 9)))
    melodic = inside & (midi.channels != 9)
    families = {GM_FAMILIES[p // 8] for p in midi.programs[melodic]}
    labels: dict[str, object] = {
        "families": sorted(families | ({"drums"} if drums else set())),
        "notes": int(inside.sum()),
        "bpm": mean_bpm(midi.tempo, start, stop),
    }
    for tag in INSTRUMENT_TAGS:
        labels[tag] = bool(tag_notes(midi, start, stop, tag).any())
    labels["fast"] = labels["bpm"] >= FAST_BPM
    return labels


def clip_starts(duration: float, clip_seconds: float, max_clips: int) -> list[float]:
    """Starts of up to ``max_clips`` non-overlapping clips, centred in the piece.

    Examples
    --------
    >>> clip_starts(100.0, 30.0, 5)
    [5.0, 35.0, 65.0]
    >>> clip_starts(20.0, 30.0, 5)
    []
    """
    n = min(max_clips, int(duration // clip_seconds))
    offset = (duration - n * clip_seconds) / 2
    return [round(offset + k * clip_seconds, 3) for k in range(n)]


def wad_midi_lumps(path: Path) -> dict[str, bytes]:
    """The MIDI music lumps (``D_*`` starting with ``MThd``) of a Doom WAD.

    Examples
    --------
    >>> import io, tempfile
    >>> lump = b"MThd" + bytes(10)
    >>> wad = b"IWAD" + struct.pack("<ii", 1, 12 + len(lump)) + lump
    >>> wad += struct.pack("<ii8s", 12, len(lump), b"D_E1M1")
    >>> with tempfile.NamedTemporaryFile(suffix=".wad") as f:
    ...     _ = f.write(wad); f.flush()
    ...     list(wad_midi_lumps(Path(f.name)))
    ['D_E1M1']
    """
    data = path.read_bytes()
    kind, n, offset = struct.unpack("<4sii", data[:12])
    if kind not in (b"IWAD", b"PWAD"):
        raise DevsetError(f"{path} is not a WAD file")
    lumps = {}
    for k in range(n):
        pos, size, raw = struct.unpack("<ii8s", data[offset + 16 * k : offset + 16 * k + 16])
        name = raw.rstrip(b"\0").decode("ascii", "replace")
        if name.startswith("D_") and data[pos : pos + 4] == b"MThd":
            lumps[name] = data[pos : pos + size]
    return lumps


# --------------------------------------------------------------------------- pieces


@dataclass
class Piece:
    """One piece of music: its source, name, MIDI bytes and clips."""

    source: Source
    name: str
    midi_bytes: bytes
    midi: Midi
    starts: list[float] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.source.name}/{self.name}"


def find_pieces(sources=SOURCES) -> tuple[list[Piece], list[str]]:
    """Every MIDI piece of the installed sources, identical files kept once.

    Returns
    -------
    pieces : list of Piece
        In a stable order (source, then name); clips not yet chosen.
    missing : list of str
        Packages of sources with no file on this machine.
    """
    pieces, missing, seen = [], [], set()
    for source in sources:
        files: dict[str, bytes] = {}
        for pattern in source.patterns:
            for path in sorted(glob.glob(pattern, recursive=True)):
                if source.wad:
                    files.update(wad_midi_lumps(Path(path)))
                else:
                    files[Path(path).stem] = Path(path).read_bytes()
        if not files:
            missing.append(source.package)
        for name, data in sorted(files.items()):
            digest = hashlib.sha1(data).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            try:
                midi = parse_midi(data)
            except (DevsetError, IndexError, struct.error) as err:
                print(f"skip {source.name}/{name}: {err}", file=sys.stderr)
                continue
            slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()
            pieces.append(Piece(source, slug, data, midi))
    return pieces, missing


def split_by_piece(
    pieces: dict[str, np.ndarray],
    fractions: dict[str, float] = SPLIT_FRACTIONS,
    seed: int = 0,
    tries: int = 300,
) -> dict[str, str]:
    """Assign whole pieces to splits, clip counts near ``fractions``, tags balanced.

    Among ``tries`` seeded shuffles (pieces taken in order until each split's clip
    share is reached), keeps the one whose smallest ratio of positives to expected
    positives, over every tag and split, is largest.

    Parameters
    ----------
    pieces : dict
        Piece key -> bool array, shape (clips, tags), of its clips' labels.
    fractions : dict
        Split -> share of clips, in split order.
    seed, tries : int

    Returns
    -------
    dict
        Piece key -> split name.

    Examples
    --------
    >>> labels = {f"p{i}": np.array([[i % 2 == 0]] * 3) for i in range(20)}
    >>> split = split_by_piece(labels, seed=1)
    >>> sorted(set(split.values()))
    ['test', 'train', 'valid']
    """
    keys = sorted(pieces)
    names = list(fractions)
    total = sum(len(pieces[k]) for k in keys)
    overall = sum(pieces[k].sum(axis=0) for k in keys)
    rng = np.random.default_rng(seed)
    best, best_score = None, -np.inf
    for _ in range(tries):
        order = [keys[i] for i in rng.permutation(len(keys))]
        assignment, counts = {}, dict.fromkeys(names, 0)
        split_index = 0
        for key in order:
            while split_index < len(names) - 1 and counts[names[split_index]] >= fractions[names[split_index]] * total:
                split_index += 1
            assignment[key] = names[split_index]
            counts[names[split_index]] += len(pieces[key])
        score = np.inf
        for name in names:
            members = [pieces[k] for k in keys if assignment[k] == name]
            if not members:
                score = -np.inf
                break
            positives = sum(m.sum(axis=0) for m in members)
            expected = np.maximum(overall * fractions[name], 1e-9)
            score = min(score, float(np.min(positives / expected)))
        if best is None or score > best_score:
            best, best_score = assignment, score
    return best


def mtt_folder(split: str, key: str) -> str:
    """The MTT audio folder of a piece: a stable pick among its split's folders.

    Examples
    --------
    >>> mtt_folder("valid", "mma/x")
    'c'
    """
    letters = SPLIT_FOLDERS[split]
    return letters[int(hashlib.sha1(key.encode()).hexdigest(), 16) % len(letters)]


def write_annotations(path: Path, rows: list[tuple[str, list[bool], str]], tags: list[str]) -> None:
    """Write MTT's ``annotations_final.csv``: tab-separated ``clip_id``, tags, path.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "annotations_final.csv"
    ...     write_annotations(p, [("1", [True, False], "0/a.ogg")], ["drums", "fast"])
    ...     p.read_text().splitlines()
    ['clip_id\\tdrums\\tfast\\tmp3_path', '1\\t1\\t0\\t0/a.ogg']
    """
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(["clip_id", *tags, "mp3_path"])
        for clip_id, hot, mp3 in rows:
            writer.writerow([clip_id, *("1" if h else "0" for h in hot), mp3])


def summary(tags: list[str], labels: np.ndarray, splits: np.ndarray, n_pieces: int, clip_seconds: float) -> str:
    """Counts per split, positives per tag per split, pieces and minutes, as text.

    Examples
    --------
    >>> print(summary(["a"], np.array([[1], [0]]), np.array(["train", "test"]), 2, 30.0))
    clips: train 1, valid 0, test 1, all 2
    pieces: 2; audio: 1.0 min; clips with none of the tags (read_mtt leaves them out): 1
    positives     train  valid   test
    a                 1      0      0
    """
    lines = [
        "clips: " + ", ".join(f"{s} {int(np.sum(splits == s))}" for s in SPLIT_FRACTIONS) + f", all {len(splits)}",
        f"pieces: {n_pieces}; audio: {len(splits) * clip_seconds / 60:.1f} min; "
        f"clips with none of the tags (read_mtt leaves them out): "
        f"{int(np.sum(~labels.any(axis=1)))}",
        "positives   " + "".join(f"{s:>7}" for s in SPLIT_FRACTIONS),
    ]
    for j, tag in enumerate(tags):
        counts = [int(labels[splits == s, j].sum()) for s in SPLIT_FRACTIONS]
        lines.append(f"{tag:<12}" + "".join(f"{c:>7}" for c in counts))
    return "\n".join(lines)


# --------------------------------------------------------------------------- render


def render(midi_bytes: bytes, seconds: float, timeout: float, workdir: Path, peak: float | None = 0.9) -> np.ndarray:
    """Render MIDI with FluidSynth and FluidR3_GM: mono float32 at :data:`SR`.

    FluidSynth runs under ``timeout``, and is stopped once its output holds
    ``seconds + 5`` seconds of audio, since some files make it write without end;
    whatever it wrote before a stop is kept. The signal is scaled to a peak of
    ``peak`` (None: as FluidSynth wrote it, for comparing levels).

    Raises
    ------
    DevsetError
        If FluidSynth wrote nothing.
    """
    midi_path, raw_path = workdir / "in.mid", workdir / "out.raw"
    midi_path.write_bytes(midi_bytes)
    raw_path.unlink(missing_ok=True)
    cap = int((seconds + 5) * SR) * 2 * 4  # stereo float32
    command = [
        "timeout",
        "-k",
        "5",
        str(int(timeout)),
        "fluidsynth",
        "-n",
        "-i",
        "-q",
        "-r",
        str(SR),
        "-T",
        "raw",
        "-O",
        "float",
        "-E",
        "little",
        "-F",
        str(raw_path),
        str(SOUNDFONT),
        str(midi_path),
    ]
    # RLIMIT_FSIZE cannot cap the output: FluidSynth dies of SIGXFSZ before writing
    # a byte even under a cap above its whole output, so the size is watched instead.
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        while process.poll() is None:
            if raw_path.is_file() and raw_path.stat().st_size > cap:
                process.terminate()
                break
            time.sleep(0.1)
    if not raw_path.is_file() or raw_path.stat().st_size < 8:
        raise DevsetError("fluidsynth wrote no audio")
    raw = raw_path.read_bytes()
    frames = np.frombuffer(raw[: len(raw) // 8 * 8], dtype="<f4").reshape(-1, 2)
    y = frames.mean(axis=1)
    y = np.nan_to_num(y)
    top = float(np.max(np.abs(y))) if len(y) else 0.0
    return (peak * y / top).astype(np.float32) if peak and top > 0 else y.astype(np.float32)


def stem_levels(
    midi_bytes: bytes, starts: list[float], clip_seconds: float, timeout: float, workdir: Path
) -> list[dict[str, float]]:
    """How loud each instrument tag is in each clip: its level (dB) against all notes.

    Every channel is rendered alone (:func:`solo`, unscaled). In a clip, a tag's level
    is the energy of the channels with a note of the tag's programs starting there,
    over the sum of every channel's energy in the clip (a channel that plays two tags'
    programs in one clip counts for both). Tags with no note in a clip are left out.
    """
    midi = parse_midi(midi_bytes)
    n = int(round(clip_seconds * SR))
    energy = {}
    for channel in sorted(set(midi.channels.tolist())):
        y = render(solo(midi_bytes, channel), max(starts) + clip_seconds, timeout, workdir, peak=None)
        segments = [y[int(round(s * SR)) :][:n] for s in starts]
        energy[channel] = [float(np.mean(np.square(seg, dtype=np.float64))) if len(seg) else 0.0 for seg in segments]
    levels = []
    for k, start in enumerate(starts):
        total = sum(e[k] for e in energy.values())
        clip = {}
        for tag in INSTRUMENT_TAGS:
            on = tag_notes(midi, start, start + clip_seconds, tag)
            if on.any() and total > 0:
                share = sum(energy[c][k] for c in set(midi.channels[on].tolist())) / total
                clip[tag] = float(10 * np.log10(max(share, 1e-12)))
        levels.append(clip)
    return levels


def stems_summary(tags: list[str], labels: np.ndarray, levels: list[dict[str, float]]) -> str:
    """Per instrument tag: positives, their median level and the share under -20 dB."""
    lines = [
        "stems: level of a tag's notes against all notes of the clip (dB), over the positives",
        f"{'':12s} {'positives':>9s} {'median':>7s} {'< -20 dB':>8s}",
    ]
    for j, tag in enumerate(tags):
        if tag not in INSTRUMENT_TAGS:
            continue
        db = np.array([lv.get(tag, -120.0) for lv, y in zip(levels, labels[:, j]) if y])
        if len(db):
            lines.append(f"{tag:12s} {len(db):9d} {np.median(db):7.1f} {np.mean(db < -20):8.0%}")
    return "\n".join(lines) + "\n"


def check_tools(sources=SOURCES) -> None:
    """Raise :class:`DevsetError` with the ``apt-get install`` line if tools lack."""
    lacking = [
        name
        for name, ok in (
            ("fluidsynth", shutil.which("fluidsynth")),
            ("fluid-soundfont-gm", SOUNDFONT.is_file()),
            ("coreutils timeout", shutil.which("timeout")),
        )
        if not ok
    ]
    if lacking:
        raise DevsetError(f"missing: {', '.join(lacking)}; install with:\n  {APT_LINE}")


def _choose_clips(pieces: list[Piece], args: argparse.Namespace) -> list[Piece]:
    """Pick clip starts per piece (capped length, notes in every clip)."""
    kept = []
    for piece in pieces:
        duration = min(piece.midi.duration, args.max_piece_seconds)
        starts = clip_starts(duration, args.clip_seconds, args.max_clips)
        piece.starts = [
            s for s in starts if clip_labels(piece.midi, s, s + args.clip_seconds)["notes"] >= args.min_notes
        ]
        if piece.starts:
            kept.append(piece)
    return kept


def build(args: argparse.Namespace) -> str:
    """Make the set in a staging folder beside ``args.out`` and move it into place."""
    sources = [s for s in SOURCES if s.name in args.sources]
    pieces, missing = find_pieces(sources)
    if missing:
        print(f"warning: no files from {', '.join(missing)}; install with:\n  {APT_LINE}", file=sys.stderr)
    if args.orchestration == "random":  # instruments no longer follow the source
        for piece in pieces:
            plan = random_orchestration(piece.midi, piece.key, args.seed)
            piece.midi_bytes = reorchestrate(piece.midi_bytes, plan)
            piece.midi = parse_midi(piece.midi_bytes)
    pieces = _choose_clips(pieces, args)
    if args.orchestration == "per-clip":  # and no longer follow the piece either
        for piece in pieces:
            ticks = ticks_at(piece.midi_bytes, piece.starts)
            plans = [
                (0 if k == 0 else t, random_orchestration(piece.midi, f"{piece.key}#{k}", args.seed))
                for k, t in enumerate(ticks)
            ]
            piece.midi_bytes = reorchestrate(piece.midi_bytes, plans)
            piece.midi = parse_midi(piece.midi_bytes)
    if not pieces:
        raise DevsetError(f"no usable MIDI piece found; install with:\n  {APT_LINE}")
    tags = list(args.tags)
    unknown = set(tags) - set(INSTRUMENT_TAGS) - {"fast"} - {s.name for s in SOURCES}
    if unknown:
        raise DevsetError(f"unknown tags {sorted(unknown)}")

    def hot(piece: Piece, labels: dict) -> list[bool]:
        return [piece.source.name == t if t in {s.name for s in SOURCES} else bool(labels[t]) for t in tags]

    clip_info = {p.key: [clip_labels(p.midi, s, s + args.clip_seconds) for s in p.starts] for p in pieces}
    per_piece = {p.key: np.array([hot(p, lab) for lab in clip_info[p.key]], bool) for p in pieces}
    assignment = split_by_piece(per_piece, seed=args.seed)
    n_clips = sum(len(p.starts) for p in pieces)
    if args.dry_run:
        labels = np.concatenate([per_piece[p.key] for p in pieces])
        splits = np.concatenate([[assignment[p.key]] * len(p.starts) for p in pieces])
        return summary(tags, labels, splits, len(pieces), args.clip_seconds)

    check_tools(sources)
    out = Path(args.out).resolve()
    stage = Path(tempfile.mkdtemp(prefix=out.name + ".partial-", dir=out.parent))
    for letter in "0123456789abcdef":
        (stage / letter).mkdir()
    (stage / "split").mkdir()
    print(f"rendering {len(pieces)} pieces into {n_clips} clips ({stage})", flush=True)

    def one(index_piece: tuple[int, Piece]) -> list[tuple]:
        index, piece = index_piece
        with tempfile.TemporaryDirectory(dir=stage) as work:
            seconds = max(piece.starts) + args.clip_seconds
            try:
                y = render(piece.midi_bytes, seconds, args.timeout, Path(work))
                levels = (
                    stem_levels(piece.midi_bytes, piece.starts, args.clip_seconds, args.timeout, Path(work))
                    if args.stems
                    else [{}] * len(piece.starts)
                )
            except DevsetError as err:
                print(f"skip {piece.key}: {err}", file=sys.stderr, flush=True)
                return []
        import soundfile as sf

        rows, n = [], int(round(args.clip_seconds * SR))
        folder = mtt_folder(assignment[piece.key], piece.key)
        for k, (start, labels) in enumerate(zip(piece.starts, clip_info[piece.key])):
            clip = y[int(round(start * SR)) :][:n]
            if len(clip) < n or float(np.sqrt(np.mean(clip**2))) < 1e-3:
                continue
            name = f"{folder}/{piece.source.name}-{piece.name}-{k}.ogg"
            sf.write(stage / name, clip, SR, format="OGG", subtype="VORBIS")
            rows.append((index, k, piece, start, labels, name, levels[k]))
        print(f"  {piece.key}: {len(rows)} clips", flush=True)
        return rows

    started = time.time()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = [r for rows in pool.map(one, enumerate(pieces)) for r in rows]
    results.sort(key=lambda r: (r[0], r[1]))
    annotations, meta, split_rows = [], [], {s: [] for s in SPLIT_FRACTIONS}
    for clip_id, (_, _, piece, start, labels, name, _) in enumerate(results, start=1):
        annotations.append((str(clip_id), hot(piece, labels), name))
        split_rows[assignment[piece.key]].append(name)
        meta.append(
            [
                clip_id,
                piece.source.name,
                piece.source.package,
                piece.key,
                start,
                f"{labels['bpm']:.1f}",
                ",".join(labels["families"]),
                assignment[piece.key],
                name,
            ]
        )
    write_annotations(stage / "annotations_final.csv", annotations, tags)
    for split, names in split_rows.items():
        (stage / "split" / f"{split}.txt").write_text("".join(n + "\n" for n in names))
    with open(stage / "clips.tsv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(
            ["clip_id", "source", "package", "piece", "start_s", "mean_bpm", "families", "split", "mp3_path"]
        )
        writer.writerows(meta)
    labels = np.array([a[1] for a in annotations], bool).reshape(-1, len(tags))
    splits = np.array([m[7] for m in meta])
    used = {m[3] for m in meta}
    text = summary(tags, labels, splits, len(used), args.clip_seconds)
    if args.stems:
        with open(stage / "stems.tsv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, delimiter="\t", lineterminator="\n")
            writer.writerow(["clip_id", *INSTRUMENT_TAGS, "mp3_path"])
            writer.writerows(
                [m[0], *(f"{r[6][t]:.1f}" if t in r[6] else "" for t in INSTRUMENT_TAGS), m[8]]
                for m, r in zip(meta, results)
            )
        text += "\n" + stems_summary(tags, labels, [r[6] for r in results])
    text += (
        "\nsources: "
        + ", ".join(f"{s.name} ({s.package}, {s.licence})" for s in sources)
        + f"\nrender: {time.time() - started:.0f} s with --jobs {args.jobs}"
        + f"\ncommand: {args.command}\n"
    )
    (stage / "READY").write_text(text)
    if out.exists():  # others may still read it: moved aside, not deleted
        old = out.with_name(out.name + f".old-{int(time.time())}")
        out.rename(old)
        print(f"previous set moved to {old}; delete it once no one reads it", file=sys.stderr)
    stage.rename(out)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Render real MIDI files from Debian packages (Freedoom, OpenMSX, "
        "Planet Blupi, MMA examples) through FluidSynth + FluidR3_GM into 29.12 s clips "
        "labelled from the MIDI (GM instrument programs, notated tempo, source), split by piece, "
        "in the MagnaTagATune layout read by music_tagger.datasets.mtt.read_mtt. The folder is "
        "built beside OUT and renamed into place with a READY summary at the end. "
        f"Needs: {APT_LINE}",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "out", help="output folder; an existing one is moved to OUT.old-<time> when the new one is complete"
    )
    parser.add_argument(
        "--tags",
        nargs="+",
        default=list(DEFAULT_TAGS),
        help="kept tags, among: " + ", ".join([*INSTRUMENT_TAGS, "fast", *(s.name for s in SOURCES)]),
    )
    parser.add_argument(
        "--sources",
        nargs="+",
        default=[s.name for s in SOURCES],
        choices=[s.name for s in SOURCES],
        help="MIDI collections used",
    )
    parser.add_argument("--max-clips", type=int, default=4, help="most clips cut from one piece")
    parser.add_argument("--clip-seconds", type=float, default=CLIP_SECONDS)
    parser.add_argument(
        "--max-piece-seconds", type=float, default=400.0, help="only this much of a piece is rendered and cut"
    )
    parser.add_argument("--min-notes", type=int, default=8, help="a clip needs this many note onsets")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds one fluidsynth call may run")
    parser.add_argument("--jobs", type=int, default=1, help="fluidsynth calls at once")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split search and of --orchestration random")
    parser.add_argument(
        "--orchestration",
        choices=("source", "random", "per-clip"),
        default="source",
        help="random: per piece, draw 2-4 families of "
        + ", ".join(ORCHESTRA)
        + " and put each melodic channel on a program of one of them (drums "
        "stay on channel 10); labels follow the new programs. per-clip: a new "
        "draw from each clip's start, so labels no longer follow the piece",
    )
    parser.add_argument(
        "--stems",
        action="store_true",
        help="also render every channel alone and write stems.tsv: each instrument "
        "tag's level (dB) against all notes of each clip, to check that labelled "
        "instruments are audible (about twice the render time)",
    )
    parser.add_argument("--dry-run", action="store_true", help="parse and label only; print the summary, write nothing")
    args = parser.parse_args(argv)
    words = sys.argv if argv is None else [__file__, *argv]
    args.command = " ".join(shlex.quote(a) for a in ["python", *words])
    try:
        print(build(args))
    except DevsetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
