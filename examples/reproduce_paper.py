"""Reproduce the paper's study on a data set: prepare, train the grid, draw the figures.

Runs the whole chain of Choi et al. (2016) on a MagnaTagATune-layout data set
(``annotations_final.csv`` and the mp3 folders)::

    python examples/reproduce_paper.py /data/magnatagatune --work study/

which is the same as::

    music-tagger prepare /data/magnatagatune study/features
    music-tagger experiment --data study/features --out study/runs
    music-tagger figures study/runs --out study/figures

Every step is resumable: run the script again after an interruption and it
continues where it stopped (finished spectrograms and configurations are kept).
``--synthetic N`` first generates N clips with :func:`music_tagger.datasets.synth.make_mtt_like`
into ``<work>/data`` and uses those instead (a smoke test of the chain; its numbers
say nothing about real music).

Expected wall time per configuration, as training milliseconds per clip on the
1366-frame input (``benchmarks/architectures.py``: one training step at batch 16,
best of 2 calls, on an otherwise idle 2-core CPU), and the hours one epoch of
MagnaTagATune (about 15,250 training clips) would take at that speed:

========= ========== ================ =================
structure budget     CPU ms per clip  CPU h per MTT epoch
========= ========== ================ =================
k1c2      0.1M       49.1             0.21
k1c2      1M         195.3            0.83
k1c2      3M         437.3            1.85
k2c1      0.1M       5.0              0.02
k2c1      1M         13.0             0.06
k2c1      3M         30.2             0.13
k2c2      0.1M       64.8             0.27
k2c2      1M         210.4            0.89
k2c2      3M         468.9            1.99
crnn      0.1M       116.6            0.49
crnn      1M         520.1            2.20
crnn      3M         1327.1           5.62
========= ========== ================ =================

Multiply by the number of epochs until early stopping (with the paper's patience
of 1, a few to a few dozen) and add about 10 % for validation. Reading the stores
adds little. GPU: not measured (no GPU was available when this was written).

Examples
--------
$ python examples/reproduce_paper.py --synthetic 160 --work /tmp/study \\
      --budgets 0.1,0.25,1 --width-scale 0.25 --epochs 4 --patience 2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from music_tagger.datasets import cache
from music_tagger.datasets.mtt import read_mtt
from music_tagger.datasets.synth import TAGS as SYNTH_TAGS
from music_tagger.datasets.synth import make_mtt_like
from music_tagger.models.architectures import ARCHS, parse_budgets
from music_tagger.training.experiment import run_experiment
from music_tagger.training.figures import draw_figures, read_groups


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("root", nargs="?", help="MagnaTagATune-layout data set folder")
    source.add_argument("--synthetic", type=int, metavar="N",
                        help="generate N synthetic clips and use them instead")  # fmt: skip
    p.add_argument("--work", default="study", help="folder of features/, runs/ and figures/")
    p.add_argument("--top", type=int, default=50, help="most frequent tags to keep")
    p.add_argument("--frames", type=int, default=1366,
                   help="frames per clip (k1c2, k2c1 and k2c2 need 1280 or more)")  # fmt: skip
    p.add_argument("--archs", default=",".join(ARCHS), help="structures, comma-separated")
    p.add_argument("--budgets", default="0.1,0.25,0.5,1,3", help="budgets in millions")
    p.add_argument("--width-scale", type=float, default=1.0,
                   help="multiply all widths (1: the paper's models)")  # fmt: skip
    p.add_argument("--epochs", type=int, default=100, help="most epochs per configuration")
    p.add_argument("--patience", type=int, default=1, help="early-stopping patience (the paper: 1)")
    p.add_argument("--groups", default=None, help="JSON tag grouping for the per-tag figure")
    p.add_argument("--reference", type=float, default=None, help="AUC of a reference line")
    p.add_argument("--title", default="", help="prefix of the figure titles")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(args.work)
    if args.synthetic:
        root = work / "data"
        if not (root / "annotations_final.csv").exists():
            print(f"generating {args.synthetic} synthetic clips in {root}", file=sys.stderr)
            make_mtt_like(root, n_clips=args.synthetic, seed=0)
        top_n = len(SYNTH_TAGS)
    else:
        root, top_n = Path(args.root), args.top
    print(f"preparing spectrograms in {work / 'features'}", file=sys.stderr)
    cache.prepare(read_mtt(root, top_n=top_n), work / "features", frames=args.frames)
    run_experiment(
        work / "features", work / "runs", args.archs.split(","), parse_budgets(args.budgets),
        width_scale=args.width_scale, epochs=args.epochs, patience=args.patience,
    )  # fmt: skip
    paths = draw_figures(
        work / "runs", work / "figures", reference=args.reference, title=args.title,
        groups=None if args.groups is None else read_groups(args.groups),
    )  # fmt: skip
    print("\n".join(str(p) for p in [work / "runs" / "results.csv", *paths]))
    return 0


if __name__ == "__main__":  # the guard also keeps prepare's worker processes from re-running it
    sys.exit(main())
