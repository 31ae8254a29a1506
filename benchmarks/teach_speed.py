"""How long teaching a tag takes on a library whose features are already cached.

Makes a library of ``--tracks`` audio files (1 s tones, different per file), fills
the per-file feature cache of ``music_tagger.embeddings.few_shot`` for all of them,
then times, as a user runs it, the whole command in a fresh process::

    music-tagger teach mytag --yes <10 files> --no <10 files> --score LIBRARY --cache CACHE

(teaching from 20 files and scoring the whole library with the new tag, imports
included). Filling the cache: the real multi-level features of one file are computed
with the network, and every other file's entry is that row plus small noise, written
through ``cached_features`` itself (its network pass replaced, for the fill only): what
is timed reads the cache exactly as after a real featuring of the library, whose
content does not change the time. Where the cache is not filled (``--no-fill``),
every file goes through the network and the run measures featuring instead.

    python benchmarks/teach_speed.py [--tracks 1000] [--folder /tmp/teach-speed]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def make_library(folder: Path, n: int) -> list[str]:
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(12000) / 12000
    paths = []
    for i in range(n):
        path = folder / f"track{i:05d}.wav"
        if not path.exists():
            sf.write(path, (0.2 * np.sin(2 * np.pi * (100 + i) * t)).astype("float32"), 12000)
        paths.append(str(path))
    return paths


def fill_cache(paths: list[str], cache: Path) -> None:
    """Cache entries for every file: one real feature row, then that row with noise."""
    from music_tagger.embeddings import extract
    from music_tagger.embeddings.few_shot import cached_features

    row = cached_features(paths[:1], cache_dir=cache)[0][0]
    rng = np.random.default_rng(0)
    real = extract.file_features

    def noisy_rows(files, **options):
        files = list(files)
        return (row + 0.05 * rng.normal(size=(len(files), len(row)))).astype(np.float32), files, []

    extract.file_features = noisy_rows
    try:
        cached_features(paths, cache_dir=cache)
    finally:
        extract.file_features = real


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=1000)
    parser.add_argument("--folder", default="/tmp/teach-speed")
    parser.add_argument("--no-fill", action="store_true", help="do not pre-fill the cache")
    args = parser.parse_args()
    folder = Path(args.folder)
    paths = make_library(folder / "library", args.tracks)
    cache = folder / "cache"
    if not args.no_fill:
        fill_cache(paths, cache)
    out = folder / "probe"
    command = [sys.executable, "-m", "music_tagger", "teach", "mytag", "--yes", *paths[:10], "--no", *paths[10:20],
               "--score", str(folder / "library"), "--cache", str(cache), "-o", str(out), "--overwrite", "--quiet"]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    scored = len(done.stdout.splitlines())
    print(
        f"teach from 20 files + score {scored} tracks (cached features), one process, imports "
        f"included: {seconds:.2f} s on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
