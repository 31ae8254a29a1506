"""The one write-then-rename mechanism behind every file the package publishes."""
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
