"""``music-tagger serve`` on this machine: upload latency, the background job's speed
beside ``music-tagger tag``, memory over requests, and a cold start.

In one run, on one folder (``--copies`` copies of the four 30 s example clips, and a
4 minute track made of them):

1. the background job's files per second (its own count, and the whole folder from
   the server's start to the job's end), beside ``music-tagger tag FOLDER --runtime
   onnx --output ...`` timed on the same folder with the same ``--workers``;
2. ``POST /v1/tag`` latency, p50 and p95 over ``--requests`` uploads, of a 30 s clip
   and of the 4 minute track, from 1 and from 4 concurrent clients;
3. the server's resident memory after 50 and after 500 requests (one upload of the
   30 s clip, faithful, in every 10; the rest list, filter, read a track, draw a
   taggram, stream audio);
4. a cold ``music-tagger serve`` on the tagged folder: seconds until ``GET /v1/model``
   answers.

Usage::

    python benchmarks/serve.py                       # about 3 minutes on 2 cores
    python benchmarks/serve.py --copies 4 --requests 16 --workers 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from live_server import LiveServer, make_library  # noqa: E402

from music_tagger.registry import example, example_names  # noqa: E402


def long_track(path: Path, seconds: float = 240.0) -> Path:
    """The example clips end to end until ``seconds`` long, as a 22.05 kHz mono WAV."""
    parts = []
    for name in example_names():
        samples, rate = sf.read(example(name), dtype="float32", always_2d=True)
        parts.append(samples.mean(axis=1)[:: max(1, rate // 22050)])
    audio = np.concatenate(parts * int(np.ceil(seconds / (sum(map(len, parts)) / 22050))))
    sf.write(path, audio[: int(seconds * 22050)], 22050)
    return path


def latency(server: LiveServer, body: bytes, clients: int, requests: int) -> tuple[float, float]:
    """p50 and p95 seconds of ``requests`` uploads of ``body`` from ``clients`` threads."""

    def one(_: int) -> float:
        start = time.perf_counter()
        status = server.request("/v1/tag", data=body, timeout=600)[0]
        assert status == 200, status
        return time.perf_counter() - start

    with ThreadPoolExecutor(clients) as pool:
        times = list(pool.map(one, range(requests)))
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def memory(server: LiveServer, clip: bytes) -> tuple[int, int]:
    """Resident kB after 50 and after 500 requests."""
    ids = [t["id"] for t in server.json("/v1/tracks?limit=4")["tracks"]]
    paths = ["/v1/tracks?tag=jazz&min=0.1", f"/v1/tracks/{ids[0]}", f"/v1/tracks/{ids[1]}/taggram.png",
             f"/v1/tracks/{ids[2]}/audio", "/v1/tags", "/v1/status", "/v1/tracks?q=sub&sort=rock",
             "/v1/tracks.csv", "/v1/model"]  # fmt: skip
    marks = []
    for i in range(500):
        if i % 10 == 0:
            status = server.request("/v1/tag?faithful=true", data=clip)[0]
        else:
            status = server.request(paths[i % len(paths)])[0]
        assert status == 200, (i, status)
        if i + 1 in (50, 500):
            marks.append(server.rss_kb())
    return marks[0], marks[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=2, help="copies of the four example clips in the folder")
    parser.add_argument("--requests", type=int, default=8, help="uploads per latency measurement")
    parser.add_argument("--workers", type=int, default=1, help="reading processes of the job and of tag")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = make_library(tmp / "library", copies=args.copies)
        track = long_track(folder / "long.wav")
        n_files = len(list(folder.rglob("*.mp3"))) + 1
        print(f"folder: {n_files} files ({args.copies} copies of 4 clips of 30 s, one track of 4 min); "
              f"{os.cpu_count()} cores, --workers {args.workers}")  # fmt: skip

        start = time.perf_counter()
        cli = [sys.executable, "-m", "music_tagger", "tag", str(folder), "--runtime", "onnx",
               "--workers", str(args.workers), "--output", str(tmp / "tag.jsonl")]  # fmt: skip
        subprocess.run(cli, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL)
        tag_s = time.perf_counter() - start

        start = time.perf_counter()
        server = LiveServer(folder, tmp / "index.sqlite", "--workers", str(args.workers), "--upload-cap", "64")
        status = server.wait_done(timeout=3600)
        serve_s = time.perf_counter() - start
        assert status["done"] == n_files and status["errors"] == 0, status
        print("\n1. tagging the folder (files per second; wall time includes start-up)")
        print(f"   music-tagger tag       {n_files / tag_s:6.2f} files/s   ({tag_s:.1f} s wall, 8 crops a file)")
        print(f"   serve background job   {n_files / serve_s:6.2f} files/s   ({serve_s:.1f} s from start; "
              f"the job's own rate {status['files_per_second']:.2f} files/s; taggram crops every 15 s)")  # fmt: skip

        print("\n2. POST /v1/tag latency (s)           p50      p95")
        clip = example("bensound-cute").read_bytes()
        for name, body in [("30 s clip", clip), ("4 min track", track.read_bytes())]:
            for clients in (1, 4):
                p50, p95 = latency(server, body, clients, args.requests)
                print(f"   {name:<12} {clients} client{'s' if clients > 1 else ' '}        {p50:7.2f}  {p95:7.2f}")

        after_50, after_500 = memory(server, clip)
        print(f"\n3. resident memory: {after_50 / 1024:.0f} MB after 50 requests, {after_500 / 1024:.0f} MB after 500 "
              f"({100 * (after_500 / after_50 - 1):+.1f} %)")  # fmt: skip
        server.stop()

        start = time.perf_counter()
        cold = LiveServer(folder, tmp / "index.sqlite")
        while cold.request("/v1/model")[0] != 200:
            time.sleep(0.01)
        print(f"\n4. cold start on the tagged folder: GET /v1/model answered after {time.perf_counter() - start:.2f} s")
        cold.stop()


if __name__ == "__main__":
    main()
