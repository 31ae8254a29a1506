"""Build the real-music set of ``benchmarks/quality.py``: clips, recordings, MSD-tag labels.

Real recordings with a documented style, from Debian ``main`` packages (nothing is
downloaded by this script; ``apt-get install`` them first), plus MIDI pieces rendered
through a sampled General MIDI bank where a tag is about instrumentation. The labels
are fixed here, per collection or from the MIDI notes, **before any score was
looked at**; a label left empty means "not known" and the clip is left out of that
tag's scores (never counted as a negative).

Collections and what they say (each an MSD tag 1 = has it, 0 = has not, "" = unknown)
-------------------------------------------------------------------------------------
``warzone2100`` (package ``warzone2100-music``, CC-BY-SA-3.0 / GPL-2+)
    ``/usr/share/games/warzone2100/music/albums/*/*.opus``: the original Warzone 2100
    soundtrack (Martin Severn, 1999: synthesizer-made electronic / techno and
    industrial-ambient pieces) and LupusMechanicus' Legacy (2019-2022) and Aftermath
    (2021) albums made in its style, each album.json naming the author.
    electronic = 1, jazz = 0, guitar = "", rock = "" (industrial), acoustic = 0 (synthesizer-made, by the
    albums' own descriptions).
``wesnoth`` (package ``wesnoth-1.16-music``, GPL-2+)
    ``/usr/share/games/wesnoth/1.16/data/core/music/*.ogg``: the orchestral score of
    The Battle for Wesnoth (strings, brass, choir, percussion; some folk pieces with
    lute or harp). electronic = 0, jazz = 0, rock = 0, guitar = "" (lutes and harps are not
    the MSD "guitar", and the credits do not say which pieces use them), acoustic = ""
    (the credits do not say whether the orchestra is played or sampled).
``openmsx`` (package ``openttd-openmsx``, GPL-2.0), rendered by make_devset.py
    The OpenMSX soundtrack of OpenTTD; ``openmsx.obm`` files the pieces under the
    game's three playlists of Transport Tycoon: "Ezy Street" (``ezy_*``, Jim Redfarn's
    boogie, blues and swing pieces, the game's jazz playlist) -> jazz = 1; the "old"
    and "new" style pieces -> jazz = "" (light music, some of it jazzy).
    guitar and acoustic from the MIDI (below), electronic = "", rock = 0 on Ezy
    Street (jazz pieces), else "".
``freedoom`` (package ``freedoom``, BSD-3-Clause), rendered by make_devset.py
    The Freedoom soundtrack (MIDI rock, metal and ambient pieces) -> jazz = 0,
    guitar and acoustic from the MIDI, electronic = "", rock = "" (the pieces' styles
    are not documented one by one).
``mma`` (package ``mma``, GPL-2+: Musical MIDI Accompaniment's groove library), rendered here
    One piece per groove file of ``/usr/share/mma/lib`` in :data:`MMA_GROOVES` (its
    first groove that is not an intro, fill or ending), all on the same 24 bars of chords (a ii-V-I turnaround in C, :data:`MMA_CHORDS`) at 120
    bpm, written to MIDI by ``mma`` and rendered with make_devset.py's FluidSynth and
    FluidR3 bank; one clip each (its first 29.12 s). jazz = 1 for the grooves that the
    library names and documents as jazz (its ``Begin Doc`` text: bebop, big band,
    dixieland, swing, "jazz" combos, waltzes and ballads), 0 for its rock, folk,
    country, march, polka, dance and latin grooves chosen as clearly not jazz (jazz
    rock, bossa nova, blues, western swing and the like left out as undecidable).
    rock = 1 for every groove file whose name says rock in its libraries (stdlib, casio,
    zoom, pflib, kara, yamaha: rock, pop rock, soft and folk rock, rock ballad and
    waltz, 50s/60s rock, shuffle and slow rock; jazz rock left out), 0 for the jazz and
    the other non-rock grooves above. guitar and acoustic from the MIDI (below), electronic = "".

MIDI labels: ``guitar`` = 1 when a note of GM programs 25-32 (guitars, acoustic to
distortion) starts in the clip on an audible channel, 0 otherwise
(``make_devset.py``'s ``INSTRUMENT_TAGS``, the same rule as its development set).
``acoustic`` (rule fixed before any score of it was computed) = 1 when every melodic
note starting in the clip is played by an acoustic instrument of the General MIDI
bank (:data:`ACOUSTIC_PROGRAMS`: acoustic pianos and harpsichord, chromatic
percussion, church and reed organs, accordions and harmonica, nylon and steel
acoustic guitars, acoustic bass, orchestral strings, harp and timpani, string
ensembles and choirs, brass, reeds, pipes, ethnic instruments, acoustic percussion),
0 when any is played by an electric or synthetic one (electric pianos and clavinet,
electric organs, electric guitars and basses, synth strings, voice and brass, synth
leads, pads and effects, synth drums, sound effects); drum-channel notes (a sampled
acoustic kit) do not count either way; a clip with no melodic note is "".

Clips: 29.12 s (the CRNN's window), non-overlapping, at most ``--max-clips`` per
recording from its start; audio recordings decoded by ffmpeg (under ``timeout``) to
16 kHz mono 16-bit WAV (musicnn's rate; the CRNN resamples to 12 kHz itself), MIDI
clips as make_devset.py wrote them. ``labels.tsv`` lists every clip with its
recording (the bootstrap's unit) and labels.

    python benchmarks/make_devset.py /work/data28/midi --sources freedoom openmsx \\
        --tags guitar piano synth freedoom openmsx --max-clips 4
    sudo apt-get install mma
    python benchmarks/quality_set.py /work/data28/quality --midi /work/data28/midi
"""

