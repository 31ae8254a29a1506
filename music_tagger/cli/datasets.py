"""``music-tagger synth``, ``prepare`` and ``convert-store``: the commands of :mod:`music_tagger.datasets`."""

import argparse
import sys

from ..audio import KAISER_BEST_2016, RESAMPLERS
from ..errors import ParameterError, UsageError
from .common import WORKERS_HELP, HelpFormatter, non_negative_int_arg, positive_int_arg


def add_synth_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "synth",
        help="write a synthetic labelled data set in the MagnaTagATune layout",
        description=(
            "Write synthetic clips whose tags follow from how they are rendered, in "
            "the MagnaTagATune layout (annotations_final.csv and folders 0-f), to try "
            "prepare/train/evaluate without the real data."
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument("root", help="output folder (created if missing)")
    p.add_argument("--clips", type=positive_int_arg, default=200, metavar="N",
                   help="number of clips (at least 12)")  # fmt: skip
    p.add_argument("--duration", type=float, default=3.0, metavar="SECONDS",
                   help="length of each clip")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same files")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing annotations_final.csv in ROOT")  # fmt: skip
    return p


def run_synth(args: argparse.Namespace) -> int:
    from ..datasets.synth import make_mtt_like

    try:
        root = make_mtt_like(
            args.root, n_clips=args.clips, duration=args.duration, seed=args.seed,
            overwrite=args.overwrite,
        )  # fmt: skip
    except (ParameterError, FileExistsError) as err:
        raise UsageError(str(err)) from err
    print(root)
    return 0


def add_prepare_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "prepare",
        help="compute the log-mel spectrograms of a data set once, into feature stores",
        description=(
            "Compute the log-mel spectrograms of a MagnaTagATune-layout data set once, "
            "in parallel, into one HDF5 store per split (OUT/train.h5, valid.h5, "
            "test.h5) with the labels, tags, clip ids and preprocessing settings. "
            "Interrupted runs continue where they stopped when run again; unreadable "
            "clips are reported and left out."
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument("root", help="the data set folder (annotations_final.csv and the mp3 folders)")
    p.add_argument("out", help="folder of the feature stores")
    p.add_argument("--top", type=positive_int_arg, default=50, metavar="N",
                   help="keep the N most frequent tags")  # fmt: skip
    p.add_argument("--frames", type=positive_int_arg, default=1366, metavar="N",
                   help="frames per clip (centre crop, 256 samples at 12 kHz each); 1366 "
                   "(29.12 s) is the original input and what finetune needs, fewer make "
                   "small experiments fast")  # fmt: skip
    p.add_argument("--resampler", choices=RESAMPLERS, default=KAISER_BEST_2016,
                   help="resampling to 12 kHz: the 2016 filter (faithful) or the faster soxr")  # fmt: skip
    p.add_argument("--workers", type=non_negative_int_arg, default=None, metavar="N",
                   help=WORKERS_HELP)  # fmt: skip
    p.add_argument("--splits", nargs="+", default=["train", "valid", "test"],
                   metavar="SPLIT", help="which splits to prepare")  # fmt: skip
    p.add_argument("--split-lists", default=None, metavar="FOLDER",
                   help="a folder of train/valid/test lists of clip ids or mp3 paths "
                   "(default: MagnaTagATune's split by folder 0-b, c, d-f)")  # fmt: skip
    return p


def run_prepare(args: argparse.Namespace) -> int:
    from ..datasets.cache import prepare
    from ..datasets.mtt import read_mtt

    if args.frames < 2:
        raise UsageError("--frames must be at least 2")
    dataset = read_mtt(args.root, top_n=args.top, split=args.split_lists)
    stores = prepare(
        dataset, args.out, splits=args.splits, frames=args.frames,
        resampler=args.resampler, workers=args.workers,
    )  # fmt: skip
    for split, path in stores.items():
        print(f"{split}: {path}")
    return 0


def add_convert_store_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "convert-store",
        help="rewrite feature stores with their spectrograms in one contiguous block",
        description=(
            "Rewrite feature stores written before the contiguous layout (one HDF5 chunk per clip) "
            "with the spectrograms in one contiguous block, as prepare writes them now, "
            "so that reading in order streams at the disk's sequential rate. Each store "
            "is replaced atomically once its copy is complete; contiguous ones are left "
            "alone. Training reads both layouts, so this is optional."
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument("stores", nargs="+", metavar="STORE",
                   help="store files (e.g. features/train.h5) or folders of stores")  # fmt: skip
    return p


def run_convert_store(args: argparse.Namespace) -> int:
    from ..datasets.store import convert_store, stores_in

    stores, leftovers = stores_in(args.stores)
    for path in leftovers:
        print(f"{path}: skipped, the unfinished write of an interrupted run", file=sys.stderr)
    for path in stores:
        done = convert_store(path)
        print(f"{path}: {'converted' if done else 'contiguous already'}")
    return 0
