"""Tagging speed on full-length tracks, and peak memory against the number of files.

Generates (once, cached in ``--data``) full-length music-like tracks of 3 to 8
minutes in mixed formats and sample rates (OGG Vorbis, WAV, FLAC, MP3 with and
without a gapless header; 44.1, 48, 22.05 and 32 kHz; :func:`music_tagger.datasets.synth.
write_track`), builds and warms up the CRNN, then times side by side in one run:

1. ``naive loop``: per file ``compute_melgram`` (faithful, whole file) then
   ``model.predict`` on a batch of one: the original example's loop;
2. ``tag(faithful=True)``: the same centre crop, reading only the audio it needs,
   spectrograms in worker processes on every core, batched inference;
3. ``tag()`` default: 8 crops per file with the soxr resampler;

and each stage alone, for modes 2 and 3: ``decode + spectrograms`` (the workers
only, on every core, no network) and ``model alone`` (the network on as many
precomputed crops, batches of 8). It prints seconds per file, the speed-up over
the naive loop, the end-to-end throughput as a share of the slowest stage's, and
as a share of both stages' run one after the other. With "cores busy" (the whole
machine's busy CPU seconds over the wall time, from /proc/stat) it shows where a
pipeline can gain: when each stage alone keeps every core busy, the stages can
only share the cores, and the best end-to-end time is the two stages in turn.

``--memory`` then tags 10 and 1,000 generated short files with ``music-tagger tag
DIR --output FILE`` in a fresh process each and reports the high-water mark of
the summed RSS of the process tree (sampled every 20 ms from /proc).

Usage::

    python benchmarks/tagging.py --data /tmp/tagging-bench --tracks 8 --memory
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

FORMATS = [("ogg", True), ("mp3", False), ("flac", True), ("wav", True), ("mp3", True)]
RATES = [44100, 48000, 22050, 32000]


def _track(args: tuple) -> str:
    from music_tagger.datasets.synth import write_track

    path, seconds, rate, gapless, seed = args
    return str(write_track(path, seconds, rate, seed=seed, gapless_header=gapless))


def make_tracks(folder: Path, n: int, workers: int) -> list[str]:
    """``n`` tracks of 3-8 minutes, cycling formats and rates; reused when present."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    jobs = []
    for i in range(n):
        kind, gapless = FORMATS[i % len(FORMATS)]
        rate = RATES[i % len(RATES)]
        seconds = float(rng.uniform(180, 480))
        name = f"track{i:02d}-{rate}-{'' if gapless else 'noheader-'}{int(seconds)}s.{kind}"
        jobs.append((str(folder / name), seconds, rate, gapless, i))
    todo = [j for j in jobs if not Path(j[0]).exists()]
    if todo:
        print(f"generating {len(todo)} tracks in {folder} ...", file=sys.stderr, flush=True)
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_track, todo))
    return [j[0] for j in jobs]


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (not idle or waiting), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _timed(fn) -> tuple[float, float]:
    """(wall seconds, cores busy on average) of ``fn()``."""
    busy, start = _busy_seconds(), time.perf_counter()
    fn()
    wall = time.perf_counter() - start
    return wall, (_busy_seconds() - busy) / wall


def tree_pids(pid: int) -> list[int]:
    """``pid`` and all its descendants that exist now, from /proc (forkserver workers
    included: they descend from the run through its forkserver)."""
    found, stack = [], [pid]
    while stack:
        p = stack.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        found.append(p)
    return found


