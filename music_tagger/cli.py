"""The ``music-tagger`` command line (also ``python -m music_tagger``).

Usage::

    music-tagger tag song.mp3 other.wav some/folder/ --top 10
    music-tagger tag --examples --faithful --format json

Each subcommand is a pair of functions registered in :data:`SUBCOMMANDS`:

* ``_add_<name>_parser(subparsers)`` adds its ``argparse`` sub-parser (with help for
  every option) and returns it;
* ``_run_<name>(args)`` does the work and returns the exit status.

To add a subcommand, write the two functions and append the pair to
:data:`SUBCOMMANDS`; nothing else needs to change. Heavy imports (TensorFlow,
librosa) belong inside ``_run_<name>`` so that ``--help`` stays fast.

Exit status: 0 success; 1 when something failed at run time (for ``tag``: any
file that could not be tagged; the others are still tagged and printed); 2 for a
usage error (bad option, missing argument); 130 on Ctrl-C. An error the package
raises on purpose (:class:`music_tagger.errors.MusicTaggerError`) is printed as one
line; anything else is a bug and shows its traceback (``--debug`` shows the
traceback of every error). Machine-readable output
(``--format json/csv``) is the only thing written to stdout; errors, warnings,
progress bars and TensorFlow's logging go to stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Callable, Sequence

from .architectures import ARCHS, BUDGET_SIZES, parse_budgets
from .audio import KAISER_BEST_2016, RESAMPLERS, SOXR_HQ
from .errors import DataError, MissingFileError, MusicTaggerError, ParameterError, UsageError

PROG = "music-tagger"


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in the help, except None and False (the help text says what unset means)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False:
            return action.help or ""
        return super()._get_help_string(action)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _print_error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


# --------------------------------------------------------------------------- tag


def _add_tag_parser(subparsers) -> argparse.ArgumentParser:
    from .tagging import AUDIO_EXTENSIONS, DEFAULT_BATCH_SIZE, DEFAULT_CROPS

    p = subparsers.add_parser(
        "tag",
        help="tag audio files with the pretrained MSD tagger",
        description=(
            "Tag audio files with the 50 last.fm tags of the Million Song Dataset, "
            "using the pretrained MusicTaggerCRNN (default) or MusicTaggerCNN. "
            f"By default each file's score is the mean over {DEFAULT_CROPS} crops of "
            "29.12 s spread over the track, because a single crop's scores move by up "
            "to 0.1 with sub-second shifts; --faithful gives exactly the original "
            "2016 recipe (the single centre crop)."
        ),
        epilog=(
            "Exit status: 0 when every file was tagged, 1 when any file failed (its "
            "error is printed to stderr and included in the output; the other files "
            "are still tagged), 2 for a usage error. The weights are read from "
            "$MUSIC_TAGGER_WEIGHTS_DIR when it holds them, else downloaded once."
        ),
        formatter_class=_HelpFormatter,
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="audio files, and folders searched recursively for audio files "
        f"({' '.join(e.lstrip('.') for e in AUDIO_EXTENSIONS)}), tagged in sorted order",
    )
    p.add_argument(
        "--examples",
        action="store_true",
        help="also tag the four example clips of the original repository "
        "(bensound-*.mp3), before PATHs",
    )
    p.add_argument(
        "--top", type=_positive_int, default=10, metavar="N",
        help="number of tags to show per file, best first",
    )  # fmt: skip
    p.add_argument(
        "--model", choices=("crnn", "cnn"), default="crnn",
        help="crnn: MusicTaggerCRNN (the paper's, published scores); cnn: the "
        "5-layer MusicTaggerCNN",
    )  # fmt: skip
    p.add_argument(
        "--format", choices=("table", "jsonl", "json", "csv"), default=None, dest="fmt",
        help="table: human-readable, scores rounded to 3 decimals (default on stdout); "
        'jsonl: one {"path", "tags": [[tag, score], ...], "error"} per line (default '
        "with --output, unless its suffix says .json or .csv); json: a list of the "
        "same, one per line; csv: columns path,rank,tag,score,error, one row per tag "
        "(one row with the error for a failed file). jsonl, json and csv keep full "
        "precision. Each file's record is written as soon as it is tagged",
    )  # fmt: skip
    p.add_argument(
        "--output", "-o", default=None, metavar="FILE",
        help="write the records to FILE (flushed per file) instead of stdout",
    )  # fmt: skip
    p.add_argument(
        "--resume", action="store_true",
        help="with --output: keep the records already in FILE (e.g. of a killed run), "
        "skip their files and append the rest",
    )  # fmt: skip
    p.add_argument(
        "--workers", type=_positive_int, default=None, metavar="N",
        help="processes that decode audio and compute spectrograms while the network "
        "runs (default: every CPU core)",
    )  # fmt: skip
    p.add_argument(
        "--engine", choices=("local", "ray"), default="local",
        help='local: worker processes on this machine; ray: Ray Data actors on the '
        'cluster of RAY_ADDRESS or a local Ray (pip install "music_tagger[ray]")',
    )  # fmt: skip
    p.add_argument(
        "--taggram", action="store_true",
        help="score crops every --hop seconds and add each crop's scores with its start "
        'and end times to the record ("taggram"; jsonl and json only); the tags are '
        "ranked by the mean over the crops",
    )  # fmt: skip
    p.add_argument(
        "--hop", type=float, default=None, metavar="SECONDS",
        help="seconds between taggram crops (default 5; implies --taggram)",
    )  # fmt: skip
    p.add_argument(
        "--plot", default=None, metavar="DIR",
        help="draw each file's taggram as DIR/<file name>.png (implies --taggram)",
    )  # fmt: skip
    p.add_argument(
        "--thresholds", default=None, metavar="FILE",
        help="per-tag thresholds of music-tagger calibrate: add the tags that reach "
        'theirs to each record ("passed")',
    )  # fmt: skip
    p.add_argument(
        "--crops", type=_positive_int, default=None, metavar="N",
        help=f"crops per file, spread evenly over the track, whose scores are "
        f"averaged (default {DEFAULT_CROPS}; 1 with --faithful); more is steadier "
        "and slower",
    )  # fmt: skip
    p.add_argument(
        "--faithful", action="store_true",
        help="reproduce the original exactly: single centre crop and the 2016 "
        "resampler (the published scores of the example clips)",
    )  # fmt: skip
    p.add_argument(
        "--resampler", choices=RESAMPLERS, default=None,
        help=f"resampling to 12 kHz: {SOXR_HQ} (default, fast) or {KAISER_BEST_2016} "
        "(the 2016 filter; always used with --faithful)",
    )  # fmt: skip
    p.add_argument(
        "--batch-size", type=_positive_int, default=DEFAULT_BATCH_SIZE, metavar="N",
        help="crops per network call, shared across files; memory grows with it "
        "(about 100 MB per crop for the CRNN)",
    )  # fmt: skip
    p.add_argument(
        "--no-progress", action="store_true",
        help="no progress bar (it is shown on stderr only when stderr is a terminal)",
    )  # fmt: skip
    return p


def _example_paths() -> tuple[list[str], list]:
    """Paths of the four example clips, and failed results for those unobtainable."""
    from .registry import example, example_names
    from .tagging import TagResult

    paths, failed = [], []
    for name in example_names():
        try:
            paths.append(str(example(name)))
        except MusicTaggerError as err:
            failed.append(TagResult(name, None, [], str(err)))
    return paths, failed


def _run_tag(args: argparse.Namespace) -> int:
    from .records import format_for

    args.taggram = args.taggram or args.hop is not None or args.plot is not None
    if not args.paths and not args.examples:
        raise UsageError("give at least one PATH, or --examples")
    from .tagging import resolve_mode

    try:
        resolve_mode(args.crops, args.faithful, args.resampler)
    except ParameterError as err:  # an option combination: a usage error
        raise UsageError(str(err).replace("faithful=True", "--faithful")) from None
    if args.resume and args.output is None:
        raise UsageError("--resume continues an --output FILE")
    fmt = format_for(args.output, args.fmt)
    if args.taggram and (args.faithful or args.crops is not None):
        raise UsageError("--taggram places crops every --hop seconds: drop --faithful/--crops")
    if args.taggram and fmt not in ("jsonl", "json") and args.plot is None:
        raise UsageError("--taggram records need --format jsonl or json (or use --plot DIR)")
    if args.resume and fmt == "table":
        raise UsageError("--resume needs --format jsonl, json or csv")

    from .records import RecordWriter, open_output
    from .tagging import expand_paths

    out = sys.stdout  # before anything is redirected: the records only
    paths = expand_paths(args.paths)
    early = []  # examples that could not be obtained
    if args.examples:
        example_paths, early = _example_paths()
        paths = example_paths + paths
    stream = None
    if args.output is not None:
        writer, done, stream = open_output(
            args.output, fmt, resume=args.resume, passed=args.thresholds is not None
        )
        todo = [p for p in paths if os.path.abspath(p) not in done]
        if args.resume:
            print(f"resuming: {len(paths) - len(todo)} files already in {args.output}", file=sys.stderr)
        paths = todo
    else:
        writer = RecordWriter(out, fmt, passed=args.thresholds is not None)
    if args.plot is not None:
        os.makedirs(args.plot, exist_ok=True)
    failed = 0
    results = _tag_results(args, paths) if paths else iter(())
    try:
        for r in early:
            writer.write(r.to_dict())
            _print_error(r.error)
            failed += 1
        # anything a library prints goes to stderr: stdout is the output only
        with contextlib.redirect_stdout(sys.stderr):
            for r in results:
                if r.error is not None:
                    failed += 1
                    _print_error(r.error)
                elif args.plot is not None:
                    _plot(r, args.plot)
                record = r.to_dict()
                if fmt not in ("jsonl", "json"):
                    record.pop("taggram", None)
                writer.write(record)
        writer.close()
    finally:
        if hasattr(results, "close"):  # stop the workers of an unfinished run
            results.close()
        if stream is not None:
            stream.close()
    return 0 if failed == 0 else 1


def _tag_results(args: argparse.Namespace, paths: list[str]):
    options = dict(
        model=args.model, top_n=args.top, crops=args.crops, faithful=args.faithful,
        batch_size=args.batch_size, resampler=args.resampler, taggram=args.taggram,
        hop=args.hop, thresholds=args.thresholds,
    )  # fmt: skip
    if args.engine == "ray":
        try:
            from .ray_engine import iter_tag_ray
        except ImportError as err:
            raise UsageError(f'--engine ray needs Ray: pip install "music_tagger[ray]" ({err})')
        return iter_tag_ray(paths, **options)
    from .tagging import iter_tag

    progress = False if args.no_progress else None
    return iter_tag(paths, progress=progress, workers=args.workers, **options)


def _plot(result, folder: str) -> None:
    from .taggram import plot_taggram

    name = os.path.basename(result.path)
    plot_taggram(result.taggram, os.path.join(folder, name + ".png"), title=name)


def _add_plot_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "plot",
        help="draw taggrams (tags over time) from the records of tag --taggram",
        description=(
            "Draw one PNG per record that holds a taggram (written by music-tagger tag "
            "--taggram --format jsonl or json): the top tags by mean score on the y-axis, "
            "time on the x-axis, colour the score."
        ),
        formatter_class=_HelpFormatter,
    )
    p.add_argument("records", help="a jsonl or json file of music-tagger tag --taggram")
    p.add_argument("--out", default="taggrams", metavar="DIR", help="folder of the PNGs")
    p.add_argument("--top", type=_positive_int, default=10, metavar="N", help="tags shown")
    return p


def _run_plot(args: argparse.Namespace) -> int:
    from .records import format_for, read_records
    from .taggram import Taggram, plot_taggram

    if not os.path.isfile(args.records):
        raise MissingFileError(f"no records file at {args.records}")
    fmt = format_for(args.records, None)
    drawn = 0
    os.makedirs(args.out, exist_ok=True)
    for record in read_records(args.records, fmt):
        if not record.get("taggram"):
            continue
        t = record["taggram"]
        name = os.path.basename(record["path"])
        path = os.path.join(args.out, name + ".png")
        plot_taggram(Taggram.from_dict(t, t["tags"]), path, top_n=args.top, title=name)
        print(path)
        drawn += 1
    if drawn == 0:
        raise DataError(f"{args.records} holds no taggram: tag with --taggram --format jsonl")
    return 0


def _add_calibrate_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "calibrate",
        help="pick per-tag thresholds that maximise F1 on labelled data",
        description=(
            "Score labelled examples with the pretrained tagger and pick, for each tag, "
            "the threshold that maximises F1; write them as JSON for tag --thresholds. "
            "LABELS is a feature store of music-tagger prepare (.h5) or a CSV with "
            "columns path,tags,split (tags separated by |). Labels are matched to the "
            "model's tags by name; a tag without positive examples gets no threshold "
            "(it never passes). Calibrate on held-out data, with the mode you tag with."
        ),
        formatter_class=_HelpFormatter,
    )
    p.add_argument("labels", help="labelled data: a feature store .h5 or a CSV")
    p.add_argument("--out", default="thresholds.json", metavar="FILE", help="the thresholds JSON")
    p.add_argument("--model", choices=("crnn", "cnn"), default="crnn", help="the tagger")
    p.add_argument("--split", default=None, help="CSV: use only this split's rows (e.g. valid)")
    p.add_argument("--crops", type=_positive_int, default=None, metavar="N",
                   help="CSV: crops per file, as for tag")  # fmt: skip
    p.add_argument("--faithful", action="store_true", help="CSV: tag with the faithful mode")
    p.add_argument("--batch-size", type=_positive_int, default=8, metavar="N", help="crops per network call")
    p.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                   help="CSV: processes reading audio (default every core)")  # fmt: skip
    return p


def _run_calibrate(args: argparse.Namespace) -> int:
    from .calibration import calibrate

    options = {} if args.labels.lower().endswith((".h5", ".hdf5")) else dict(
        crops=args.crops, faithful=args.faithful, workers=args.workers
    )
    with contextlib.redirect_stdout(sys.stderr):
        thresholds = calibrate(
            args.labels, args.out, args.model, split=args.split, batch_size=args.batch_size, **options
        )
    for t, v in sorted(thresholds.items(), key=lambda kv: -kv[1]["f1"]):
        print(f"{t:<20} threshold {v['threshold']:.4f}  F1 {v['f1']:.3f}  positives {v['support']}", file=sys.stderr)
    print(args.out)
    return 0


# --------------------------------------------------------------------------- training


def _add_synth_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "synth",
        help="write a synthetic labelled data set in the MagnaTagATune layout",
        description=(
            "Write synthetic clips whose tags follow from how they are rendered, in "
            "the MagnaTagATune layout (annotations_final.csv and folders 0-f), to try "
            "prepare/train/evaluate without the real data."
        ),
        formatter_class=_HelpFormatter,
    )
    p.add_argument("root", help="output folder (created if missing)")
    p.add_argument("--clips", type=_positive_int, default=200, metavar="N",
                   help="number of clips (at least 12)")  # fmt: skip
    p.add_argument("--duration", type=float, default=3.0, metavar="SECONDS",
                   help="length of each clip")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same files")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing annotations_final.csv in ROOT")  # fmt: skip
    return p


def _run_synth(args: argparse.Namespace) -> int:
    from .synth import make_mtt_like

    try:
        root = make_mtt_like(
            args.root, n_clips=args.clips, duration=args.duration, seed=args.seed,
            overwrite=args.overwrite,
        )  # fmt: skip
    except (ParameterError, FileExistsError) as err:
        raise UsageError(str(err)) from err
    print(root)
    return 0


def _add_prepare_parser(subparsers) -> argparse.ArgumentParser:
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
        formatter_class=_HelpFormatter,
    )
    p.add_argument("root", help="the data set folder (annotations_final.csv and the mp3 folders)")
    p.add_argument("out", help="folder of the feature stores")
    p.add_argument("--top", type=_positive_int, default=50, metavar="N",
                   help="keep the N most frequent tags")  # fmt: skip
    p.add_argument("--frames", type=_positive_int, default=1366, metavar="N",
                   help="frames per clip (centre crop, 256 samples at 12 kHz each); 1366 "
                   "(29.12 s) is the original input and what finetune needs, fewer make "
                   "small experiments fast")  # fmt: skip
    p.add_argument("--resampler", choices=RESAMPLERS, default=KAISER_BEST_2016,
                   help="resampling to 12 kHz: the 2016 filter (faithful) or the faster soxr")  # fmt: skip
    p.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                   help="worker processes (default: every CPU core)")  # fmt: skip
    p.add_argument("--splits", nargs="+", default=["train", "valid", "test"],
                   metavar="SPLIT", help="which splits to prepare")  # fmt: skip
    p.add_argument("--split-lists", default=None, metavar="FOLDER",
                   help="a folder of train/valid/test lists of clip ids or mp3 paths "
                   "(default: MagnaTagATune's split by folder 0-b, c, d-f)")  # fmt: skip
    return p


def _run_prepare(args: argparse.Namespace) -> int:
    from .cache import prepare
    from .data import read_mtt

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


def _add_convert_store_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "convert-store",
        help="rewrite feature stores with their spectrograms in one contiguous block",
        description=(
            "Rewrite feature stores written before issue 12 (one HDF5 chunk per clip) "
            "with the spectrograms in one contiguous block, as prepare writes them now, "
            "so that reading in order streams at the disk's sequential rate. Each store "
            "is replaced atomically once its copy is complete; contiguous ones are left "
            "alone. Training reads both layouts, so this is optional."
        ),
        formatter_class=_HelpFormatter,
    )
    p.add_argument("stores", nargs="+", metavar="STORE",
                   help="store files (e.g. features/train.h5) or folders of stores")  # fmt: skip
    return p


def _run_convert_store(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .store import convert_store

    paths = []
    for item in map(Path, args.stores):
        paths += sorted(item.glob("*.h5")) if item.is_dir() else [item]
    for path in paths:
        done = convert_store(path)
        print(f"{path}: {'converted' if done else 'contiguous already'}")
    return 0


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by train and finetune."""
    p.add_argument("features", help="folder of the feature stores (train.h5 and valid.h5) of prepare")
    p.add_argument("out", help="folder of the run: model.keras, tags.json, history.csv/json, "
                   "state.json and checkpoints/")  # fmt: skip
    p.add_argument("--epochs", type=_positive_int, default=100, metavar="N", help="most epochs")
    p.add_argument("--batch-size", type=_positive_int, default=16, metavar="N", help="clips per mini-batch")
    p.add_argument("--patience", type=_positive_int, default=1, metavar="N",
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
    g.add_argument("--shuffle-block", type=_positive_int, default=1, metavar="N",
                   help="shuffle runs of N consecutive clips instead of single clips, for "
                   "stores larger than memory (read from disk, not the page cache)")  # fmt: skip


def _accelerator_args(args: argparse.Namespace) -> dict:
    return {
        "mixed_precision": args.mixed_precision, "jit_compile": args.jit_compile,
        "distribute": args.distribute, "shuffle_block": args.shuffle_block,
    }  # fmt: skip


def _add_train_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train",
        help="train a network from random weights on feature stores",
        description=(
            "Train one of the paper's structures from random weights with its protocol: "
            "Adam (default parameters), binary cross-entropy, the validation ROC-AUC "
            "after every epoch, early stopping and the best model kept as OUT/model.keras."
        ),
        formatter_class=_HelpFormatter,
    )
    _add_run_options(p)
    p.add_argument("--arch", choices=ARCHS, default="crnn",
                   help="structure: the CRNN, or the CNNs k2c2 (2D kernels), k1c2, k2c1")  # fmt: skip
    size = p.add_mutually_exclusive_group()
    size.add_argument("--params", type=_positive_int, default=None, metavar="N", dest="n_params",
                      help="a parameter budget of the paper (100000, 250000, 500000, "
                      "1000000, 3000000), which picks the widths (default: the released "
                      "model's widths for crnn and k2c2)")  # fmt: skip
    size.add_argument("--widths", type=_positive_int, nargs="+", default=None, metavar="W",
                      help="explicit widths: conv maps, then dense or recurrent units "
                      "(crnn: 5 numbers)")  # fmt: skip
    return p


