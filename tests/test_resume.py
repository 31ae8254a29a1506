"""``tag --output``: one run per file at a time, resume by file (any directory, any
spelling, through a symlink), every format read back as written, options checked on
resume, and one taggram PNG per input file.

Most runs call :func:`music_tagger.cli.main` in-process on tiny generated clips (the
CRNN is built once); the lock test starts two real processes at once.
"""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from music_tagger import cli
from music_tagger.tagging.readback import read_records

ROOT = Path(__file__).resolve().parent.parent
OPTIONS = ["--crops", "1", "--workers", "0", "--no-progress"]


@pytest.fixture(scope="module")
def albums(tmp_path_factory):
    """``root/album1`` and ``root/album2``, each with the same three file names."""
    root = tmp_path_factory.mktemp("music")
    rng = np.random.default_rng(0)
    for album in ("album1", "album2"):
        (root / album).mkdir()
        for i in range(1, 4):
            sf.write(root / album / f"0{i} - Intro.wav", 0.1 * rng.standard_normal(12000 * 2), 12000)
    return root


def _files(albums, *names):
    return sorted(str(p) for name in names for p in (albums / name).iterdir())


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err):
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("music-tagger: error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.slow
def test_two_runs_on_one_output_at_once_one_proceeds(albums, tmp_path):
    out = tmp_path / "tags.jsonl"
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    argv = [sys.executable, "-m", "music_tagger", "tag", str(albums), "--output", str(out), *OPTIONS]
    procs = [subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1], errs
    winner, loser = (procs[0], procs[1]) if procs[0].returncode == 0 else (procs[1], procs[0])
    line = _one_error_line(errs[procs.index(loser)])
    assert "being written by another run" in line and f"PID {winner.pid}" in line
    paths = [r["path"] for r in read_records(out)]
    assert sorted(paths) == _files(albums, "album1", "album2")  # each file once
    assert not (tmp_path / ".tags.jsonl.lock").exists()


def test_resume_from_another_directory_with_absolute_paths_through_a_symlink(
    crnn, albums, tmp_path, monkeypatch, capsys
):
    (tmp_path / "results").mkdir()
    real, link = tmp_path / "results" / "tags.jsonl", tmp_path / "link.jsonl"
    link.symlink_to(real)
    monkeypatch.chdir(albums)  # first run: relative paths, from the music folder
    code, _, err = run(capsys, "tag", "album1", "--output", link, *OPTIONS)
    assert code == 0, err
    first = read_records(real)
    assert sorted(r["path"] for r in first) == _files(albums, "album1")  # written absolute
    monkeypatch.chdir(tmp_path / "results")  # second: absolute paths, elsewhere
    code, _, err = run(capsys, "tag", albums / "album1", albums / "album2", "-o", link, "--resume", *OPTIONS)
    assert code == 0, err
    assert "resuming: 3 files already" in err
    records = read_records(real)
    assert sorted(r["path"] for r in records) == _files(albums, "album1", "album2")  # each once
    assert records[:3] == first  # kept as they were
    assert link.is_symlink() and link.resolve() == real  # the link is intact


def test_resume_a_json_array_written_on_one_line(crnn, albums, tmp_path, monkeypatch, capsys):
    out = tmp_path / "tags.json"
    code, _, err = run(capsys, "tag", albums / "album1", "-o", out, *OPTIONS)
    assert code == 0, err
    first = json.loads(out.read_text())
    out.write_text(json.dumps(first))  # as json.dump writes a list: one line
    code, _, err = run(capsys, "tag", albums, "-o", out, "--resume", *OPTIONS)
    assert code == 0, err
    records = json.loads(out.read_text())  # still one valid JSON document
    assert records[:3] == first
    assert sorted(r["path"] for r in records) == _files(albums, "album1", "album2")


def test_a_csv_record_cut_among_its_rows_is_tagged_again(crnn, albums, tmp_path, capsys):
    out = tmp_path / "tags.csv"
    code, _, err = run(capsys, "tag", albums / "album1", "-o", out, "--top", "5", *OPTIONS)
    assert code == 0, err
    lines = out.read_text().splitlines(keepends=True)
    assert len(lines) == 1 + 3 * 5
    out.write_text("".join(lines[: 1 + 5 + 3]))  # killed after 3 of the second file's 5 rows
    code, _, err = run(capsys, "tag", albums / "album1", "-o", out, "--top", "5", "--resume", *OPTIONS)
    assert code == 0, err
    assert "resuming: 1 files already" in err
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["rank"] for r in rows] == [str(i) for i in range(1, 6)] * 3
    assert sorted({r["path"] for r in rows}) == _files(albums, "album1")
    assert [len(r["tags"]) for r in read_records(out)] == [5, 5, 5]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_resume_with_other_thresholds_is_refused(crnn, albums, tmp_path, capsys, fmt):
    low, high = tmp_path / "low.json", tmp_path / "high.json"
    low.write_text(json.dumps({"thresholds": {"rock": 0.0, "pop": 0.0}}))
    high.write_text(json.dumps({"thresholds": {"rock": 1.0, "pop": 1.0}}))
    out = tmp_path / f"tags.{fmt}"
    code, _, err = run(capsys, "tag", albums / "album1", "-o", out, "--thresholds", low, "--top", "50", *OPTIONS)
    assert code == 0, err
    before = out.read_bytes()
    for extra, message in [([], "written with --thresholds"), (["--thresholds", high], "other thresholds"),
                           (["--thresholds", low], "50 tags per file")]:  # fmt: skip
        top = ["--top", "10"] if extra == ["--thresholds", low] else ["--top", "50"]
        code, _, err = run(capsys, "tag", albums, "-o", out, "--resume", *top, *extra, *OPTIONS)
        assert code == 1 and message in _one_error_line(err)
        assert out.read_bytes() == before  # nothing written
    code, _, err = run(capsys, "tag", albums, "-o", out, "--resume", "--thresholds", low, "--top", "50", *OPTIONS)
    assert code == 0, err
    records = read_records(out)
    assert len(records) == 6 and all("rock" in r["passed"] for r in records)


