"""Streaming records: formats, reading back a cut file, resume (by file, in place, locked), SIGKILL, closed pipes."""

import csv
import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from music_tagger.errors import DataError, MissingFileError, OutputLockedError, ParameterError
from music_tagger.tagging.readback import scan_records
from music_tagger.tagging.records import RecordWriter, file_identity, format_for, open_output, read_records
from music_tagger.util.locks import lock_file

ROOT = Path(__file__).resolve().parent.parent

RECORDS = [
    {"path": "/m/a.mp3", "tags": [["rock", 0.5], ["pop", 0.25]], "error": None},
    {"path": "/m/b, with comma.ogg", "tags": [], "error": "/m/b, with comma.ogg: no such file"},
    {"path": "/m/c.wav", "tags": [["jazz", 0.125], ["blues", 0.0625]], "error": None},
]


def _write(fmt, records=RECORDS):
    buf = io.StringIO()
    w = RecordWriter(buf, fmt)
    for r in records:
        w.write(r)
    w.close()
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_records_round_trip(tmp_path, fmt):
    path = tmp_path / f"out.{fmt}"
    path.write_text(_write(fmt))
    assert read_records(path, fmt) == RECORDS
    if fmt == "json":
        assert json.loads(path.read_text()) == RECORDS  # a valid JSON document
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(path.read_text())))
        assert [r["rank"] for r in rows] == ["1", "2", "", "1", "2"]


def _resume(path, fmt, records, **options):
    """Resume ``path`` and write those of ``records`` whose files it does not hold."""
    with open_output(path, fmt, resume=True, **options) as out:
        for r in records:
            if file_identity(r["path"]) not in out.done:
                out.write(r)
    return out


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_a_file_cut_anywhere_resumes_to_every_record_once(tmp_path, fmt):
    tagged = [r for r in RECORDS if r["error"] is None]
    full = _write(fmt, tagged).encode()
    if fmt == "json":
        full = full[: -len("\n]\n")]  # a killed run never wrote the "]"
    path = tmp_path / f"out.{fmt}"
    for cut in range(len(full) + 1):  # a kill after any byte
        path.write_bytes(full[:cut])
        kept = scan_records(path, fmt, n_tags=2 if fmt == "csv" else None).records
        assert kept == tagged[: len(kept)], cut
        _resume(path, fmt, tagged, n_tags=2)
        assert read_records(path, fmt) == tagged, cut
        if fmt == "json":
            assert json.loads(path.read_text()) == tagged


def test_a_csv_record_cut_among_its_rows_is_dropped_and_tagged_again(tmp_path):
    # a kill after 3 of the 10 rows of the second record: those rows go, the record is written again
    records = [{"path": f"/m/{i}.mp3", "tags": [[f"t{j}", 1 / (j + 2)] for j in range(10)], "error": None}
               for i in range(3)]  # fmt: skip
    text = _write("csv", records[:2])
    path = tmp_path / "out.csv"
    path.write_text("".join(text.splitlines(keepends=True)[: 1 + 10 + 3]))
    assert read_records(path, "csv") == records[:1]
    out = _resume(path, "csv", records, n_tags=10)
    assert out.kept == 1 and read_records(path, "csv") == records
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert len(rows) == 30 and [r["rank"] for r in rows] == [str(j) for j in range(1, 11)] * 3


@pytest.mark.parametrize("layout", [None, 2])
def test_resume_a_json_array_written_in_another_layout(tmp_path, layout):
    # json.dump of a list (one line, or indented): a valid array to add records to
    tagged = [r for r in RECORDS if r["error"] is None]
    path = tmp_path / "out.json"
    path.write_text(json.dumps(tagged[:1], indent=layout))
    assert read_records(path) == tagged[:1]
    _resume(path, "json", tagged)
    assert json.loads(path.read_text()) == tagged