def _run_train(args: argparse.Namespace) -> int:
    from .training import train

    path = train(
        args.features, args.out, arch=args.arch, n_params=args.n_params,
        widths=args.widths, epochs=args.epochs, batch_size=args.batch_size,
        patience=args.patience, seed=args.seed, resume=args.resume,
        verbose=0 if args.quiet else 1, **_accelerator_args(args),
    )  # fmt: skip
    print(path)
    return 0


def _add_finetune_parser(subparsers) -> argparse.ArgumentParser:
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
        formatter_class=_HelpFormatter,
    )
    _add_run_options(p)
    p.set_defaults(epochs=30, patience=5)
    p.add_argument("--recipe", choices=("two-stage", "unfreeze"), default="two-stage",
                   help="the two-stage recipe, or the former freeze-then-unfreeze one")  # fmt: skip
    p.add_argument("--bn-semantics", choices=("variance", "std_keras106"), default="variance",
                   help="read the MSD BatchNorm statistics as published (variance) or as "
                   "trained under Keras 1.0.6 (std_keras106)")  # fmt: skip
    p.add_argument("--head", choices=("multi", "top"), default="multi",
                   help="two-stage: the head reads every conv block's average and the last "
                   "GRU state (multi, 480 dims) or the last GRU state only (top, 32)")  # fmt: skip
    p.add_argument("--head-fit", choices=("logistic", "adam"), default="logistic",
                   help="two-stage: stage 1 is the linear probe (logistic regression per tag, "
                   "regularisation chosen on validation) or Adam with early stopping")  # fmt: skip
    p.add_argument("--head-lr", type=float, default=1e-3, dest="head_learning_rate",
                   help="Adam's rate for the new head (unfreeze: while the conv blocks are frozen)")  # fmt: skip
    p.add_argument("--head-epochs", type=_positive_int, default=300, metavar="N",
                   help="two-stage with --head-fit adam: most epochs of stage 1")  # fmt: skip
    p.add_argument("--head-patience", type=_positive_int, default=20, metavar="N",
                   help="two-stage with --head-fit adam: stop stage 1 after N epochs without "
                   "a better validation ROC-AUC")  # fmt: skip
    p.add_argument("--stage2-from", choices=("gru1", "gru2", "conv4", "none"), default="gru1",
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


def _run_finetune(args: argparse.Namespace) -> int:
    from .transfer import finetune

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


# --------------------------------------------------------------------------- transfer


def _add_features_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "features",
        help="pretrained features of audio files or feature stores, as .npy with a row index",
        description=(
            "Compute the features of the MSD-pretrained CRNN or CNN (Choi et al. 2017): "
            "multi-level (each conv block averaged over time and frequency, plus the "
            "CRNN's last GRU state) or the last layer only. INPUT is a folder of stores of "
            "prepare (then OUT/<split>.npy, .csv and .json per split, with the labels, "
            "ready for probe), a store (.h5), or audio files and folders (OUT.npy, .csv, .json)."
        ),
        formatter_class=_HelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="stores folder, store, or audio files/folders")
    p.add_argument("--out", required=True, help="output folder (stores) or prefix (files)")
    p.add_argument("--arch", choices=("crnn", "cnn"), default="crnn", help="which pretrained network")
    p.add_argument("--level", choices=("multi", "top"), default="multi",
                   help="every conv block's average (+ last GRU state) or the last layer only")  # fmt: skip
    p.add_argument("--bn-semantics", choices=("variance", "std_keras106"), default=None,
                   help="CRNN: read the BatchNorm statistics as published (default) or as trained")  # fmt: skip
    p.add_argument("--crops", type=_positive_int, default=1, metavar="N",
                   help="audio files: average over N crops spread over the track (1: centre crop)")  # fmt: skip
    p.add_argument("--resampler", choices=RESAMPLERS, default=KAISER_BEST_2016,
                   help="audio files: the 2016 resampler or the faster soxr")  # fmt: skip
    p.add_argument("--batch-size", type=_positive_int, default=8, metavar="N", help="clips per network call")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _run_features(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import cache
    from .embedding import features, write_features
    from .tagging import expand_paths

    options = dict(arch=args.arch, level=args.level, bn_semantics=args.bn_semantics,
                   batch_size=args.batch_size, progress=not args.quiet)  # fmt: skip
    meta = dict(arch=args.arch, level=args.level, bn_semantics=args.bn_semantics,
                crops=args.crops, resampler=args.resampler)  # fmt: skip
    first = Path(args.inputs[0])
    stores = sorted(first.glob("*.h5")) if len(args.inputs) == 1 and first.is_dir() else []
    if len(args.inputs) == 1 and str(first).endswith(".h5"):
        stores = [first]
    if stores:  # one output per store, with its labels
        out = Path(args.out)
        for path in stores:
            info = cache.load_store(path)
            x = features(str(path), **options)
            prefix = out / info.split if len(stores) > 1 or first.is_dir() else out
            store_meta = dict(meta, crops=1, resampler=info.settings["resampler"], store=str(path))
            for written in write_features(prefix, x, info.ids, store_meta, y=info.y, tags=info.tags):
                print(written)
        return 0
    paths = expand_paths(args.inputs)
    x = features(paths, crops=args.crops, resampler=args.resampler, **options)
    for written in write_features(args.out, x, paths, meta):
        print(written)
    return 0


def _add_probe_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "probe",
        help="a linear classifier per tag on pretrained features; or tag files with one",
        description=(
            "Train: fit one logistic regression per tag on FEATURES/train.npy (from "
            "music-tagger features on a stores folder), choose C by the macro ROC-AUC on "
            "FEATURES/valid.npy, score FEATURES/test.npy, and save the probe in OUT "
            "(probe.npz + probe.json, no pickle; results-test.json/csv). "
            "Tag: with --tag, OUT is a saved probe and the remaining arguments are audio "
            "files or folders, tagged with it."
        ),
        formatter_class=_HelpFormatter,
    )
    p.add_argument("source", metavar="FEATURES", nargs="?", help="folder of train/valid/test features")
    p.add_argument("out", metavar="OUT", help="folder of the probe")
    p.add_argument("--Cs", type=_float_list, default="0.0001,0.0003,0.001,0.003,0.01,0.03,0.1,1,10", metavar="C,C,...",
                   help="inverse regularisation strengths tried on the validation split")  # fmt: skip
    p.add_argument("--tag", nargs="+", default=None, metavar="AUDIO",
                   help="tag these audio files/folders with the probe saved in OUT")  # fmt: skip
    p.add_argument("--top", type=_positive_int, default=5, metavar="N", help="with --tag: tags shown per file")
    return p


