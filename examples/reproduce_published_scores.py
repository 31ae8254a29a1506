"""Compare the CRNN's scores with the 40 numbers the original implementation published.

Prints, for each weight file (theano, tensorflow) and each input path, the largest
absolute difference to the published top-ten scores of the four example clips:

- ``npy``: the original code's own spectrograms (needs the reference folder, which
  holds the ``.npy`` files next to the mp3s);
- ``mp3 kaiser_best_2016``: our faithful preprocessing of the mp3 files;
- ``mp3 soxr_hq``: the fast preprocessing (librosa's default resampler).

Usage::

    MUSIC_TAGGER_WEIGHTS_DIR=../shared/reference/music-auto_tagging-keras \\
        python examples/reproduce_published_scores.py --expected ../shared/reference/EXPECTED.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import music_tagger
from music_tagger import CRNN, TAGS, compute_melgram
from music_tagger.registry import read_published_scores

CLIPS = ("bensound-cute", "bensound-actionable", "bensound-dubstep", "bensound-thejazzpiano")


def max_error(preds: np.ndarray, expected: dict) -> float:
    return max(
        abs(float(row[TAGS.index(tag)]) - score) for clip, row in zip(CLIPS, preds) for tag, score in expected[clip]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--expected", type=Path, required=True, help="path to EXPECTED.md")
    args = parser.parse_args()
    expected = read_published_scores(args.expected)
    mp3s = [music_tagger.example(c) for c in CLIPS]
    inputs = {}
    npys = [p.with_suffix(".npy") for p in mp3s]
    if all(p.is_file() for p in npys):
        inputs["npy"] = np.stack([np.load(p)[0, 0] for p in npys])
    for resampler in ("kaiser_best_2016", "soxr_hq"):
        inputs[f"mp3 {resampler}"] = np.stack([compute_melgram(p, resampler=resampler) for p in mp3s])
    print(f"{'weights':<12} {'input':<22} {'max abs error (40 numbers)':>28}")
    for variant in ("theano", "tensorflow"):
        model = CRNN(weights="msd", variant=variant)
        for name, x in inputs.items():
            preds = model.predict(x.astype("float32")[..., None], verbose=0)
            print(f"{variant:<12} {name:<22} {max_error(preds, expected):>28.5f}")


if __name__ == "__main__":
    main()
