"""The one write-then-rename mechanism behind every file the package publishes."""

import os

import pytest

from music_tagger.util.files import atomic_path, write_text


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "state.json"
    write_text(path, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_stale_temporary_from_a_killed_run_is_replaced(tmp_path):
    (tmp_path / "tmp-out").mkdir()  # what a SIGKILL mid-write leaves behind
    (tmp_path / "tmp-out" / "junk").write_text("x")
    with atomic_path(tmp_path / "out") as tmp:
        tmp.mkdir()
        (tmp / "meta.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (tmp_path / "out" / "meta.json").read_text() == "{}"


def test_temporaries_of_dead_writers_go_and_those_of_live_ones_stay(tmp_path):
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f"tmp-{dead.pid}-0badcafe-out.npy").write_text("cut short")
    (tmp_path / f"tmp-{dead.pid}-0badcafe-old-other.npy").mkdir()  # a swapped-out old folder
    live = tmp_path / f"tmp-{os.getpid()}-00c0ffee-out.npy"
    live.write_text("being written")
    write_text(tmp_path / "out.npy", "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "out.npy"])


def test_a_write_that_lost_a_race_keeps_the_winner(tmp_path):
    from music_tagger.errors import OutputExistsError

    with pytest.raises(OutputExistsError), atomic_path(tmp_path / "out", overwrite=False) as tmp:
        tmp.write_text("second")
        (tmp_path / "out").write_text("first")  # another run published meanwhile
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and (tmp_path / "out").read_text() == "first"