def _float_list(text: str) -> list[float]:
    try:
        values = [float(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"expected positive numbers, got {text!r}")
    return values


def _run_probe(args: argparse.Namespace) -> int:
    from .evaluation import format_table
    from .linear_probe import load_probe, probe
    from .tagging import expand_paths

    if args.tag is not None:
        if args.source is not None:
            raise UsageError("with --tag, give only the probe folder OUT")
        model = load_probe(args.out)
        paths = expand_paths(args.tag)
        scores = model.tag(paths)
        tags = model.tags or [f"tag_{j}" for j in range(scores.shape[1])]
        for path, row in zip(paths, scores):
            best = sorted(zip(tags, row), key=lambda item: -item[1])[: args.top]
            print(path + "\t" + "  ".join(f"{t} {s:.3f}" for t, s in best))
        return 0
    if args.source is None:
        raise UsageError("give FEATURES and OUT (or OUT and --tag AUDIO...)")
    results = probe(args.source, args.out, Cs=args.Cs)
    print(f"C = {results['C']:g} (validation macro ROC-AUC {results['valid']['roc_auc_macro']:.4f})")
    print(format_table(results["test"]))
    return 0


def _add_evaluate_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "evaluate",
        help="score a trained model on a feature store: per-tag and macro ROC-AUC/PR-AUC",
        description=(
            "Score a model of train or finetune on a feature store (e.g. test.h5): prints "
            "the per-tag table, best ROC-AUC first, and writes it as JSON and CSV."
        ),
        formatter_class=_HelpFormatter,
    )
    p.add_argument("model", help="the model.keras of a run (its tags.json must match the store)")
    p.add_argument("store", help="a feature store of prepare, e.g. features/test.h5")
    p.add_argument("--out", default=None, metavar="PREFIX",
                   help="write PREFIX.json and PREFIX.csv (a folder: results.json/csv in "
                   "it); default: results-<store name> beside the model")  # fmt: skip
    p.add_argument("--batch-size", type=_positive_int, default=16, metavar="N", help="clips per network call")
    return p


