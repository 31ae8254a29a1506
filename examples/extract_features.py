"""Extract pretrained MSD features of audio files and save them as ``.npy``.

The original repository recommended the taggers' penultimate outputs as general music
features: ``CRNN(weights="msd", include_top=False)`` gives the 32-dim output of the
last GRU, ``CNN(weights="msd", include_top=False)`` the 256-dim output of the last
conv block. For each model this writes ``<out>/features_<model>.npy`` of shape
``(n_files, dim)``, float32, whose rows follow ``<out>/files.txt`` (one path per
line). Files that cannot be read are reported on stderr and left out (exit status 1).

By default each file's feature comes from the original single centre crop with the
2016 preprocessing; ``--crops N`` averages the features of N crops spread over the
track instead.

Run::

    python examples/extract_features.py --examples --out features/
    python examples/extract_features.py music/ --crops 4 --models crnn
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DIMS = {"crnn": 32, "cnn": 256}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="audio files or folders")
    parser.add_argument(
        "--examples", action="store_true",
        help="also use the four clips of the original example (bensound-*.mp3)",
    )  # fmt: skip
    parser.add_argument("--out", default="features", help="output folder (created)")
    parser.add_argument(
        "--models", nargs="+", choices=sorted(DIMS), default=["crnn", "cnn"],
        help="feature extractors: crnn (32-dim) and/or cnn (256-dim)",
    )  # fmt: skip
    parser.add_argument(
        "--crops", type=int, default=None,
        help="average the features of this many crops per track; default: the "
        "original single centre crop (faithful preprocessing)",
    )  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=8, help="crops per network call")
    args = parser.parse_args(argv)
    if not args.paths and not args.examples:
        parser.error("give at least one PATH, or --examples")

    import numpy as np

    from music_tagger import example
    from music_tagger.audio.files import expand_paths
    from music_tagger.embeddings.extract import file_features
    from music_tagger.registry import example_names

    files = expand_paths(args.paths)
    if args.examples:
        files = [str(example(name)) for name in example_names()] + files
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    kept: list[str] | None = None
    failed: set[str] = set()
    for name in args.models:
        # the topless network's output, read by the tagging engine's worker processes
        features, names, errors = file_features(
            files, arch=name, level="top", crops=args.crops or 1, batch_size=args.batch_size
        )
        for path, error in errors:
            if path not in failed:
                print(f"error: {error}", file=sys.stderr)
            failed.add(path)
        assert kept is None or kept == names  # the same files fail for every model
        kept = names
        features = features if names else np.zeros((0, DIMS[name]), np.float32)
        target = out_dir / f"features_{name}.npy"
        np.save(target, features.astype(np.float32))
        print(f"{target}: {features.shape}")
    (out_dir / "files.txt").write_text("".join(f"{p}\n" for p in kept or []))
    print(f"{out_dir / 'files.txt'}: {len(kept or [])} files")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