@pytest.mark.slow
def test_same_file_names_in_two_folders_give_two_taggrams(crnn, albums, tmp_path, capsys):
    png, out = tmp_path / "png", tmp_path / "tags.jsonl"
    code, _, err = run(capsys, "tag", albums, "--plot", png, "-o", out, "--workers", "0", "--no-progress")
    assert code == 0, err
    drawn = sorted(p.relative_to(png).as_posix() for p in png.rglob("*.png"))
    assert drawn == [f"{a}/0{i} - Intro.wav.png" for a in ("album1", "album2") for i in range(1, 4)]
    code, printed, err = run(capsys, "plot", out, "--out", tmp_path / "again")
    assert code == 0, err
    assert sorted(Path(p).relative_to(tmp_path / "again").as_posix() for p in printed.split("\n") if p) == drawn
    (tmp_path / "file.png").write_text("not a folder")
    for argv in (["tag", albums, "--plot", tmp_path / "file.png"], ["plot", out, "--out", tmp_path / "file.png"]):
        code, _, err = run(capsys, *argv)
        assert code == 1 and "is a file" in _one_error_line(err)


@pytest.mark.parametrize("case", ["missing folder", "folder with --resume", "read-only file", "file as folder"])
def test_an_output_that_cannot_be_written_is_one_line_before_any_work(albums, tmp_path, capsys, case):
    target = {
        "missing folder": tmp_path / "no" / "such" / "tags.jsonl",
        "folder with --resume": tmp_path,
        "read-only file": tmp_path / "ro.jsonl",
        "file as folder": tmp_path / "ro.jsonl" / "tags.jsonl",
    }[case]
    (tmp_path / "ro.jsonl").write_text("")
    (tmp_path / "ro.jsonl").chmod(0o444)
    code, out, err = run(capsys, "tag", albums, "-o", target, "--resume", *OPTIONS)
    assert code == 1 and out == ""
    line = _one_error_line(err)
    assert str(target) in line or str(target.parent) in line
    assert "resuming" not in err  # stopped before reading any audio
