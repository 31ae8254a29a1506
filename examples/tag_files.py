"""Tag audio files with the pretrained MusicTaggerCRNN: the original repository's example.

Without arguments it tags the four clips of the original example (bensound-*.mp3) the
way the original ``example_tagging.py`` did (single centre crop, 2016 preprocessing)
and prints each clip's top tags in the original README's format::

    bensound-cute.mp3
    [('jazz', '0.444'), ('instrumental', '0.151'), ('folk', '0.103'), ...]

Those are the scores the original README published. Give files or folders to tag
your own music; ``--crops N`` averages N crops spread over each track instead (steadier
than a single crop, see ``music-tagger tag --help``).

Run::

    python examples/tag_files.py
    python examples/tag_files.py my_song.mp3 music/ --crops 8 --top 5
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "paths", nargs="*", metavar="PATH",
        help="audio files or folders; none: the four clips of the original example",
    )  # fmt: skip
    parser.add_argument("--top", type=int, default=10, help="tags to print per file")
    parser.add_argument(
        "--model", choices=("crnn", "cnn"), default="crnn",
        help="the pretrained MusicTaggerCRNN (published scores) or MusicTaggerCNN",
    )  # fmt: skip
    parser.add_argument(
        "--crops", type=int, default=None,
        help="average this many crops per track; default: the original single "
        "centre crop with the 2016 preprocessing (faithful mode)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    from music_tagger import example, tag
    from music_tagger.registry import example_names

    paths = args.paths or [str(example(name)) for name in example_names()]
    faithful = args.crops is None
    results = tag(paths, model=args.model, top_n=args.top, crops=args.crops, faithful=faithful)
    failed = 0
    for r in results:
        print(Path(r.path).name if not args.paths else r.path)
        if r.error:
            print(f"error: {r.error}", file=sys.stderr)
            failed += 1
            continue
        # the original printed scores as 3-decimal strings; ours keep full precision
        print([(t, f"{s:.3f}") for t, s in r.top])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
