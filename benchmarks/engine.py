"""Features of many 3-minute files: peak memory and cores used, the engine against the old path.

``features()`` and ``music-tagger features`` on audio files now run through the
tagging engine (:func:`music_tagger.tagging.pipeline.run`: worker processes that
read only the audio of the crops, batched inference in the main process). Before,
the main process decoded every whole file and computed its crops alone
(:func:`music_tagger.embeddings.inputs.batches`, kept in the package for the
compact convnet, which reads raw audio): the ``old`` path here is that loop.

Generates ``--distinct`` different 3-minute tracks (:func:`music_tagger.datasets.synth.write_track`,
cached in ``--data``) and links them to ``max(--files)`` file names, then, for each
count and each path, computes the CRNN's multi-level features of that many files
in a fresh process and prints, side by side: seconds, peak summed RSS of the
process tree and cores used (CPU seconds of the process tree over the wall time),
both sampled every 20 ms from /proc. The machine may be shared: cores used counts
this run's processes only, but their speed depends on the others.

Usage::

    python benchmarks/engine.py --data /tmp/engine-bench --files 100 1000
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from tagging import tree_pids  # benchmarks/tagging.py, beside this script


def make_files(folder: Path, n: int, distinct: int, seconds: float, sr: int) -> list[Path]:
    """``n`` file names in ``folder``, links to ``distinct`` generated tracks."""
    from music_tagger.datasets.synth import write_track

    folder.mkdir(parents=True, exist_ok=True)
    tracks = []
    for i in range(distinct):
        track = folder / f"track-{i:02d}.wav"
        if not track.exists():
            write_track(track, seconds, sr, channels=1, seed=i)
        tracks.append(track)
    names = []
    for i in range(n):
        name = folder / f"file-{i:05d}.wav"
        if not name.exists():
            name.symlink_to(tracks[i % distinct].name)
        names.append(name)
    return names


def run_one(path: str, files: list[str]) -> None:
    """Compute the features of ``files`` by ``path`` ("new" or "old"), in this process."""
    import numpy as np

    from music_tagger.embeddings import inputs
    from music_tagger.embeddings.extract import feature_model, features

    if path == "new":
        x = features(files)
    else:  # the loop run_model ran on audio files before the engine
        model = feature_model("crnn", "multi")
        rows = []
        for batch, _ in inputs.batches(files, 1, "kaiser_best_2016", 8):
            n = len(batch)
            batch = np.concatenate([batch, np.zeros((8 - n,) + batch.shape[1:], batch.dtype)])
            rows.append(np.asarray(model.predict_on_batch(batch[..., None]))[:n])
        x = np.concatenate(rows)
    assert files and x.shape == (len(files), 480) and np.isfinite(x).all()


def _tree(pid: int) -> dict[int, tuple[int, float]]:
    """``{pid: (RSS bytes, CPU seconds)}`` of ``pid`` and all its descendants, from /proc/PID/stat."""
    page, tick = os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_CLK_TCK")
    found = {}
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        found[p] = (int(fields[21]) * page, (int(fields[11]) + int(fields[12])) / tick)
    return found


def measure(path: str, n: int, options: list[str]) -> tuple[float, int, float]:
    """(seconds, peak summed RSS in bytes, cores used) of ``run_one`` in a fresh process.

    Sampled every 20 ms: the peak of the tree's summed RSS, and the last CPU time seen
    of every process of the tree (a process's last 20 ms can be missed)."""
    argv = [sys.executable, __file__, "--one", path, "--files", str(n), *options]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    peak, cpu = 0, {}
    while proc.poll() is None:
        tree = _tree(proc.pid)
        peak = max(peak, sum(rss for rss, _ in tree.values()))
        cpu.update({p: seconds for p, (_, seconds) in tree.items()})
        time.sleep(0.02)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{path} on {n} files failed")
    return wall, peak, sum(cpu.values()) / wall


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/tmp/engine-bench"), help="folder of the generated files")
    parser.add_argument("--files", type=int, nargs="+", default=[100, 1000], help="file counts to compare")
    parser.add_argument("--distinct", type=int, default=20, help="different tracks the files link to")
    parser.add_argument("--seconds", type=float, default=180.0, help="length of each track")
    parser.add_argument("--sr", type=int, default=22050, help="sample rate of the tracks (Hz)")
    parser.add_argument("--paths", nargs="+", default=["new", "old"], choices=["new", "old"])
    parser.add_argument("--one", choices=["new", "old"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    folder = args.data / f"{args.seconds:g}s-{args.sr}Hz"
    if args.one:
        run_one(args.one, [str(p) for p in sorted(folder.glob("file-*.wav"))[: args.files[0]]])
        return
    make_files(folder, max(args.files), args.distinct, args.seconds, args.sr)
    print(f"CRNN multi-level features of {args.seconds:g} s files at {args.sr} Hz, "
          f"{len(os.sched_getaffinity(0))} cores")  # fmt: skip
    print(f"{'path':<6}{'files':>7}{'seconds':>10}{'s/file':>9}{'peak RSS MB':>13}{'cores used':>12}")
    for n in args.files:
        for path in args.paths:
            options = ["--data", str(args.data), "--seconds", str(args.seconds), "--sr", str(args.sr)]
            wall, peak, cores = measure(path, n, options)
            print(f"{path:<6}{n:>7}{wall:>10.1f}{wall / n:>9.3f}{peak / 2**20:>13.0f}{cores:>12.2f}", flush=True)


if __name__ == "__main__":
    main()
