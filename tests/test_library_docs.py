"""The recipes of docs/library.md run as written, in order, in one folder holding two of the
example clips; what each must do is checked after it (about 30 s: marked slow)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mutagen
import pytest

from music_tagger.library import field_values
from music_tagger.registry import example
from music_tagger.tagging.readback import read_records

pytestmark = [pytest.mark.slow, pytest.mark.reference]

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = re.findall(r"```bash\n(.*?)```", (ROOT / "docs" / "library.md").read_text(), re.S)
CLIPS = ("bensound-thejazzpiano", "bensound-dubstep")


def _run(block: str, folder: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _field(path: Path, name: str):
    value = mutagen.File(path).tags.get(f"TXXX:{name}")
    return None if value is None else str(value)


def test_the_recipes_run_as_written(tmp_path):
    assert len(BLOCKS) == 5
    music = tmp_path / "music"
    music.mkdir()
    for name in CLIPS:
        shutil.copyfile(example(name), music / f"{name}.mp3")
        os.chmod(music / f"{name}.mp3", 0o644)
    jazz, dubstep = (music / f"{name}.mp3" for name in CLIPS)
    originals = {p: p.read_bytes() for p in (jazz, dubstep)}
    genres = {p: mutagen.File(p).tags.get("TCON") for p in (jazz, dubstep)}

    out = _run(BLOCKS[0], tmp_path)  # tag, dry run, write, write again
    records = {Path(r["path"]).name: r for r in read_records(tmp_path / "tags.jsonl")}
    assert all({"size", "mtime_ns"} <= set(r) for r in records.values())
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["would write"] * 2 + ["written"] * 2 + ["unchanged"] * 2
    assert "jazz" in _field(jazz, "MUSIC_TAGGER_TAGS").split("; ")
    assert _field(jazz, "MUSIC_TAGGER_MODEL").startswith("crnn msd sha256:")
    assert str(genres[jazz]) == "Abstract" and genres[dubstep] is None
    assert str(mutagen.File(jazz).tags["TCON"]) == "Abstract"  # the file's own genre: kept
    assert "(kept its own GENRE)" in [line for line in lines[2:4] if "thejazzpiano" in line][0]
    mapped = field_values(records[dubstep.name], ["genre"])["GENRE"]  # none of its own: the table's
    assert str(mutagen.File(dubstep).tags["TCON"]) == mapped == "Hip-Hop"

    out = _run(BLOCKS[1], tmp_path)  # the replaced table, dry run
    assert all(line.startswith(("would write", "unchanged")) for line in out.splitlines())

    out = _run(BLOCKS[2], tmp_path)  # remove
    assert [line.split(":")[0] for line in out.splitlines()] == ["removed"] * 2
    for path, data in originals.items():
        assert mutagen.File(path).tags is None or not [k for k in mutagen.File(path).tags.keys() if "MUSIC_TAGGER" in k]
        assert _frames_equal(path.read_bytes(), data)

    out = _run(BLOCKS[3], tmp_path)  # beets
    listed = [line for line in out.splitlines() if not line.startswith("Created database backup")]
    assert listed[0] == "Bensound -  - The Jazz Piano"  # ls mt_tags:jazz: the jazz clip only
    title, score = listed[1].rsplit(" ", 1)  # ls 'mt_jazz:0.3..' -f '$title $mt_jazz'
    assert title == "The Jazz Piano" and float(score) >= 0.3 and len(listed) == 2

    _run(BLOCKS[4], tmp_path)  # playlists
    text = (tmp_path / "jazz.m3u8").read_text(encoding="utf-8").splitlines()
    expected = [p for p, r in records.items() if any(t == "jazz" and s >= 0.2 for t, s in r["tags"])]
    assert [ln for ln in text if not ln.startswith("#")] == [f"music/{p}" for p in sorted(expected)]
    assert expected == ["bensound-thejazzpiano.mp3"]
    per_tag = (tmp_path / "playlists" / "jazz.m3u8").read_text(encoding="utf-8")  # relative to its folder
    assert (tmp_path / "jazz.m3u8").read_text(encoding="utf-8").replace("\nmusic/", "\n../music/") == per_tag


def _frames_equal(a: bytes, b: bytes) -> bool:
    """The MP3 frames after the ID3v2 tag are the same bytes."""
    import io

    from mutagen import id3

    def frames(data):
        try:
            start = id3.ID3(io.BytesIO(data)).size
        except id3.ID3NoHeaderError:
            start = 0
        return data[start:]

    return frames(a) == frames(b)
