"""music-tagger playlist: an M3U8 read as a player reads it lists exactly the tracks the
filter selects in the records (about 2 s)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from audiofiles import make

from music_tagger.cli import main

# path stem -> tags with scores; "passed" for the thresholded record
SCORES = {
    "a": [["jazz", 0.81], ["chill", 0.52], ["rock", 0.10]],
    "b": [["jazz", 0.35], ["rock", 0.60], ["chill", 0.05]],
    "c": [["rock", 0.90], ["jazz", 0.20], ["chill", 0.31]],
    "d": [["jazz", 0.45], ["chill", 0.40], ["rock", 0.33]],
    "ü e": [["jazz", 0.95], ["chill", 0.01], ["rock", 0.02]],
}


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("playlists")
    music = root / "music" / "sub"
    music.mkdir(parents=True)
    records = []
    for i, (stem, tags) in enumerate(SCORES.items()):
        path = make(music, "ogg", stem, seconds=1.0 + i, freq=300 + 100 * i)
        records.append({"path": str(path), "tags": tags, "error": None})
    records.append({"path": str(music / "failed.ogg"), "tags": [], "error": "could not decode"})
    out = root / "tags.jsonl"
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return root, out


def _expected(tags, exclude=(), min_score=0.2, sort="path", limit=None):
    chosen = []
    for stem, scores in SCORES.items():
        s = dict(scores)
        if all(s[t] >= min_score for t in tags) and not any(s[t] >= min_score for t in exclude):
            chosen.append((stem, sum(s[t] for t in tags) / len(tags)))
    chosen.sort()
    if sort == "score":
        chosen.sort(key=lambda c: -c[1])
    return [stem for stem, _ in chosen][:limit]


def _read_m3u8(playlist: Path) -> tuple[list[str], list[str]]:
    """The tracks as a player opens them (resolved from the playlist's folder), and the #EXTINF lines."""
    lines = playlist.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    tracks = [ln for ln in lines[1:] if not ln.startswith("#")]
    infos = [ln for ln in lines[1:] if ln.startswith("#EXTINF:")]
    resolved = [playlist.parent / t for t in tracks]
    assert all(p.is_file() for p in resolved), resolved
    return [Path(os.path.realpath(p)).stem for p in resolved], infos


@pytest.mark.parametrize("argv, expected", [
    (["--tag", "jazz"], _expected(["jazz"])),
    (["--tag", "jazz", "--not", "rock"], _expected(["jazz"], ["rock"])),
    (["--tag", "jazz", "--tag", "chill", "--min", "0.4"], _expected(["jazz", "chill"], min_score=0.4)),
    (["--tag", "jazz", "--sort", "score", "--limit", "3"], _expected(["jazz"], sort="score", limit=3)),
])  # fmt: skip
def test_the_playlist_lists_exactly_the_selected_tracks(library, tmp_path, capsys, argv, expected):
    _, records = library
    playlist = tmp_path / "lists" / "out.m3u8"
    playlist.parent.mkdir()
    assert main(["playlist", str(records), *argv, "-o", str(playlist)]) == 0
    tracks, infos = _read_m3u8(playlist)
    assert tracks == expected and expected
    assert all(not ln.startswith("/") for ln in playlist.read_text().splitlines())  # relative
    for stem, info in zip(tracks, infos):
        seconds = 1 + list(SCORES).index(stem)
        assert info == f"#EXTINF:{seconds},Someone - Song", info


def test_absolute_paths_and_one_playlist_per_tag(library, tmp_path, capsys):
    _, records = library
    assert main(["playlist", str(records), "--per-tag", str(tmp_path / "per"), "--absolute"]) == 0
    made = sorted(p.name for p in (tmp_path / "per").iterdir())
    assert made == ["chill.m3u8", "jazz.m3u8", "rock.m3u8"]
    for tag in ("chill", "jazz", "rock"):
        text = (tmp_path / "per" / f"{tag}.m3u8").read_text(encoding="utf-8")
        assert all(ln.startswith("/") for ln in text.splitlines() if not ln.startswith("#"))
        assert _read_m3u8(tmp_path / "per" / f"{tag}.m3u8")[0] == _expected([tag])


def test_bad_playlist_options_are_one_line(library, tmp_path, capsys):
    _, records = library
    assert main(["playlist", str(records), "--tag", "nonsense", "-o", str(tmp_path / "x.m3u8")]) == 2
    assert "unknown tag 'nonsense'" in capsys.readouterr().err
    assert main(["playlist", str(tmp_path / "none.jsonl"), "--tag", "jazz", "-o", str(tmp_path / "x.m3u8")]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"music-tagger: error: no records file at {tmp_path / 'none.jsonl'}"
    ]
    assert main(["playlist", str(records), "--tag", "jazz", "--min", "nan", "-o", str(tmp_path / "x.m3u8")]) == 2
    assert not (tmp_path / "x.m3u8").exists()


def test_outputs_that_cannot_be_written_are_one_line(library, tmp_path, capsys):
    _, records = library
    (tmp_path / "file").write_text("")
    for argv in (["--tag", "jazz", "-o", str(tmp_path)], ["--tag", "jazz", "-o", str(tmp_path / "no" / "x.m3u8")],
                 ["--per-tag", str(tmp_path / "file")]):  # fmt: skip
        assert main(["playlist", str(records), *argv]) == 1
        assert capsys.readouterr().err.startswith("music-tagger: error: cannot write the playlist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_name_a_player_would_skip_and_a_playlist_name_with_a_newline(tmp_path, capsys):
    music = tmp_path / "music"
    music.mkdir()
    paths = [make(music, "ogg", stem, seconds=1.0) for stem in ("#1 hit", " blank", "plain")]
    records = tmp_path / "tags.jsonl"
    records.write_text(
        "".join(json.dumps({"path": str(p), "tags": [["jazz", 0.5]], "error": None}) + "\n" for p in paths)
    )
    playlist = music / "two\nlines ü.m3u8"  # in the music's own folder: bare names
    assert main(["playlist", str(records), "--tag", "jazz", "-o", str(playlist)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].endswith("two\\nlines ü.m3u8: 3 tracks"), out
    lines = playlist.read_text(encoding="utf-8").splitlines()
    assert [ln for ln in lines if not ln.startswith("#")] == ["./ blank.ogg", "./#1 hit.ogg", "plain.ogg"]
    assert sorted(_read_m3u8(playlist)[0]) == sorted(p.stem for p in paths)


def test_records_of_another_machine_are_listed_with_one_line_and_a_nul_path_left_out(tmp_path, capsys):
    here = make(tmp_path, "ogg", "here", seconds=1.0)
    paths = [str(here), "/home/alice/Music/a.ogg", "/home/alice/Music/b.ogg", str(tmp_path / "a\0b.ogg")]
    records = tmp_path / "tags.jsonl"
    records.write_text("".join(json.dumps({"path": p, "tags": [["jazz", 0.5]], "error": None}) + "\n" for p in paths))
    playlist = tmp_path / "out.m3u8"
    assert main(["playlist", str(records), "--tag", "jazz", "-o", str(playlist), "--absolute"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "a\\0b.ogg" in err[0] and "left out" in err[0], err
    assert err[1].startswith("2 of the tracks are not files here (the first: /home/alice/Music/a.ogg)"), err
    text = playlist.read_text(encoding="utf-8")
    assert [ln for ln in text.splitlines() if not ln.startswith("#")] == paths[1:3] + [str(here)] and "\0" not in text
