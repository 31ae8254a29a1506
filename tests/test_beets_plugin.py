"""The beets plugin: a library imported from generated files, tagged by `beet musictagger`
with the package's worker processes, queried by its attributes, tagged once (about 11 s:
marked slow)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {  # ffmpeg lavfi sources, different enough to get different tags
    "tone": "sine=frequency=220:duration=6",
    "high": "sine=frequency=1760:duration=6",
    "noise": "anoisesrc=color=pink:duration=6:amplitude=0.3",
    "beat": "aevalsrc='sin(2*PI*110*t)*lt(mod(t\\,0.5)\\,0.1)':duration=6",
}


def _beet(beetsdir: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "beets", "-c", str(beetsdir / "config.yaml"), *args],
        env={**os.environ, "PYTHONPATH": str(ROOT), "BEETSDIR": str(beetsdir)}, cwd=beetsdir,
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc


def _library(root: Path, names, extra: str = "") -> Path:
    music = root / "music"
    music.mkdir(parents=True)
    for name in names:
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", SOURCES[name], "-ac", "1", "-ar", "22050",
                        "-metadata", f"title={name}", "-metadata", "artist=Gen", str(music / f"{name}.flac")],
                       check=True, timeout=60)  # fmt: skip
    (root / "config.yaml").write_text(
        f"directory: {music}\nlibrary: {root / 'library.db'}\nplugins: musictagger\n"
        "import:\n  copy: no\n  write: no\n"
        f"musictagger:\n  workers: 1\n  crops: 2\n  min_score: 0.1\n{extra}"
    )
    return music


def _items(root: Path) -> dict[str, dict]:
    from beets.library import Library

    lib = Library(str(root / "library.db"))
    try:
        return {Path(os.fsdecode(i.path)).stem: {k: i.get(k) for k in i.keys() if k.startswith("mt_")}
                for i in lib.items()}  # fmt: skip
    finally:
        lib._close()


def test_beet_musictagger_stores_the_scores_and_tags_once(tmp_path):
    from beetsplug.musictagger import attribute
    from music_tagger import TAGS, tag
    from music_tagger.library.fields import record_tags

    music = _library(tmp_path, SOURCES)
    _beet(tmp_path, "import", "-A", "-q", str(music))
    imported = _items(tmp_path)  # the files' own MUSIC_TAGGER_* fields, read on import: none
    assert set(imported) == set(SOURCES) and all(not v.get("mt_model") for v in imported.values())
    run = _beet(tmp_path, "musictagger")
    assert "tagged 4 of 4 items" in run.stderr + run.stdout

    expected = {Path(r.path).stem: r for r in tag(sorted(music.iterdir()), top_n=None, crops=2, workers=0,
                                                    runtime="onnx", progress=False)}  # fmt: skip
    stored = _items(tmp_path)
    assert len({attribute(t) for t in TAGS}) == len(TAGS)
    for name, r in expected.items():
        got = stored[name]
        for t, score in zip(r.tags, r.scores):
            assert abs(float(got[attribute(t)]) - float(score)) < 1e-5, (name, t)
        assert got["mt_tags"] == "; ".join(record_tags(r.to_dict(), 0.1))
        assert got["mt_model"].startswith("crnn msd sha256:")

    # a tag some items have and others not: beet ls lists exactly those (beets' substring match)
    has = {n: set(record_tags(r.to_dict(), 0.1)) for n, r in expected.items()}
    query = next(t for t in TAGS if 0 < sum(any(t in u for u in tags) for tags in has.values()) < len(has))
    listed = _beet(tmp_path, "ls", "-f", "$title", f"mt_tags:{query}").stdout.split()
    assert sorted(listed) == sorted(n for n, tags in has.items() if any(query in u for u in tags))
    floor = sorted(float(s[attribute(query)]) for s in stored.values())[1]
    ranged = _beet(tmp_path, "ls", "-f", "$title", f"{attribute(query)}:{floor}..").stdout.split()
    assert sorted(ranged) == sorted(n for n, s in stored.items() if float(s[attribute(query)]) >= floor)

    again = _beet(tmp_path, "musictagger")
    assert "nothing to tag" in again.stderr + again.stdout
    assert _items(tmp_path) == stored


def test_auto_tags_on_import_and_write_goes_through_beets(tmp_path):
    import mutagen

    music = _library(tmp_path, ["tone"], extra="  auto: yes\n  write: yes\n  fields: [tags, model, scores]\n")
    _beet(tmp_path, "import", "-A", "-q", str(music))
    (item,) = _items(tmp_path).values()
    assert item["mt_model"].startswith("crnn msd sha256:")
    tags = mutagen.File(music / "tone.flac").tags
    assert tags["MUSIC_TAGGER_MODEL"] == [item["mt_model"]] and tags["MUSIC_TAGGER_TAGS"] == [item["mt_tags"]]
    scores = dict(pair.split("=") for pair in tags["MUSIC_TAGGER_SCORES"][0].split("; "))
    assert len(scores) == 50 and abs(float(scores["jazz"]) - float(item["mt_jazz"])) < 1e-4


def test_a_bad_config_value_is_one_line_before_any_tagging(tmp_path):
    music = _library(tmp_path, ["tone"])
    _beet(tmp_path, "import", "-A", "-q", str(music))
    config = (tmp_path / "config.yaml").read_text()
    for extra, said in [("  min_score: 2\n", "min_score must be a number in [0, 1], got 2"),
                        ("  crops: abc\n", "crops must be a positive integer, got 'abc'"),
                        ("  thresholds: /no/such.json\n", "no thresholds file"),
                        ("  fields: [tags, bogus]\n", "fields are tags, model, scores, not bogus")]:  # fmt: skip
        (tmp_path / "config.yaml").write_text(config.replace("  min_score: 0.1\n", "") + extra)
        proc = subprocess.run(
            [sys.executable, "-m", "beets", "-c", str(tmp_path / "config.yaml"), "musictagger"],
            env={**os.environ, "PYTHONPATH": str(ROOT), "BEETSDIR": str(tmp_path)}, cwd=tmp_path,
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert f"error: musictagger: {said}" in proc.stderr, proc.stderr
    assert all(not v for v in _items(tmp_path)["tone"].values())  # nothing stored


def test_each_item_is_stored_as_soon_as_it_is_tagged(tmp_path):
    """A run killed half way keeps the items it did: the first is stored before the
    last file is even read (here: the last is removed in the first's store())."""
    import shutil

    from beets import config

    from beetsplug.musictagger import MusicTaggerPlugin

    music = _library(tmp_path, ["tone"])
    paths = [music / "tone.flac"] + [music / f"copy{i:02d}.flac" for i in range(23)]  # 3 batches of 8
    for p in paths[1:]:
        shutil.copyfile(paths[0], p)
    config.clear()
    config.set({"musictagger": {"workers": 0, "crops": 2, "runtime": "onnx"}})
    plugin = MusicTaggerPlugin()
    events = []

    class Item(dict):
        def __init__(self, path):
            super().__init__()
            self.path = os.fsencode(path)

        def store(self):
            events.append(os.path.basename(self.path))
            if len(events) == 1:
                os.remove(paths[-1])  # not read yet: it fails, and the others are stored

        def try_write(self):
            pass

    items = [Item(p) for p in paths]
    assert plugin.tag_items(items) == 23  # all 24 with tag(), which read every file first
    assert len(events) == 23 and "mt_model" not in items[-1]