def test_failed_records_are_tagged_again_on_resume(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text(_write("jsonl"))
    fixed = dict(RECORDS[1], tags=[["rock", 0.5]], error=None)
    out = _resume(path, "jsonl", [RECORDS[0], fixed, RECORDS[2]])
    assert (out.kept, out.retried) == (2, 1)
    assert read_records(path) == [RECORDS[0], RECORDS[2], fixed]


def test_resume_goes_by_the_file_not_the_name_typed(tmp_path, monkeypatch):
    (tmp_path / "m").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "out.jsonl"
    with open_output("out.jsonl", "jsonl") as out:
        out.write({"path": "m/a.mp3", "tags": [], "error": None})
    assert read_records(path)[0]["path"] == str(tmp_path / "m" / "a.mp3")  # written absolute
    monkeypatch.chdir(tmp_path / "elsewhere")
    with open_output(path, "jsonl", resume=True) as out:
        assert file_identity(tmp_path / "m" / "a.mp3") in out.done
        assert file_identity("../m/./a.mp3") in out.done


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_resume_writes_through_a_symlink_and_keeps_the_mode(tmp_path, fmt):
    real, link = tmp_path / f"real.{fmt}", tmp_path / f"link.{fmt}"
    real.write_text(_write(fmt, RECORDS[:1]))
    real.chmod(0o640)
    link.symlink_to(real)
    inode = real.stat().st_ino
    _resume(link, fmt, RECORDS[:1] + RECORDS[2:], n_tags=2)
    assert link.is_symlink() and real.stat().st_ino == inode  # appended in place
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert read_records(real, fmt) == [RECORDS[0], RECORDS[2]]
    real.write_text(_write(fmt, RECORDS))  # a failed record: the file is rewritten
    _resume(link, fmt, [dict(RECORDS[1], error="still failing")])
    assert link.is_symlink() and stat.S_IMODE(real.stat().st_mode) == 0o640
    assert [r["error"] for r in read_records(link, fmt)] == [None, None, "still failing"]


def test_a_read_only_output_is_an_error_and_stays_read_only(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text(_write("jsonl"))
    path.chmod(0o444)
    before = path.read_bytes()
    with pytest.raises(ParameterError, match="read-only"):
        open_output(path, "jsonl", resume=True)
    assert path.read_bytes() == before and stat.S_IMODE(path.stat().st_mode) == 0o444


def test_outputs_that_cannot_be_written_are_one_line_errors(tmp_path):
    with pytest.raises(MissingFileError, match="does not exist"):
        open_output(tmp_path / "missing" / "out.jsonl", "jsonl")
    with pytest.raises(ParameterError, match="is a folder"):
        open_output(tmp_path, "jsonl", resume=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ParameterError, match="not a folder"):
        open_output(tmp_path / "file" / "out.jsonl", "jsonl")


def test_a_pipe_or_device_is_written_without_lock_or_resume(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE, text=True)  # as gzip in >(...)
    with open_output(fifo, "json") as out:
        out.write(RECORDS[0])
    assert json.loads(reader.communicate(timeout=30)[0]) == RECORDS[:1]
    with open_output(os.devnull, "jsonl") as out:
        out.write(RECORDS[0])
    with pytest.raises(ParameterError, match="not a regular file"):
        open_output(os.devnull, "jsonl", resume=True)


def test_one_writer_per_output(tmp_path, monkeypatch):
    path = tmp_path / "out.jsonl"
    with open_output(path, "jsonl"):
        lock = lock_file(path)
        assert lock.read_text().strip() == str(os.getpid())
        monkeypatch.chdir(tmp_path)
        for other in (path, "out.jsonl", tmp_path / "." / "out.jsonl"):
            with pytest.raises(OutputLockedError, match=f"another run \\(PID {os.getpid()}\\)"):
                open_output(other, "jsonl", resume=True)
    assert not lock.exists()  # released and removed
    with open_output(path, "jsonl", resume=True):
        pass


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_resume_with_other_options_is_refused_before_writing(tmp_path, fmt):
    record = {"path": "", "tags": [["rock", 0.5], ["pop", 0.25]], "error": None, "passed": ["rock"]}
    path = tmp_path / f"out.{fmt}"
    buf = io.StringIO()
    writer = RecordWriter(buf, fmt, passed=True)
    for name in ("a", "b"):  # two: the last record of a CSV with fewer rows is cut
        writer.write(dict(record, path=f"/m/{name}.mp3"))
    path.write_text(buf.getvalue())
    before = path.read_bytes()
    same = {"rock": 0.4, "pop": 0.3}
    for options, message in [
        ({}, "with --thresholds"),  # dropping them
        ({"thresholds": {"rock": 0.6, "pop": 0.1}}, "other thresholds"),
        ({"thresholds": same, "n_tags": 3}, "2 tags per file"),
    ]:
        with pytest.raises(DataError, match=message):
            open_output(path, fmt, resume=True, **options)
        assert path.read_bytes() == before
    _resume(path, fmt, [], thresholds=same, n_tags=2)  # the same options
    path.write_text(_write(fmt, RECORDS[:1]))
    with pytest.raises(DataError, match="without --thresholds"):  # adding them
        open_output(path, fmt, resume=True, thresholds=same)


def test_an_existing_output_needs_resume(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text(_write("jsonl"))
    with pytest.raises(FileExistsError, match="--resume"):
        open_output(path, "jsonl")
    with pytest.raises(ValueError, match="table cannot be resumed"):
        open_output(path, "table", resume=True)
    path.write_text('{"path": "a"}\n{"no": "record"}\n')
    with pytest.raises(DataError, match="line 1 is not a tagging record"):
        read_records(path)


def test_format_from_suffix():
    assert format_for("x.json", None) == "json" and format_for("x.out", None) == "jsonl"
    with pytest.raises(ValueError, match="format must be"):
        format_for(None, "xml")


# --------------------------------------------------------------------------- processes


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("short")
    rng = np.random.default_rng(0)
    for i in range(40):
        sf.write(root / f"clip{i:02d}.wav", 0.1 * rng.standard_normal(12000 * 2), 12000)
    return root


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return [sys.executable, "-m", "music_tagger", "tag", *map(str, args)], env


@pytest.mark.slow
def test_sigkill_then_resume_gives_every_file_exactly_once(folder, tmp_path):
    out = tmp_path / "tags.jsonl"
    argv, env = _cli(folder, "--output", out, "--crops", "1", "--batch-size", "1", "--workers", "2", "--no-progress")
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            if out.exists() and out.read_text().count("\n") >= 2:
                break
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)  # the main process and its workers
    finally:
        proc.wait(timeout=60)
    killed = read_records(out, "jsonl")
    assert 2 <= len(killed) < 40, "the run must be killed part way"
    argv, env = _cli(folder, "--output", out, "--resume", "--crops", "1", "--workers", "2", "--no-progress")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"resuming: {len(killed)} files already" in done.stderr
    lines = out.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # nothing corrupt: every line parses
    paths = [r["path"] for r in records]
    assert sorted(paths) == sorted(str(p) for p in folder.iterdir())  # each exactly once
    assert all(r["error"] is None and len(r["tags"]) == 10 for r in records)
    assert records[: len(killed)] == killed  # the first run's records were kept as they were


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly(folder):
    argv, env = _cli(folder, "--format", "jsonl", "--crops", "1", "--workers", "2")
    cmd = " ".join(f"'{a}'" for a in argv) + " | head -1"
    proc = subprocess.run(cmd, shell=True, env=env, capture_output=True, text=True, timeout=300)
    assert len(proc.stdout.splitlines()) == 1 and json.loads(proc.stdout)["error"] is None
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


def test_result_record_keeps_the_taggram_in_json_formats_and_stamps_files_that_write_may_read(tmp_path):
    from music_tagger.tagging.records import file_stamp, result_record
    from music_tagger.tagging.results import TagResult
    from music_tagger.tagging.taggram import Taggram

    song = tmp_path / "song.wav"
    song.write_bytes(b"tagged")
    taggram = Taggram(np.zeros(1), np.full(1, 29.12), np.full((1, 2), 0.5), ["a", "b"])
    result = TagResult(str(song), np.full(2, 0.5, np.float32), [("a", 0.5)], tags=["a", "b"], taggram=taggram)
    assert "taggram" not in result_record(result, "csv", stamp=True)
    assert "taggram" in result_record(result, "jsonl") and "size" not in result_record(result, "jsonl")
    stamped = result_record(result, "json", stamp=True)
    assert stamped["size"] == 6 and stamped["mtime_ns"] == file_stamp(song)["mtime_ns"] and "taggram" in stamped
    song.unlink()  # gone since it was tagged: no stamp, and write will say so
    assert "size" not in result_record(result, "jsonl", stamp=True)