def _run_evaluate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .evaluation import evaluate_model, format_table

    out = args.out or Path(args.model).with_name(f"results-{Path(args.store).stem}")
    results = evaluate_model(args.model, args.store, batch_size=args.batch_size, out=out)
    print(format_table(results))
    return 0


# --------------------------------------------------------------------------- experiment


def _comma_list(text: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
    return items


def _budget_list(text: str) -> list[int]:
    try:
        return parse_budgets(text)
    except ParameterError as err:
        raise argparse.ArgumentTypeError(str(err))


def _add_experiment_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "experiment",
        help="train every structure at every parameter budget (the paper's study)",
        description=(
            "Train each structure at each parameter budget on feature stores with the "
            "paper's protocol (as music-tagger train), score its best model on test.h5, "
            "and write one results table OUT/results.csv and results.json: arch, budget, "
            "exact trainable parameters, best validation ROC-AUC, test macro ROC-AUC and "
            "PR-AUC, per-tag test ROC-AUC, epochs, training seconds and seconds per "
            "sample. Resumable: configurations finished with the same settings are "
            "skipped, an interrupted one continues from its last epoch."
        ),
        epilog="Draw the paper's figures from OUT with: music-tagger figures OUT --out FIGS",
        formatter_class=_HelpFormatter,
    )
    p.add_argument("--data", required=True, metavar="FEATURES",
                   help="folder of the train/valid/test feature stores of prepare; k1c2, "
                   "k2c1 and k2c2 need at least 1280 frames")  # fmt: skip
    p.add_argument("--out", default="runs", help="folder of the run folders and the results table")
    p.add_argument("--archs", type=_comma_list, default=",".join(ARCHS),
                   help="structures, comma-separated")  # fmt: skip
    p.add_argument("--budgets", type=_budget_list, default=",".join(f"{b / 1e6:g}" for b in BUDGET_SIZES),
                   help="parameter budgets in millions, comma-separated")  # fmt: skip
    p.add_argument("--width-scale", type=float, default=1.0, metavar="S",
                   help="multiply every width by S (1: the paper's models; e.g. 0.1 for "
                   "small stand-ins in a quick trial, far below the budgets' counts)")  # fmt: skip
    p.add_argument("--epochs", type=_positive_int, default=100, metavar="N", help="most epochs per run")
    p.add_argument("--batch-size", type=_positive_int, default=16, metavar="N", help="clips per mini-batch")
    p.add_argument("--patience", type=_positive_int, default=1, metavar="N",
                   help="stop after N epochs without a better validation ROC-AUC (the paper: 1)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seeds the weights, the shuffling and dropout")
    p.add_argument("--quiet", action="store_true", help="no per-configuration lines")
    p.add_argument("--progress", action="store_true", help="also show Keras' progress bar per epoch")
    g = p.add_argument_group(
        "parallel jobs",
        "Run the grid as independent jobs sharing OUT (one per GPU or machine): each "
        "trains its configurations and writes their result.json; then the same command "
        "with --merge writes the table.",
    )
    g.add_argument("--job", type=int, default=None, metavar="K",
                   help="this job's number, 0..N-1 (e.g. $SLURM_ARRAY_TASK_ID): trains "
                   "configurations K, K+N, K+2N, ... in grid order")  # fmt: skip
    g.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                   help="number of jobs (the number of configurations: one each)")  # fmt: skip
    g.add_argument("--only", type=_comma_list, default=None, metavar="NAMES",
                   help="train only these configurations, e.g. crnn-0.1M,k2c2-1M")  # fmt: skip
    g.add_argument("--merge", action="store_true",
                   help="train nothing: collect every configuration's result.json into "
                   "the table (fails naming those not finished)")  # fmt: skip
    return p