from __future__ import annotations

import argparse
import csv
import glob
import os
import re
import subprocess
from pathlib import Path

import numpy as np

#: The MSD tags this set labels.
TAGS = ("electronic", "jazz", "guitar", "acoustic", "rock")
CLIP_SECONDS = 29.12
RATE = 16000
#: Audio collections: name -> (glob, labels of every recording).
AUDIO = {
    "warzone2100": ("/usr/share/games/warzone2100/music/albums/*/*.opus",
                    {"electronic": 1, "jazz": 0, "guitar": None, "acoustic": 0, "rock": None}),
    "wesnoth": ("/usr/share/games/wesnoth/1.16/data/core/music/*.ogg",
                {"electronic": 0, "jazz": 0, "guitar": None, "acoustic": None, "rock": 0}),
}  # fmt: skip
#: General MIDI programs (0-based) of acoustic instruments, for the ``acoustic`` rule.
ACOUSTIC_PROGRAMS = frozenset(
    [0, 1, 6, *range(8, 16), *range(19, 24), 24, 25, 32, *range(40, 50), 52, 53, *range(56, 62),
     *range(64, 80), *range(104, 118)]
)  # fmt: skip
#: MMA grooves (file stems of /usr/share/mma/lib/stdlib) -> jazz label, fixed from the
#: library's names and documentation before any score.
MMA_GROOVES = {
    **dict.fromkeys(["bebop", "bigband", "dixie", "swing", "fastswing", "easyswing", "jazzcombo", "jazzguitar",
                     "jazzwaltz", "fastjazzwaltz", "modernjazz", "modernjazzwaltz", "mellowjazz", "nitejazz",
                     "slowjazz", "jazz-54", "gypsyjazz", "folkyjazz", "descendingjazz", "evansish"],
                    {"jazz": 1, "rock": 0}),
    **dict.fromkeys(["50srock", "basicrock", "softrock", "folkrock"], {"jazz": 0, "rock": 1}),
    **dict.fromkeys(["bluegrass", "polka", "march", "waltz", "tango", "hymn", "samba", "trance", "merengue",
                     "countrywaltz"], {"jazz": 0, "rock": 0}),
    # the other rock grooves of MMA's libraries (added with the rock tag)
    **dict.fromkeys(["60srock", "bubblerock", "rock-128", "rockballad", "rockwaltz", "casio/60srock",
                     "casio/digitalrock", "casio/poprock1", "casio/poprock2", "casio/rock1", "casio/rock2",
                     "casio/shufflerock", "casio/slowrock", "zoom/rock", "zoom/rock34", "pflib/rock1",
                     "pflib/slowrock", "kara/K50s_rock", "yamaha/w-rock"], {"jazz": 0, "rock": 1}),
}  # fmt: skip
#: The chords of every MMA piece: 24 bars, a ii-V-I turnaround in C.
MMA_CHORDS = ["Dm7", "G7", "Cmaj7", "A7"] * 6
MMA_LIB = "/usr/share/mma/lib"
OPENMSX_PLAYLISTS = "/usr/share/games/openttd/baseset/openmsx/openmsx.obm"


