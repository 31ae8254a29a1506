"""Tagging speed: the original example's per-file loop against ``music_tagger.tag``.

The original ``example_tagging.py`` computed one melgram and called ``predict`` on it
file by file. This script times, side by side in one run and on the same files:

1. ``original loop``: per file ``compute_melgram`` (faithful) then ``model.predict``
   on a batch of one;
2. ``tag(faithful=True)``: the same single centre crop, crops batched across files;
3. ``tag()`` default: 8 crops per file with the fast resampler (8x the network work,
   for scores that do not jump with sub-second shifts);

and prints seconds per file and the ratio to the original loop. The model is built
and warmed up before timing, so start-up is not counted.

Usage::

    python benchmarks/tagging.py --files 16
"""
from __future__ import annotations

import argparse
import time

from music_tagger import compute_melgram, example, tag
from music_tagger.tagging import get_model
from music_tagger.registry import example_names


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=16, help="files to tag (the 4 example clips repeated)")
    args = parser.parse_args()
    clips = [str(example(n)) for n in example_names()]
    files = (clips * (args.files // len(clips) + 1))[: args.files]
    model = get_model("crnn")
    model.predict(compute_melgram(files[0])[None, ..., None], verbose=0)  # warm-up

    def original_loop() -> None:
        for path in files:
            model.predict(compute_melgram(path)[None, ..., None], verbose=0)

    runs = {
        "original loop (1 crop)": original_loop,
        "tag(faithful=True) (1 crop)": lambda: tag(files, model=model, faithful=True, progress=False),
        "tag() default (8 crops)": lambda: tag(files, model=model, progress=False),
    }
    times = {name: _seconds(fn) for name, fn in runs.items()}
    base = times["original loop (1 crop)"]
    print(f"{len(files)} files (4 example clips of ~31 s, repeated)")
    print(f"{'method':<30} {'s/file':>8} {'vs original loop':>18}")
    for name, seconds in times.items():
        print(f"{name:<30} {seconds / len(files):>8.3f} {base / seconds:>17.2f}x")


if __name__ == "__main__":
    main()