def _run_experiment(args: argparse.Namespace) -> int:
    from .evaluation import write_grid_results
    from .experiment import merge_results, run_experiment

    unknown = [a for a in args.archs if a not in ARCHS]
    if unknown:
        raise UsageError(f"unknown structure(s) {', '.join(unknown)}; choose from {','.join(ARCHS)}")
    if (args.job is None) != (args.jobs is None):
        raise UsageError("--job and --jobs go together")
    if args.merge and (args.jobs is not None or args.only is not None):
        raise UsageError("--merge collects the whole grid; leave out --job/--jobs/--only")
    if args.merge:
        rows = merge_results(
            args.out, args.archs, args.budgets, width_scale=args.width_scale,
            epochs=args.epochs, batch_size=args.batch_size, patience=args.patience,
            seed=args.seed,
        )  # fmt: skip
    else:
        with contextlib.redirect_stdout(sys.stderr):
            rows = run_experiment(
                args.data, args.out, args.archs, args.budgets, width_scale=args.width_scale,
                epochs=args.epochs, batch_size=args.batch_size, patience=args.patience,
                seed=args.seed, verbose=0 if args.quiet else 1 + args.progress,
                job=args.job, jobs=args.jobs, only=args.only,
            )  # fmt: skip
        if args.jobs is not None or args.only is not None:  # a part: no table
            from pathlib import Path

            from .experiment import Config

            for row in rows:
                print(Path(args.out) / Config(row["arch"], row["budget"], ()).name / "result.json")
            return 0
    for path in write_grid_results(rows, args.out):
        print(path)
    return 0


