"""Streaming records: formats, reading back a cut file, resume after SIGKILL, closed pipes."""
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from music_tagger.tagging.records import RecordWriter, format_for, open_output, read_records

ROOT = Path(__file__).resolve().parent.parent

RECORDS = [
    {"path": "a.mp3", "tags": [["rock", 0.5], ["pop", 0.25]], "error": None},
    {"path": "b, with comma.ogg", "tags": [], "error": "b, with comma.ogg: no such file"},
    {"path": "c.wav", "tags": [["jazz", 0.125]], "error": None},
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
        assert [r["rank"] for r in rows] == ["1", "2", "", "1"]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_a_cut_file_gives_its_whole_records_and_resumes_cleanly(tmp_path, fmt):
    text = _write(fmt, RECORDS[:2]) if fmt != "json" else _write(fmt, RECORDS[:2])[: -len("\n]\n")]
    cut = _write(fmt, RECORDS[2:3]).splitlines()[-1][:9]  # a record cut by a kill
    if fmt == "csv":
        cut = _write(fmt, RECORDS[2:3]).splitlines()[1][:9]
    path = tmp_path / f"out.{fmt}"
    path.write_text(text + ("\n" if fmt == "json" else "") + cut)
    assert read_records(path, fmt) == RECORDS[:2]
    writer, done, stream = open_output(path, fmt, resume=True)
    assert done == {os.path.abspath(r["path"]) for r in RECORDS[:2]}
    writer.write(RECORDS[2])
    writer.close()
    stream.close()
    assert read_records(path, fmt) == RECORDS
    if fmt == "json":
        assert json.loads(path.read_text()) == RECORDS


def test_an_existing_output_needs_resume(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text(_write("jsonl"))
    with pytest.raises(FileExistsError, match="--resume"):
        open_output(path, "jsonl")
    with pytest.raises(ValueError, match="table cannot be resumed"):
        open_output(path, "table", resume=True)


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
