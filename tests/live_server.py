"""A ``music-tagger serve`` process on a free port of 127.0.0.1, for the serve tests.

:class:`LiveServer` starts the command in a subprocess (this checkout importable),
reads its address from stderr, and speaks HTTP to it with the standard library
only. When the process ends it prints which ``tensorflow`` or ``keras`` modules it
had imported (``HEAVY [...]`` on stderr), so a test can assert there were none.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from helpers import start_python

from music_tagger.registry import example, example_names

SERVE = """
import atexit, sys
atexit.register(lambda: print("HEAVY", sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")),
                              file=sys.stderr, flush=True))
from music_tagger.cli import main
sys.exit(main(sys.argv[1:]))
"""


def make_library(folder: Path, copies: int = 1) -> Path:
    """``folder`` with ``copies`` of each example clip, half of them in a subfolder."""
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    for k in range(copies):
        for i, name in enumerate(example_names()):
            target = folder / ("sub" if i % 2 else "") / f"{name}-{k}.mp3"
            shutil.copyfile(example(name), target)
    return folder


class LiveServer:
    """``music-tagger serve LIBRARY --index INDEX --port 0 ARGS...``, running."""

    def __init__(self, library: Path | None, index: Path, *args: str, timeout: float = 120):
        argv = ["serve", *([str(library)] if library else []), "--index", str(index), "--port", "0", *args]
        self.proc = start_python(SERVE, *argv)
        self.index = index
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not any("serving on" in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError("the server did not start:\n" + "".join(self.lines))
            time.sleep(0.05)
        (line,) = [line for line in self.lines if "serving on" in line]
        self.url = re.search(r"http://\S+?/", line).group(0).rstrip("/")

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    def request(self, path: str, data: bytes | None = None, headers: dict | None = None, method: str | None = None,
                timeout: float = 120) -> tuple[int, dict, bytes]:  # fmt: skip
        """``(status, headers, body)`` of one request (errors included)."""
        req = urllib.request.Request(self.url + path, data=data, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def json(self, path: str, data: bytes | None = None, expect: int = 200) -> dict:
        status, _, body = self.request(path, data, method="POST" if data is not None else None)
        assert status == expect, (status, body[:300])
        return json.loads(body)

    def wait_done(self, timeout: float = 180) -> dict:
        """The job's status once it has ended."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.json("/v1/status")
            if status["state"] in ("done", "failed", "stopped"):
                return status
            assert time.monotonic() < deadline, status
            time.sleep(0.2)

    def rss_kb(self) -> int:
        """The server's resident memory (kB)."""
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", text).group(1))

    def stop(self, sig: int = signal.SIGTERM) -> str:
        """Stop the server with ``sig``; its stderr."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        time.sleep(0.1)  # the reader thread takes the last lines
        return "".join(self.lines)
