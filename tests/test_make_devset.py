"""The pure-python parts of ``benchmarks/make_devset.py``, on tiny generated MIDI.

No FluidSynth needed: MIDI parsing, clip labels, WAD lumps, the by-piece split, the
MTT files (read back with ``music_tagger.datasets.mtt.read_mtt``) and a dry run.
"""

import importlib.util
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from music_tagger.datasets.dataset import MTT_FOLDER_SPLIT
from music_tagger.datasets.mtt import read_mtt

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "make_devset.py"


@pytest.fixture(scope="module")
def md():
    spec = importlib.util.spec_from_file_location("make_devset", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_devset"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("make_devset", None)


def varlen(n: int) -> bytes:
    out = [n & 0x7F]
    while n > 127:
        n >>= 7
        out.append(0x80 | (n & 0x7F))
    return bytes(reversed(out))


def smf(tracks: list[list[tuple[int, bytes]]], division: int = 96) -> bytes:
    """A format-1 Standard MIDI File from tracks of (delta ticks, event bytes)."""
    data = b"MThd" + struct.pack(">IHHH", 6, 1, len(tracks), division)
    for events in tracks:
        body = b"".join(varlen(d) + e for d, e in events) + b"\x00\xff\x2f\x00"
        data += b"MTrk" + struct.pack(">I", len(body)) + body
    return data


def tempo(bpm: float) -> bytes:
    return b"\xff\x51\x03" + int(round(60e6 / bpm)).to_bytes(3, "big")


# 96 ticks per quarter. Track 0: 60 bpm for 40 quarters (40 s), then 150 bpm.
# Track 1: piano (program 0) note at 0 s; drums (channel 10) at 1 s only; program 48
# (strings ensemble) at 35 s with running-status notes at quarter 35 (35 s) and at
# quarter 45 (40 s + 5 quarters at 150 bpm = 42 s).
TINY = smf(
    [
        [(0, tempo(60)), (96 * 40, tempo(150))],
        [
            (0, b"\xc0\x00"),
            (0, b"\x90\x3c\x64"),
            (96, b"\x80\x3c\x00"),
            (0, b"\x99\x24\x64"),
            (10, b"\x89\x24\x00"),
            (96 * 34 - 10, b"\xc0\x30"),
            (0, b"\x90\x40\x64"),
            (48, b"\x40\x00"),
            (96 * 10 - 48, b"\x43\x64"),
            (48, b"\x43\x00"),
        ],
    ]
)


def test_parse_midi_times_programs_and_tempo(md):
    m = md.parse_midi(TINY)
    np.testing.assert_allclose(m.onsets, [0.0, 1.0, 35.0, 42.0])
    assert m.channels.tolist() == [0, 9, 0, 0]
    assert m.programs.tolist() == [0, 0, 48, 48]
    np.testing.assert_allclose(m.tempo, [[0.0, 60.0], [40.0, 150.0]])
    assert m.duration == pytest.approx(42.2)


def test_notes_on_a_silenced_channel_do_not_count(md):
    muted = smf(
        [
            [
                (0, b"\xc1\x38"),
                (0, b"\xb1\x07\x00"),
                (0, b"\x91\x40\x64"),
                (0, b"\xb1\x07\x64"),
                (0, b"\xb1\x0b\x00"),
                (96, b"\x91\x41\x64"),
                (0, b"\xb1\x0b\x40"),
                (96, b"\x91\x42\x64"),
            ]
        ]
    )
    m = md.parse_midi(muted)
    np.testing.assert_allclose(m.onsets, [1.0])  # only after volume and expression > 0
    assert m.programs.tolist() == [56]


def test_parse_midi_rejects_other_bytes(md):
    with pytest.raises(md.DevsetError, match="MThd"):
        md.parse_midi(b"RIFF" + bytes(20))


def test_clip_labels_from_the_clip_time_range(md):
    m = md.parse_midi(TINY)
    first = md.clip_labels(m, 0.0, 30.0)
    assert first["families"] == ["drums", "piano"]
    assert (first["piano"], first["drums"], first["strings"], first["fast"]) == (True, True, False, False)
    second = md.clip_labels(m, 30.0, 45.0)
    assert second["families"] == ["ensemble"]
    assert second["strings"] and not second["piano"] and not second["drums"]
    # 10 s at 60 bpm and 5 s at 150 bpm: 90 bpm on average, below FAST_BPM.
    assert second["bpm"] == pytest.approx(90.0)
    assert not second["fast"]
    assert md.clip_labels(m, 40.0, 45.0)["fast"]


def test_random_orchestration_relabels_by_the_new_programs(md):
    # Channel 0 changes program (piano -> strings) mid-piece, channel 2 has none (GM
    # program 0) and a bank select; channel 10 is drums. After reorchestration each
    # melodic channel plays its one drawn program throughout and the labels follow.
    piece = smf(
        [
            [
                (0, b"\xc0\x00"),
                (0, b"\x90\x3c\x64"),
                (96, b"\x99\x24\x64"),
                (96, b"\xc0\x30"),
                (0, b"\x90\x40\x64"),
                (0, b"\xb2\x00\x7f"),
                (96, b"\x92\x30\x64"),
            ]
        ]
    )
    m = md.parse_midi(piece)
    plans = [md.random_orchestration(m, "gen/piece", seed) for seed in range(20)]
    assert plans[3] == md.random_orchestration(m, "gen/piece", 3)  # deterministic
    assert len({tuple(sorted(p.items())) for p in plans}) > 5  # and seeded
    for plan in plans:
        assert sorted(plan) == [0, 2]  # the drum channel is not reassigned
        fams = {t for t in md.ORCHESTRA for c, q in plan.items() if any(q in r for r in md.INSTRUMENT_TAGS[t])}
        assert len(fams) == 2  # two channels: each drawn family is used
    plan = {0: 56, 2: 81}  # brass, synth lead
    data = md.reorchestrate(piece, plan)
    again = md.parse_midi(data)
    np.testing.assert_allclose(again.onsets, m.onsets)
    assert again.programs[again.channels != 9].tolist() == [56, 56, 81]
    assert b"\xb2\x00\x00" in data  # the bank select now picks bank 0
    labels = md.clip_labels(again, 0.0, 29.12)
    assert labels["brass"] and labels["synth"] and labels["drums"]
    assert not labels["piano"] and not labels["strings"]
    assert md.clip_labels(m, 0.0, 29.12)["piano"]  # what the source said


def test_per_clip_orchestration_changes_programs_at_each_clip_start(md):
    # TINY: 60 bpm for 40 s, then 150 bpm; notes at 0 s (piano), 1 s (drums), 35 s, 42 s
    assert md.ticks_at(TINY, [0.0, 35.0, 41.0]) == [0, 96 * 35, 96 * 40 + 240]  # 1 s = 2.5 quarters
    # two tempo events at one tick: the later in the file holds (as parse_midi reads it)
    two = smf([[(0, tempo(120)), (0, tempo(60))], [(96, b"\x90\x3c\x64")]])
    assert md.ticks_at(two, [1.0]) == [96] and md.parse_midi(two).onsets.tolist() == [1.0]
    plans = [(0, {0: 56}), (md.ticks_at(TINY, [30.0])[0], {0: 81})]
    again = md.parse_midi(md.reorchestrate(TINY, plans))
    melodic = again.channels != 9
    assert again.programs[melodic].tolist() == [56, 81, 81]  # 0 s; 35 s and 42 s
    first, second = md.clip_labels(again, 0.0, 30.0), md.clip_labels(again, 30.0, 45.0)
    assert first["brass"] and not first["synth"] and second["synth"] and not second["brass"]


def test_stem_levels_put_each_tag_against_all_notes_of_the_clip(md, monkeypatch):
    # TINY rendered one channel at a time: channel 0 (piano, then strings from 35 s)
    # at amplitude 1, the drums at 0.1; a fake renderer checks only one channel sounds.
    def fake_render(data, seconds, timeout, workdir, peak=0.9):
        assert peak is None  # levels are compared unscaled
        (channel,) = set(md.parse_midi(data).channels.tolist())
        return np.full(int(seconds * md.SR), 1.0 if channel == 0 else 0.1, np.float32)

    monkeypatch.setattr(md, "render", fake_render)
    first, second = md.stem_levels(TINY, [0.0, 30.0], 10.0, 60.0, Path("."))
    assert set(first) == {"piano", "drums"}  # strings start at 35 s; nothing else plays
    assert first["piano"] == pytest.approx(10 * np.log10(1 / 1.01))
    assert first["drums"] == pytest.approx(10 * np.log10(0.01 / 1.01))  # 20 dB under the piano
    assert set(second) == {"strings"} and second["strings"] == pytest.approx(first["piano"])


def test_clip_starts_do_not_overlap_and_fit(md):
    starts = md.clip_starts(200.0, 29.12, 4)
    assert len(starts) == 4
    assert np.all(np.diff(starts) >= 29.12 - 1e-9)
    assert starts[0] >= 0 and starts[-1] + 29.12 <= 200.0
    assert md.clip_starts(29.0, 29.12, 4) == []


def test_wad_lumps_keep_only_midi_music(md, tmp_path):
    lumps = [(b"D_RUNNIN", TINY), (b"D_MUSLMP", b"MUS\x1a" + bytes(8)), (b"PLAYPAL", TINY)]
    body, directory, pos = b"", b"", 12
    for name, data in lumps:
        directory += struct.pack("<ii8s", pos, len(data), name)
        body += data
        pos += len(data)
    path = tmp_path / "x.wad"
    path.write_bytes(b"IWAD" + struct.pack("<ii", len(lumps), pos) + body + directory)
    assert md.wad_midi_lumps(path) == {"D_RUNNIN": TINY}


def test_split_by_piece_balances_clips_and_tags(md):
    rng = np.random.default_rng(0)
    pieces = {f"p{i:02d}": rng.random((int(rng.integers(1, 5)), 2)) < [0.5, 0.15] for i in range(60)}
    split = md.split_by_piece(pieces, seed=3)
    assert split == md.split_by_piece(pieces, seed=3)
    assert set(split) == set(pieces)
    total = sum(len(v) for v in pieces.values())
    for name, fraction in md.SPLIT_FRACTIONS.items():
        members = [pieces[k] for k in pieces if split[k] == name]
        share = sum(len(m) for m in members) / total
        assert abs(share - fraction) < 0.06
        assert np.all(sum(m.sum(axis=0) for m in members) > 0)


def test_written_files_are_read_by_read_mtt(md, tmp_path):
    rows, lists = [], {s: [] for s in md.SPLIT_FRACTIONS}
    for i, split in enumerate(["train", "train", "valid", "test"]):
        path = f"{md.mtt_folder(split, f'piece{i}')}/clip{i}.ogg"
        (tmp_path / path).parent.mkdir(exist_ok=True)
        (tmp_path / path).write_bytes(b"not empty")
        rows.append((str(i + 1), [i % 2 == 0, True], path))
        lists[split].append(path)
    md.write_annotations(tmp_path / "annotations_final.csv", rows, ["piano", "fast"])
    (tmp_path / "split").mkdir()
    for split, paths in lists.items():
        (tmp_path / "split" / f"{split}.txt").write_text("".join(p + "\n" for p in paths))
    listed = read_mtt(tmp_path, top_n=None, split=tmp_path / "split")
    by_folder = read_mtt(tmp_path, top_n=None)
    assert listed.tags == ["piano", "fast"]
    assert listed.split.tolist() == ["train", "train", "valid", "test"]
    assert by_folder.split.tolist() == listed.split.tolist()
    assert listed.y.astype(int).tolist() == [[1, 1], [0, 1], [1, 1], [0, 1]]
    assert all(MTT_FOLDER_SPLIT[r[2][0]] == s for r, s in zip(rows, listed.split))


def test_dry_run_labels_and_dedupes_a_generated_collection(md, tmp_path, monkeypatch, capsys):
    long_piece = smf(
        [[(0, tempo(150))], [(0, b"\xc0\x00")] + [(96 if k else 0, b"\x90\x3c\x64") for k in range(400)]]
    )  # 160 s of piano
    for name, data in [("a", long_piece), ("b", long_piece), ("c", TINY)]:
        (tmp_path / f"{name}.mid").write_bytes(data)
    source = md.Source("gen", "none", "test", (str(tmp_path / "*.mid"),))
    monkeypatch.setattr(md, "SOURCES", (source,))
    assert md.main([str(tmp_path / "out"), "--dry-run", "--tags", "piano", "fast", "strings", "--max-clips", "3"]) == 0
    text = capsys.readouterr().out
    # b is a copy of a; c has one 29.12 s clip of 42 s but only 2 notes in it.
    assert "pieces: 1;" in text
    assert "all 3" in text
    assert not (tmp_path / "out").exists()


def test_docstring_examples_hold(md):
    import doctest

    result = doctest.testmod(md, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 5 and result.failed == 0