def _add_figures_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "figures",
        help="draw the paper's figures from the results of experiment",
        description=(
            "Draw, as PNG and PDF: test ROC-AUC vs. trainable parameters, one line per "
            "structure (the paper's Fig. 2); test ROC-AUC vs. training time per sample and "
            "vs. cumulative training time; per-tag test ROC-AUC at the budget nearest 1M, "
            "grouped by tag category and sorted, the baseline (k2c2) as bars and the other "
            "structures as differences (the paper's Fig. 3)."
        ),
        formatter_class=_HelpFormatter,
    )
    p.add_argument("runs", help="the OUT folder of experiment (or its results.json)")
    p.add_argument("--out", default="figures", help="folder of the figures")
    p.add_argument("--reference", type=float, default=None, metavar="AUC",
                   help="draw a horizontal reference line at this AUC (e.g. 0.851, the "
                   "state of the art quoted by the paper)")  # fmt: skip
    p.add_argument("--reference-label", default="reference", metavar="TEXT",
                   help="legend entry of the reference line")  # fmt: skip
    p.add_argument("--groups", default=None, metavar="JSON",
                   help='tag categories for the per-tag figure, a JSON file {"group": '
                   '["tag", ...]}; default: genre/mood/instrument/era for the MSD tags, one '
                   "group otherwise")  # fmt: skip
    p.add_argument("--budget", type=float, default=None, metavar="MILLIONS",
                   help="budget of the per-tag figure (default: the one nearest 1)")  # fmt: skip
    p.add_argument("--baseline", default="k2c2", help="structure drawn as bars in the per-tag figure")
    p.add_argument("--title", default="", help="prefix of every title, e.g. the data set's name")
    p.add_argument("--formats", type=_comma_list, default="png,pdf",
                   help="file formats, comma-separated")  # fmt: skip
    return p