def decode(path: str, timeout: float = 120.0) -> np.ndarray:
    """A file as 16 kHz mono float32, through ffmpeg (killed after ``timeout`` s)."""
    raw = subprocess.run(
        ["timeout", str(timeout), "ffmpeg", "-v", "error", "-i", path, "-ac", "1", "-ar", str(RATE),
         "-f", "f32le", "-"], capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, np.float32)


def audio_clips(out: Path, max_clips: int) -> list[dict]:
    """Cut the audio collections into clips under ``out/clips``; one row per clip."""
    import soundfile as sf

    rows, n = [], int(CLIP_SECONDS * RATE)
    for collection, (pattern, labels) in AUDIO.items():
        for path in sorted(glob.glob(pattern)):
            recording = f"{collection}/{Path(path).parent.name}/{Path(path).stem}"
            samples = decode(path)
            for k in range(min(max_clips, len(samples) // n)):
                name = out / "clips" / f"{recording.replace('/', '__')}__{k}.wav"
                if not name.exists():
                    name.parent.mkdir(parents=True, exist_ok=True)
                    sf.write(str(name) + ".tmp.wav", samples[k * n : (k + 1) * n], RATE, subtype="PCM_16")
                    os.replace(str(name) + ".tmp.wav", name)
                rows.append(dict(clip=str(name), recording=recording, collection=collection,
                                 start=round(k * CLIP_SECONDS, 2), **labels))  # fmt: skip
    return rows


def normal(name: str) -> str:
    """A piece name as make_devset.py spells it (``be_sharp_bw`` -> ``be-sharp-bw``)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def ezy_street() -> set[str]:
    """The OpenMSX pieces of the "Ezy Street" (jazz) playlist, by :func:`normal` file stem."""
    stems = set()
    for line in Path(OPENMSX_PLAYLISTS).read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip().startswith("ezy_") and value.strip().endswith(".mid"):
            stems.add(normal(Path(value.strip()).stem))
    return stems


def acoustic(programs: np.ndarray) -> int | None:
    """The ``acoustic`` label of a clip from the programs of its melodic notes.

    Examples
    --------
    >>> acoustic(np.array([0, 40, 73])), acoustic(np.array([0, 29])), acoustic(np.array([], int))
    (1, 0, None)
    """
    if len(programs) == 0:
        return None
    return int(all(int(p) in ACOUSTIC_PROGRAMS for p in programs))


def midi_programs() -> dict[str, object]:
    """make_devset.py's parsed MIDI pieces by key (``freedoom/d-adrian``)."""
    from make_devset import find_pieces

    return {piece.key: piece.midi for piece in find_pieces()[0]}


def midi_clips(midi: Path) -> list[dict]:
    """The rendered MIDI clips of make_devset.py, with this set's labels."""
    with open(midi / "annotations_final.csv", newline="") as f:
        annotations = {row["mp3_path"]: row for row in csv.DictReader(f, delimiter="\t")}
    ezy, pieces, rows = ezy_street(), midi_programs(), []
    with open(midi / "clips.tsv", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            source, piece = row["source"], row["piece"]
            stem = normal(piece.split("/", 1)[-1])
            jazz = 0 if source == "freedoom" else (1 if stem in ezy else None)
            guitar = int(annotations[row["mp3_path"]]["guitar"])
            notes, start = pieces[piece], float(row["start_s"])
            melodic = (notes.onsets >= start) & (notes.onsets < start + CLIP_SECONDS) & (notes.channels != 9)
            rows.append(dict(clip=str(midi / row["mp3_path"]), recording=piece, collection=source, start=start,
                             electronic=None, jazz=jazz, guitar=guitar, rock=0 if jazz == 1 else None,
                             acoustic=acoustic(notes.programs[melodic])))  # fmt: skip
    return rows


def mma_clips(out: Path) -> list[dict]:
    """Render one clip per groove of :data:`MMA_GROOVES` under ``out/mma``; one row per clip."""
    import soundfile as sf
    from make_devset import SR, parse_midi, render

    rows, work = [], out / "mma" / "work"
    work.mkdir(parents=True, exist_ok=True)
    for groove, labels in MMA_GROOVES.items():
        library = f"{MMA_LIB}/{groove if '/' in groove else 'stdlib/' + groove}.mma"
        if not os.path.isfile(library):
            raise SystemExit(f"no MMA groove {groove} in {MMA_LIB}: apt-get install mma")
        stem = groove.replace("/", "__")
        song, midi_path = work / f"{stem}.mma", work / f"{stem}.mid"
        grooves = re.findall(r"^DefGroove\s+(\S+)", Path(library).read_text(errors="replace"), re.M)
        name = next(g for g in grooves if not re.search(r"Intro|INTRO|Fill|FILL|End|END", g))
        song.write_text(f"Tempo 120\nGroove {name}\n" + "".join(f"{i + 1} {c}\n" for i, c in enumerate(MMA_CHORDS)))
        subprocess.run(["timeout", "120", "mma", "-f", str(midi_path), str(song)], check=True, capture_output=True)
        notes = parse_midi(midi_path.read_bytes())
        name = out / "mma" / f"mma__{stem}__0.wav"
        if not name.exists():
            samples = render(midi_path.read_bytes(), CLIP_SECONDS, 120, work)[: int(CLIP_SECONDS * SR)]
            sf.write(str(name) + ".tmp.wav", samples, SR, subtype="PCM_16")
            os.replace(str(name) + ".tmp.wav", name)
        melodic = (notes.onsets < CLIP_SECONDS) & (notes.channels != 9)
        programs = notes.programs[melodic]
        rows.append(dict(clip=str(name), recording=f"mma/{groove}", collection="mma", start=0.0, electronic=None,
                         **labels, guitar=int(np.isin(programs, range(24, 32)).any()),
                         acoustic=acoustic(programs)))  # fmt: skip
    return rows


def read_set(folder: str | os.PathLike) -> tuple[list[str], list[str], np.ndarray]:
    """``(clips, recordings, labels)`` of ``labels.tsv``; labels ``(n, len(TAGS))``, NaN where unknown."""
    with open(Path(folder) / "labels.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    labels = np.array([[float(r[t]) if r[t] != "" else np.nan for t in TAGS] for r in rows])
    return [r["clip"] for r in rows], [r["recording"] for r in rows], labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="output folder (clips/ and labels.tsv)")
    parser.add_argument("--midi", required=True, help="the folder make_devset.py wrote")
    parser.add_argument("--max-clips", type=int, default=4, help="most clips per audio recording")
    args = parser.parse_args()
    out = Path(args.out)
    rows = audio_clips(out, args.max_clips) + midi_clips(Path(args.midi)) + mma_clips(out)
    with open(out / "labels.tsv.tmp", "w", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(["clip", "recording", "collection", "start", *TAGS])
        for r in rows:
            writer.writerow([r["clip"], r["recording"], r["collection"], r["start"],
                             *("" if r[t] is None else r[t] for t in TAGS)])  # fmt: skip
    os.replace(out / "labels.tsv.tmp", out / "labels.tsv")
    clips, recordings, labels = read_set(out)
    print(f"{len(clips)} clips from {len(set(recordings))} recordings")
    for j, tag in enumerate(TAGS):
        known = ~np.isnan(labels[:, j])
        pos = {r for r, k, v in zip(recordings, known, labels[:, j]) if k and v == 1}
        neg = {r for r, k, v in zip(recordings, known, labels[:, j]) if k and v == 0}
        print(
            f"  {tag}: {int((labels[known, j] == 1).sum())} positive / {int((labels[known, j] == 0).sum())} "
            f"negative clips; {len(pos)} / {len(neg)} recordings with a positive / negative clip"
        )


if __name__ == "__main__":
    main()
