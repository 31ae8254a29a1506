"""Worker processes: none outlives a killed run, and none runs the user's script again.

Each run starts in a session of its own (``start_new_session``), so that every
process it starts (workers, the forkserver, multiprocessing's resource tracker) is
found by its session id in ``/proc``, wherever it was reparented.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from music_tagger.registry import example_names

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.reference,
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]


def _session(sid: int) -> list[tuple[int, str]]:
    """``(pid, state)`` of every live (not zombie) process of session ``sid``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:  # it ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # state, ppid, pgrp, session, ...
        if int(fields[3]) == sid and fields[0] not in "ZX":
            found.append((int(name), fields[0]))
    return found


def _env() -> dict:
    return dict(
        os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    )


def _start(argv: list[str], log: Path) -> subprocess.Popen:
    # output to a file, not a pipe: a leftover process would hold a pipe open
    with open(log, "w") as out:
        return subprocess.Popen(argv, env=_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _kill_when_busy(proc: subprocess.Popen, others: int, sig: int) -> int:
    """Send ``sig`` once the run has ``others`` processes besides itself; its exit status."""
    deadline = time.monotonic() + 240
    while len(_session(proc.pid)) < 1 + others:
        assert proc.poll() is None, "the run ended before its workers started"
        assert time.monotonic() < deadline, f"no {others} processes in the run: {_session(proc.pid)}"
        time.sleep(0.1)
    proc.send_signal(sig)
    return proc.wait(timeout=60)


def _assert_nothing_left(sid: int) -> None:
    # a session with no live process can start none: the first empty look is final
    deadline = time.monotonic() + 5
    while (left := _session(sid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid, _ in left:  # do not leave them to the next test
        os.kill(pid, signal.SIGKILL)
    assert left == [], f"processes of the killed run still alive 5 s later: {left}"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killing_tag_leaves_no_worker_alive(reference_data, tmp_path, sig):
    # the same folder three times: twelve files, so the run is mid-way when killed
    folder = str(reference_data)
    argv = [sys.executable, "-m", "music_tagger", "tag", folder, folder, folder,
            "--workers", "2", "--crops", "1", "--no-progress"]  # fmt: skip
    proc = _start(argv, tmp_path / "log.txt")
    code = _kill_when_busy(proc, others=2, sig=sig)
    if sig == signal.SIGTERM:  # handled: the workers were stopped before it exited
        assert code == 128 + signal.SIGTERM, (tmp_path / "log.txt").read_text()[-2000:]
    _assert_nothing_left(proc.pid)


def test_a_reader_that_goes_away_ends_the_run_and_its_workers(reference_data, tmp_path):
    # tag | head: the run gets a broken pipe, stops its workers (SIGTERM) and exits 141
    folder = str(reference_data)
    line = (f"{sys.executable} -m music_tagger tag {folder} {folder} {folder} --workers 2 --crops 1 "
            "--format jsonl 2>/dev/null | head -c 100 >/dev/null; echo ${PIPESTATUS[0]}")  # fmt: skip
    proc = subprocess.Popen(["bash", "-c", line], env=_env(), stdout=subprocess.PIPE, text=True, start_new_session=True)
    status = proc.communicate(timeout=300)[0].strip()
    assert status == "141"
    _assert_nothing_left(proc.pid)


def test_killing_a_script_whose_workers_come_from_the_forkserver_leaves_none(reference_data, tmp_path):
    # TensorFlow first: the workers come from a forkserver, not from the script
    script = tmp_path / "script.py"
    script.write_text(
        f"import tensorflow\nfrom music_tagger import tag\ntag([{str(reference_data)!r}] * 3, crops=1, workers=2)\n"
    )
    proc = _start([sys.executable, str(script)], tmp_path / "log.txt")
    # the resource tracker, the forkserver and two workers
    _kill_when_busy(proc, others=4, sig=signal.SIGKILL)
    _assert_nothing_left(proc.pid)


def _run_script(tmp_path: Path, code: str) -> tuple[str, str]:
    """Run ``code`` as ``python script.py`` (no ``__main__`` guard); its stdout and stderr."""
    script = tmp_path / "script.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)], env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=500
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done.stdout, done.stderr


_PRINT_RESULTS = """
for r in results:
    print("RESULT", os.path.basename(r.path), r.error, r.top[:1])
"""


@pytest.mark.parametrize(
    "prologue",
    [
        'model = CRNN(weights="msd")\nresults = tag(FOLDER, model=model, crops=1, workers=2)',
        "import tensorflow\nresults = tag(FOLDER, crops=1, workers=2)",
        "import tensorflow\nresults = list(iter_tag([FOLDER], crops=1, workers=2))",
    ],
    ids=["model-built-first", "tensorflow-imported-first", "iter_tag"],
)
def test_a_script_without_main_guard_tags_the_examples(reference_data, tmp_path, prologue):
    code = (
        "import os\n"
        "from music_tagger import CRNN, tag\n"
        "from music_tagger.tagging.tagger import iter_tag\n"
        "print('MODULE RAN')\n"  # once: no worker may run this file again
        f"FOLDER = {str(reference_data)!r}\n" + prologue + _PRINT_RESULTS
    )
    stdout, _ = _run_script(tmp_path, code)
    assert stdout.count("MODULE RAN") == 1
    results = [line.split() for line in stdout.splitlines() if line.startswith("RESULT")]
    assert [r[1] for r in results] == [f"{name}.mp3" for name in example_names()]
    assert all(r[2] == "None" for r in results), stdout  # no error


def _readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_the_readme_has_python_examples_that_tag():
    assert any(re.search(r"\b(iter_)?tag\(", block) for block in _readme_blocks())


@pytest.mark.parametrize("which", ["each", "together"])
def test_the_readme_python_examples_run_as_scripts(tmp_path, which):
    """Each block that tags, and all blocks pasted into one file (then the model is
    built, and TensorFlow loaded, before tag() is called), run as ``python file.py``."""
    blocks = _readme_blocks()
    scripts = [b for b in blocks if re.search(r"\b(iter_)?tag\(", b)] if which == "each" else ["\n".join(blocks)]
    for code in scripts:
        stdout, _ = _run_script(tmp_path, code)
        for name in example_names():
            if f'example("{name}")' in code and "print(r.path" in code:
                line = next(line for line in stdout.splitlines() if f"{name}.mp3" in line)
                assert "[('" in line, stdout  # its top tags, not an error