def _run_figures(args: argparse.Namespace) -> int:
    from .figures import draw_figures, read_groups

    groups = None if args.groups is None else read_groups(args.groups)
    paths = draw_figures(
        args.runs, args.out, reference=args.reference,
        reference_label=args.reference_label, groups=groups,
        budget=None if args.budget is None else round(args.budget * 1e6),
        baseline=args.baseline, title=args.title, formats=args.formats,
    )  # fmt: skip
    for path in paths:
        print(path)
    return 0


# --------------------------------------------------------------------------- registry

#: Every subcommand as ``(add_parser, run)``: ``add_parser(subparsers)`` adds and
#: returns its sub-parser, ``run(args)`` returns the exit status. Append new ones here.
SUBCOMMANDS: list[tuple[Callable, Callable[[argparse.Namespace], int]]] = [
    (_add_tag_parser, _run_tag),
    (_add_plot_parser, _run_plot),
    (_add_calibrate_parser, _run_calibrate),
    (_add_synth_parser, _run_synth),
    (_add_prepare_parser, _run_prepare),
    (_add_convert_store_parser, _run_convert_store),
    (_add_train_parser, _run_train),
    (_add_evaluate_parser, _run_evaluate),
    (_add_finetune_parser, _run_finetune),
    (_add_features_parser, _run_features),
    (_add_probe_parser, _run_probe),
    (_add_experiment_parser, _run_experiment),
    (_add_figures_parser, _run_figures),
]


