"""The real download path, against a mirror served on 127.0.0.1 (nothing else is contacted).

``$MUSIC_TAGGER_BASE_URL`` replaces the public host for every registry file; a file is
downloaded once into the cache and checked against its sha256, a cached file is used
without a request, and a file with the wrong sha256 is refused and not kept.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from music_tagger import registry
from music_tagger.errors import WeightsError

ROOT = Path(__file__).resolve().parent.parent


class _Mirror:
    """A static file server on 127.0.0.1 that counts the files it is asked for."""

    def __init__(self, folder: Path):
        self.requests: list[str] = []
        mirror = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                mirror.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args) -> None:  # keep the test output clean
                pass

        handler = functools.partial(Handler, directory=str(folder))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/mirror"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "_Mirror":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def served(tmp_path: Path, reference_data: Path) -> Path:
    """A mirror folder laid out like the original repository, with one clip's spectrogram."""
    root = tmp_path / "www"
    (root / "mirror" / "data").mkdir(parents=True)
    shutil.copy(reference_data / "bensound-cute.npy", root / "mirror" / "data")
    return root


@pytest.fixture
def no_local_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(registry.ENV_DIR, raising=False)


def test_url_is_the_public_address_unless_a_mirror_is_set(monkeypatch):
    monkeypatch.delenv(registry.ENV_BASE_URL, raising=False)
    assert registry.url("weights", "crnn_msd_theano").startswith("https://github.com/keunwoochoi/")
    monkeypatch.setenv(registry.ENV_BASE_URL, "http://models.internal:8080/crnn/")
    assert registry.url("examples", "bensound-cute") == ("http://models.internal:8080/crnn/data/bensound-cute.mp3")


def test_download_from_mirror_then_cache_hit(served, tmp_path, monkeypatch, no_local_copy, reference_data):
    cache = tmp_path / "cache"
    with _Mirror(served) as mirror:
        monkeypatch.setenv(registry.ENV_BASE_URL, mirror.url)
        first = registry.get_file("spectrograms", "bensound-cute", cache_dir=cache)
        assert mirror.requests == ["/mirror/data/bensound-cute.npy"]
        assert first == cache / "music_tagger" / "bensound-cute.npy"
        assert first.read_bytes() == (reference_data / "bensound-cute.npy").read_bytes()

        second = registry.get_file("spectrograms", "bensound-cute", cache_dir=cache)
        assert second == first
        assert len(mirror.requests) == 1, "a cached file must not be requested again"


def test_corrupt_download_is_refused_and_not_cached(served, tmp_path, monkeypatch, no_local_copy):
    served_file = served / "mirror" / "data" / "bensound-cute.npy"
    data = bytearray(served_file.read_bytes())
    data[-1] ^= 0xFF  # one flipped byte
    served_file.write_bytes(bytes(data))
    cache = tmp_path / "cache"
    with _Mirror(served) as mirror:
        monkeypatch.setenv(registry.ENV_BASE_URL, mirror.url)
        with pytest.raises(WeightsError, match="sha256"):
            registry.get_file("spectrograms", "bensound-cute", cache_dir=cache)
        assert len(mirror.requests) == 1
    assert not any(p.is_file() for p in cache.rglob("*")), "the refused file was kept"


def test_missing_file_on_the_mirror_names_the_address(served, tmp_path, monkeypatch, no_local_copy):
    with _Mirror(served) as mirror:
        monkeypatch.setenv(registry.ENV_BASE_URL, mirror.url)
        with pytest.raises(WeightsError, match=r"mirror/data/bensound-dubstep\.npy.*404"):
            registry.get_file("spectrograms", "bensound-dubstep", cache_dir=tmp_path / "cache")


@pytest.mark.slow
def test_suite_without_reference_files_or_network_stops_with_one_message(tmp_path):
    """A clone with no reference folder and no network: one clear message, no traceback."""
    env = {
        **os.environ,
        registry.ENV_DIR: str(tmp_path / "empty"),  # holds none of the files
        registry.ENV_BASE_URL: "http://127.0.0.1:9/",  # the discard port: nothing listens
        "KERAS_HOME": str(tmp_path / "keras"),
    }
    (tmp_path / "empty").mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_atomic.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = run.stdout + run.stderr
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, out
    assert "the tests need the original reference files" in out
    assert "data/music_tagger_crnn_weights_theano.h5" in out and registry.ENV_DIR in out
    assert out.count("the tests need the original reference files") == 1
    assert "Traceback" not in out and "KeyError" not in out
    assert not re.search(r"\d+ (passed|failed|error)", out), "tests ran anyway"
