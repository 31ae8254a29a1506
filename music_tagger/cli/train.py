"""``music-tagger synth``, ``prepare``, ``convert-store``, ``train`` and ``finetune``: data sets and training."""

import argparse
import sys

from ..audio import KAISER_BEST_2016, RESAMPLERS
from ..errors import ParameterError, UsageError
from ..models.architectures import ARCHS
from ..vocabulary import BN_PUBLISHED, BN_READINGS, HEAD_FITS, LEVELS, RECIPES, STAGE2_FROM
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
    from pathlib import Path

    from ..datasets.store import convert_store, store_files

    paths = []
    for item in map(Path, args.stores):
        if not item.is_dir():
            paths.append(item)
            continue
        stores, leftovers = store_files(item)
        paths += stores
        for path in leftovers:
            print(f"{path}: skipped, the unfinished write of an interrupted run", file=sys.stderr)
    for path in paths:
        done = convert_store(path)
        print(f"{path}: {'converted' if done else 'contiguous already'}")
    return 0


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by train and finetune."""
    p.add_argument("features", help="folder of the feature stores (train.h5 and valid.h5) of prepare")
    p.add_argument("out", help="folder of the run: model.keras, tags.json, history.csv/json, "
                   "state.json and checkpoints/")  # fmt: skip
    p.add_argument("--epochs", type=positive_int_arg, default=100, metavar="N", help="most epochs")
    p.add_argument("--batch-size", type=positive_int_arg, default=16, metavar="N", help="clips per mini-batch")
    p.add_argument("--patience", type=positive_int_arg, default=1, metavar="N",
                   help="stop after N epochs without a better validation ROC-AUC (the paper: 1); "
                   "the best epoch's model is kept")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seeds the weights, the shuffling and dropout")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in OUT from its last completed epoch (also after a "
                   "kill); starts it if there is none")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    g = p.add_argument_group("accelerators")
    g.add_argument("--mixed-precision", action="store_true",
                   help="compute in float16 with float32 weights and outputs (Keras' "
                   "mixed_float16 policy with loss scaling); fast on GPUs, slow on CPUs")  # fmt: skip
    g.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=None,
                   help="compile the training step with XLA (--no-jit-compile: never); "
                   "default: Keras decides (XLA on GPUs, not on CPUs)")  # fmt: skip
    g.add_argument("--distribute", nargs="?", const="auto", default=None,
                   choices=("auto", "mirrored", "multi-worker"),
                   help="train data-parallel: mirrored over every local GPU, or "
                   "multi-worker over the machines of $TF_CONFIG (auto, the default "
                   "without a value: multi-worker when TF_CONFIG names several tasks); "
                   "--batch-size is the global batch")  # fmt: skip
    g.add_argument("--shuffle-block", type=positive_int_arg, default=1, metavar="N",
                   help="shuffle runs of N consecutive clips instead of single clips, for "
                   "stores larger than memory (read from disk, not the page cache)")  # fmt: skip


def _accelerator_args(args: argparse.Namespace) -> dict:
    return {
        "mixed_precision": args.mixed_precision, "jit_compile": args.jit_compile,
        "distribute": args.distribute, "shuffle_block": args.shuffle_block,
    }  # fmt: skip


def add_train_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train",
        help="train a network from random weights on feature stores",
        description=(
            "Train one of the paper's structures from random weights with its protocol: "
            "Adam (default parameters), binary cross-entropy, the validation ROC-AUC "
            "after every epoch, early stopping and the best model kept as OUT/model.keras."
        ),
        formatter_class=HelpFormatter,
    )
    _add_run_options(p)
    p.add_argument("--arch", choices=ARCHS, default="crnn",
                   help="structure: the CRNN, or the CNNs k2c2 (2D kernels), k1c2, k2c1")  # fmt: skip
    size = p.add_mutually_exclusive_group()
    size.add_argument("--params", type=positive_int_arg, default=None, metavar="N", dest="n_params",
                      help="a parameter budget of the paper (100000, 250000, 500000, "
                      "1000000, 3000000), which picks the widths (default: the released "
                      "model's widths for crnn and k2c2)")  # fmt: skip
    size.add_argument("--widths", type=positive_int_arg, nargs="+", default=None, metavar="W",
                      help="explicit widths: conv maps, then dense or recurrent units "
                      "(crnn: 5 numbers)")  # fmt: skip
    return p


def run_train(args: argparse.Namespace) -> int:
    from ..training.loop import train

    path = train(
        args.features, args.out, arch=args.arch, n_params=args.n_params,
        widths=args.widths, epochs=args.epochs, batch_size=args.batch_size,
        patience=args.patience, seed=args.seed, resume=args.resume,
        verbose=0 if args.quiet else 1, **_accelerator_args(args),
    )  # fmt: skip
    print(path)
    return 0


def add_finetune_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "finetune",
        help="fine-tune the MSD-pretrained CRNN to the tags of feature stores",
        description=(
            "Fine-tune the CRNN pretrained on the Million Song Dataset to the stores' tags. "
            "Default recipe (two-stage): each clip goes once through the frozen network; "
            "stage 1 trains a new output layer on the cached features until the validation "
            "ROC-AUC stops improving; stage 2 trains the layers from --stage2-from up on "
            "the cached activations at a low rate, BatchNorm kept in inference mode, and "
            "keeps its best epoch (never below stage 1 on validation). --recipe unfreeze "
            "is the former recipe (a frozen epoch, then everything). The stores must hold "
            "the original preprocessing (prepare without --frames)."
        ),
        formatter_class=HelpFormatter,
    )
    _add_run_options(p)
    p.set_defaults(epochs=30, patience=5)
    p.add_argument("--recipe", choices=RECIPES, default=RECIPES[0],
                   help="the two-stage recipe, or the former freeze-then-unfreeze one")  # fmt: skip
    p.add_argument("--bn-semantics", choices=BN_READINGS, default=BN_PUBLISHED,
                   help="read the MSD BatchNorm statistics as published (variance) or as "
                   "trained under Keras 1.0.6 (std_keras106)")  # fmt: skip
    p.add_argument("--head", choices=LEVELS, default="multi",
                   help="two-stage: the head reads every conv block's average and the last "
                   "GRU state (multi, 480 dims) or the last GRU state only (top, 32)")  # fmt: skip
    p.add_argument("--head-fit", choices=HEAD_FITS, default="logistic",
                   help="two-stage: stage 1 is the linear probe (logistic regression per tag, "
                   "regularisation chosen on validation) or Adam with early stopping")  # fmt: skip
    p.add_argument("--head-lr", type=float, default=1e-3, dest="head_learning_rate",
                   help="Adam's rate for the new head (unfreeze: while the conv blocks are frozen)")  # fmt: skip
    p.add_argument("--head-epochs", type=positive_int_arg, default=300, metavar="N",
                   help="two-stage with --head-fit adam: most epochs of stage 1")  # fmt: skip
    p.add_argument("--head-patience", type=positive_int_arg, default=20, metavar="N",
                   help="two-stage with --head-fit adam: stop stage 1 after N epochs without "
                   "a better validation ROC-AUC")  # fmt: skip
    p.add_argument("--stage2-from", choices=(*STAGE2_FROM, "none"), default="gru1",
                   help="two-stage: the lowest layer stage 2 trains (none: stage 1 only)")  # fmt: skip
    p.add_argument("--lr", type=float, default=1e-4, dest="learning_rate",
                   help="Adam's rate in stage 2 (unfreeze: once every layer is trained)")  # fmt: skip
    p.add_argument("--freeze-epochs", type=int, default=1, metavar="N",
                   help="unfreeze recipe: epochs with the input BatchNorm and conv blocks frozen")  # fmt: skip
    p.add_argument("--from-scratch", action="store_true",
                   help="unfreeze recipe: start the same architecture from random weights (a baseline)")  # fmt: skip
    p.add_argument("--allow-other-preprocessing", action="store_true",
                   help="only warn, instead of refusing, when the stores' preprocessing is not "
                   "the one the MSD weights were trained on")  # fmt: skip
    return p


def run_finetune(args: argparse.Namespace) -> int:
    from ..training.transfer import finetune

    if args.from_scratch and args.recipe != "unfreeze":
        raise UsageError("--from-scratch needs --recipe unfreeze (or use music-tagger train)")
    path = finetune(
        args.features, args.out, recipe=args.recipe,
        weights=None if args.from_scratch else "msd", bn_semantics=args.bn_semantics,
        head=args.head, head_fit=args.head_fit, head_learning_rate=args.head_learning_rate,
        head_epochs=args.head_epochs, head_patience=args.head_patience,
        stage2_from=None if args.stage2_from == "none" else args.stage2_from,
        learning_rate=args.learning_rate, epochs=args.epochs, patience=args.patience,
        batch_size=args.batch_size, freeze_epochs=args.freeze_epochs, seed=args.seed,
        resume=args.resume, check_preprocessing=not args.allow_other_preprocessing,
        verbose=0 if args.quiet else 1, **_accelerator_args(args),
    )  # fmt: skip
    print(path)
    return 0