def build_parser() -> argparse.ArgumentParser:
    """The ``music-tagger`` parser with every subcommand of :data:`SUBCOMMANDS`."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Music auto-tagging with the pretrained CRNN of Choi et al. (2016), "
            "ported to Keras 3. Run '%(prog)s COMMAND --help' for a command's options."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug", action="store_true",
        help="show the traceback of every error, not only of unexpected ones "
        "(accepted anywhere on the line)",
    )  # fmt: skip
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add_parser, run in SUBCOMMANDS:
        sub = add_parser(subparsers)
        sub.set_defaults(_run=run, _parser=sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``music-tagger`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    Usage errors print argparse's message and return 2 (``--help`` and
    ``--version`` return 0) instead of raising ``SystemExit``.
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    # before anything imports TensorFlow: keep its C++ info/warning logs quiet
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        args, rest = parser.parse_known_args(argv)
        if rest:
            # paths after options ("tag a.mp3 --top 5 b.mp3"): argparse leaves them
            # over; parse the subcommand's arguments again, intermixed
            sub = args._parser
            try:
                args = sub.parse_intermixed_args(argv[argv.index(args.command) + 1 :])
            except TypeError:  # a sub-parser that cannot intermix
                args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        return int(args._run(args))
    except UsageError as err:
        if debug:
            raise
        args._parser.print_usage(sys.stderr)
        print(f"{args._parser.prog}: error: {err}", file=sys.stderr)
        return 2
    except MusicTaggerError as err:  # a missing file, a run that exists, a bad value...
        if debug:
            raise
        _print_error(str(err))
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of stdout went away (music-tagger tag DIR | head -1): stop
        # quietly; point stdout at /dev/null so that the final flush cannot fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 141  # 128 + SIGPIPE, as a process killed by the signal


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
