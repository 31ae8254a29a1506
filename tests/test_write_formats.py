"""Tags written into every format, read back by mutagen and by tinytag, and removed again:
the samples, the audio frames and every other tag stay exactly as they were (about 5 s)."""

from __future__ import annotations

import os

import pytest
from audiofiles import KINDS, digest, frames, make, other_tags, samples
from tinytag import TinyTag

from music_tagger.library import field_values, write_tags
from music_tagger.library.formats import get_field, open_audio

RECORD_TAGS = [["jazz", 0.61], ["chill", 0.44], ["instrumental", 0.35], ["rock", 0.12]]
FIELDS = ["tags", "model", "scores", "genre", "mood"]
OURS = {"MUSIC_TAGGER_TAGS", "MUSIC_TAGGER_MODEL", "MUSIC_TAGGER_SCORES", "MUSIC_TAGGER_GENRE",
        "MUSIC_TAGGER_MOOD", "MOOD", "GENRE"}  # fmt: skip


def _record(path):
    st = os.stat(path)
    return {"path": str(path), "tags": RECORD_TAGS, "error": None, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("formats")
    return {kind: make(folder, kind) for kind in KINDS}


@pytest.mark.parametrize("kind", list(KINDS))
def test_write_then_remove_keeps_the_audio_and_every_other_tag(files, kind):
    path = files[kind]
    before = dict(samples=samples(path), frames=frames(path), tags=other_tags(path, OURS),
                  genre=get_field(open_audio(path), "GENRE"), mtime=os.stat(path).st_mtime_ns)  # fmt: skip
    expected = field_values(_record(path), FIELDS)
    assert expected["MUSIC_TAGGER_TAGS"] == "jazz; chill; instrumental"
    assert expected["GENRE"] == "Jazz" and expected["MOOD"] == "Chill"

    (out,) = write_tags([_record(path)], FIELDS)
    assert out.action == "written", out.line()
    assert samples(path) == before["samples"]
    assert frames(path) == before["frames"]
    assert other_tags(path, OURS) == before["tags"]
    assert os.stat(path).st_mtime_ns == before["mtime"]
    audio = open_audio(path)
    own_genre = before["genre"] is not None  # the ID3 files carry a genre of their own: kept
    assert out.reason == ("kept its own GENRE" if own_genre else None)
    for name, value in expected.items():
        if own_genre and name in ("GENRE", "MUSIC_TAGGER_GENRE"):
            assert get_field(audio, name) == before["genre"] if name == "GENRE" else get_field(audio, name) is None
        else:
            assert get_field(audio, name) == value, name
    # a second reader: tinytag
    tt = TinyTag.get(path)
    assert tt.other["music_tagger_tags"] == [expected["MUSIC_TAGGER_TAGS"]]
    assert tt.other["music_tagger_model"] == [expected["MUSIC_TAGGER_MODEL"]]
    assert tt.other["music_tagger_scores"] == [expected["MUSIC_TAGGER_SCORES"]]
    assert tt.genre == (before["genre"] if own_genre else "Jazz")
    assert tt.title == "Song"

    (again,) = write_tags([_record(path) | {"size": 1}], FIELDS)  # written by us: time kept, size changed
    assert again.action == "unchanged", again.line()

    (gone,) = write_tags([{"path": str(path)}], remove=True)
    assert gone.action == "removed", gone.line()
    assert samples(path) == before["samples"]
    assert frames(path) == before["frames"]
    assert other_tags(path, OURS) == before["tags"]
    audio = open_audio(path)
    assert all(get_field(audio, n) is None for n in OURS - {"GENRE"})
    assert get_field(audio, "GENRE") == before["genre"]
    tt = TinyTag.get(path)
    assert not {k for k in tt.other if k.startswith("music_tagger")}
    assert tt.genre == before["genre"]


def test_dry_run_changes_nothing_and_remove_leaves_a_genre_the_user_changed(tmp_path):
    path = make(tmp_path, "flac-picture")
    os.chmod(path, 0o640)
    sha = digest(path)
    (out,) = write_tags([_record(path)], FIELDS, dry_run=True)
    assert out.action == "would write" and "GENRE=Jazz" in out.line()
    assert digest(path) == sha
    (out,) = write_tags([_record(path)], FIELDS)
    assert out.action == "written" and os.stat(path).st_mode & 0o777 == 0o640
    audio = open_audio(path)
    audio.tags["GENRE"] = ["Bebop"]  # the user's edit, after the package wrote Jazz
    audio.save()
    (out,) = write_tags([{"path": str(path)}], remove=True)
    assert out.action == "removed" and "GENRE" not in out.changes
    audio = open_audio(path)
    assert get_field(audio, "GENRE") == "Bebop" and get_field(audio, "MUSIC_TAGGER_GENRE") is None


def test_the_examples_of_the_library_modules_hold():
    import doctest

    import beetsplug.musictagger
    from music_tagger.library import fields, formats, playlists, writing

    for module in (fields, formats, playlists, writing, beetsplug.musictagger):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__