def _tree_rss(pid: int) -> int:
    """Summed VmRSS (bytes) of ``pid`` and all its descendants."""
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                total += sum(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def peak_rss(argv: list[str]) -> tuple[int, float, int]:
    """Run ``argv``; return (peak summed RSS of its process tree, seconds, exit status)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.02)
    return peak, time.perf_counter() - start, proc.returncode


def memory_check(root: Path, counts=(10, 1000)) -> None:
    import soundfile as sf

    rng = np.random.default_rng(0)
    print("\npeak memory (summed RSS of the process tree), music-tagger tag DIR --output FILE")
    rows = {}
    for n in counts:
        folder = root / f"short-{n}"
        if not folder.exists() or len(list(folder.iterdir())) < n:
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                y = 0.1 * rng.standard_normal(22050 * 3).astype(np.float32)
                sf.write(folder / f"clip{i:04d}.wav", y, 22050)
        out = root / f"short-{n}.jsonl"
        out.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "music_tagger", "tag", str(folder), "--output", str(out), "--no-progress"]
        peak, seconds, code = peak_rss(argv)
        lines = sum(1 for _ in open(out)) if out.exists() else 0
        rows[n] = peak
        print(f"{n:>6} files: peak {peak / 2**20:7.0f} MiB  {seconds:6.1f} s  exit {code}  records {lines}")
    small, large = min(counts), max(counts)
    print(f"ratio {large} vs {small} files: {rows[large] / rows[small]:.2f}x (target <= 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "music-tagger-bench"),
                        help="folder of the generated tracks (reused)")  # fmt: skip
    parser.add_argument("--tracks", type=int, default=8, help="full-length tracks")
    parser.add_argument("--memory", action="store_true", help="also the 10 vs 1,000 files memory check")
    parser.add_argument("--skip-speed", action="store_true", help="only the memory check")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    root = Path(args.data)

    import soundfile as sf

    from music_tagger import audio, tag
    from music_tagger.tagging.pipeline import read_chunks
    from music_tagger.tagging.tagger import get_model
    from music_tagger.util.workers import default_workers

    workers = default_workers()
    if not args.skip_speed:
        files = make_tracks(root / "tracks", args.tracks, workers)
        infos = [sf.info(f) for f in files]
        durations = [i.duration for i in infos]
        model = get_model("crnn")
        model.predict(np.zeros((1, 96, 1366, 1), np.float32), verbose=0)  # warm-up: batch 1 (naive)
        model.predict_on_batch(np.zeros((8, 96, 1366, 1), np.float32))  # and batch 8 (tag, stage)
        tag(files[:2], model=model, faithful=True, progress=False)  # warm-up: workers, forkserver
        crops = np.random.default_rng(0).normal(-40, 15, (8, 96, 1366, 1)).astype(np.float32)

        def naive() -> None:
            for path in files:
                model.predict(audio.compute_melgram(path)[None, ..., None], verbose=0)

        def stage_read(n_crops: int, resampler: str):
            return lambda: list(read_chunks(files, crops=n_crops, resampler=resampler, workers=workers))

        def stage_model(n: int):
            def go() -> None:
                for i in range(0, n, 8):
                    model.predict_on_batch(crops[: min(8, n - i)])

            return go

        n = len(files)
        runs = {
            "naive loop (1 crop)": naive,
            "tag(faithful=True)": lambda: tag(files, model=model, faithful=True, progress=False),
            "  decode+spectrograms alone": stage_read(1, "kaiser_best_2016"),
            "  model alone": stage_model(n),
            "tag() default (8 crops)": lambda: tag(files, model=model, progress=False),
            "  decode+spectrograms alone ": stage_read(8, "soxr_hq"),
            "  model alone ": stage_model(8 * n),
        }
        measured = {name: _timed(fn) for name, fn in runs.items()}
        times = {name: wall for name, (wall, _) in measured.items()}
        base = times["naive loop (1 crop)"]
        print(f"{n} tracks, {min(durations) / 60:.1f}-{max(durations) / 60:.1f} min (mean "
              f"{np.mean(durations) / 60:.1f}), formats {sorted({Path(f).suffix for f in files})}, "
              f"rates {sorted({i.samplerate for i in infos})}; "
              f"{workers} workers, {os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}")  # fmt: skip
        print("| method | s/file | cores busy | vs naive loop | end-to-end vs slowest stage "
              "| end-to-end vs stages in turn |")  # fmt: skip
        print("| --- | --- | --- | --- | --- | --- |")
        stages = {"tag(faithful=True)": "", "tag() default (8 crops)": " "}
        for name, seconds in times.items():
            ratio = f"{base / seconds:.2f}x" if not name.startswith("  ") else ""
            slowest = in_turn = ""
            if name in stages:
                read = times["  decode+spectrograms alone" + stages[name]]
                net = times["  model alone" + stages[name]]
                slowest, in_turn = f"{max(read, net) / seconds:.2f}", f"{(read + net) / seconds:.2f}"
            print(f"| {name.rstrip()} | {seconds / n:.3f} | {measured[name][1]:.2f} | {ratio} "
                  f"| {slowest} | {in_turn} |")  # fmt: skip
    if args.memory:
        memory_check(root)


if __name__ == "__main__":
    main()
