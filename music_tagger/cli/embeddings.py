"""``music-tagger features``, ``probe`` and ``teach``: the commands of :mod:`music_tagger.embeddings`."""

import argparse

from ..audio import KAISER_BEST_2016, RESAMPLERS
from ..errors import UsageError
from ..vocabulary import BN_READINGS, FEATURE_LEVELS, FEATURE_NETWORKS, FEATURE_RUNTIME, RUNTIMES
from .common import WORKERS_HELP, HelpFormatter, non_negative_int_arg, positive_float_arg, positive_int_arg, print_error


def add_features_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "features",
        help="pretrained features of audio files or feature stores, as .npy with a row index",
        description=(
            "Compute the features of the MSD-pretrained CRNN, CNN or compact convnet (Choi et "
            "al. 2017): multi-level (each conv block averaged over time and frequency, plus the "
            "CRNN's last GRU state; the compact convnet's 160-d feature), the last layer only, or "
            "one block (pool1, ...). The compact convnet reads audio files (for a store, the files it "
            "was prepared from). INPUT is a folder of stores of "
            "prepare (then OUT/<split>.npy, .csv and .json per split, with the labels, "
            "ready for probe), a store (.h5), or audio files and folders (OUT.npy, .csv, .json)."
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="stores folder, store, or audio files/folders")
    p.add_argument("--out", required=True, help="output folder (stores) or prefix (files)")
    p.add_argument("--arch", choices=FEATURE_NETWORKS, default="crnn", help="which pretrained network")
    p.add_argument("--level", choices=FEATURE_LEVELS, default="multi",
                   help="every conv block's average (+ last GRU state), the last layer only, or one block")  # fmt: skip
    p.add_argument("--bn-semantics", choices=BN_READINGS, default=None,
                   help="CRNN: read the BatchNorm statistics as published (default) or as trained")  # fmt: skip
    p.add_argument("--crops", type=positive_int_arg, default=1, metavar="N",
                   help="audio files: average over N crops spread over the track (1: centre crop)")  # fmt: skip
    p.add_argument("--resampler", choices=RESAMPLERS, default=KAISER_BEST_2016,
                   help="audio files: the 2016 resampler or the faster soxr")  # fmt: skip
    p.add_argument("--batch-size", type=positive_int_arg, default=8, metavar="N", help="clips per network call")
    p.add_argument("--workers", type=non_negative_int_arg, default=None, metavar="N",
                   help="audio files (crnn, cnn): " + WORKERS_HELP)  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--overwrite", action="store_true", help="replace the feature files of an earlier run")
    return p


def run_features(args: argparse.Namespace) -> int:
    from ..embeddings.files import write_input_features

    written, failed = write_input_features(
        args.inputs, args.out, arch=args.arch, level=args.level, bn_semantics=args.bn_semantics,
        crops=args.crops, resampler=args.resampler, batch_size=args.batch_size, workers=args.workers,
        progress=not args.quiet, overwrite=args.overwrite,
    )  # fmt: skip
    for _, message in failed:  # reported, and the other files kept (as tag does)
        print_error(message)
    for path in written:
        print(path)
    return 1 if failed else 0


def add_probe_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "probe",
        help="a linear classifier per tag on pretrained features; or tag files with one",
        description=(
            "Train: fit one logistic regression per tag on FEATURES/train.npy (from "
            "music-tagger features on a stores folder), choose C by the macro ROC-AUC on "
            "FEATURES/valid.npy, score FEATURES/test.npy, and save the probe in OUT "
            "(probe.npz + probe.json, no pickle; results-test.json/csv). "
            "Tag: with --tag, OUT is a saved probe and the remaining arguments are audio "
            "files or folders, tagged with it (a probe of 'music-tagger teach': its tag beside "
            "the default tagger's 50 MSD tags)."
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument("source", metavar="FEATURES", nargs="?", help="folder of train/valid/test features")
    p.add_argument("out", metavar="OUT", help="folder of the probe")
    p.add_argument("--Cs", type=_float_list, default="0.0001,0.0003,0.001,0.003,0.01,0.03,0.1,1,10", metavar="C,C,...",
                   help="inverse regularisation strengths tried on the validation split")  # fmt: skip
    p.add_argument("--tag", nargs="+", default=None, metavar="AUDIO",
                   help="tag these audio files/folders with the probe saved in OUT")  # fmt: skip
    p.add_argument("--top", type=positive_int_arg, default=5, metavar="N", help="with --tag: tags shown per file")
    p.add_argument("--overwrite", action="store_true", help="replace a probe of an earlier run in OUT")
    return p


def _float_list(text: str) -> list[float]:
    values = [item for item in text.split(",") if item.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive numbers, got {text!r}")
    return [positive_float_arg(item) for item in values]


def run_probe(args: argparse.Namespace) -> int:
    import numpy as np

    from ..embeddings.linear_probe import load_probe, probe, tag_with_probe
    from ..training.evaluation import format_table

    if args.tag is not None:
        if args.source is not None:
            raise UsageError("with --tag, give only the probe folder OUT")
        scores, tags, paths, failed = tag_with_probe(load_probe(args.out), args.tag)
        for path, row in zip(paths, scores):
            best = sorted(zip(tags, row), key=lambda item: -np.nan_to_num(item[1], nan=-1.0))[: args.top]
            print(path + "\t" + "  ".join(f"{t} {s:.3f}" for t, s in best))
        for _, message in failed:  # reported after the good files' results
            print_error(message)
        return 1 if failed else 0
    if args.source is None:
        raise UsageError("give FEATURES and OUT (or OUT and --tag AUDIO...)")
    results = probe(args.source, args.out, Cs=args.Cs, overwrite=args.overwrite)
    print(f"C = {results['C']:g} (validation macro ROC-AUC {results['valid']['roc_auc_macro']:.4f})")
    print(format_table(results["test"]))
    return 0


def add_teach_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "teach",
        help="teach a new tag from a handful of files that have it and files that do not",
        description=(
            "Fit one new tag (a logistic regression on the CRNN's multi-level features) from "
            "files that have it (--yes) and files that do not (--no), at least 3 on each side "
            "(10 or more work well), and save it as a probe in OUT (probe.npz + probe.json), "
            "which 'music-tagger probe OUT --tag FILES' uses. Features are cached per file "
            "(--cache), so teaching again or scoring the same library needs no network pass. "
            "With --score, the files and folders given are scored with the new tag, best first. "
            "Refused with one line: no or too few files on a side, a file on both sides, an "
            "unreadable example, a tag named like one of the 50 MSD tags."
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument("tag", metavar="TAG", help="the new tag's name (not one of the 50 MSD tags)")
    p.add_argument("--yes", nargs="+", required=True, metavar="FILE", help="audio files/folders that have the tag")
    p.add_argument("--no", nargs="+", required=True, metavar="FILE", help="audio files/folders that do not")
    p.add_argument("-o", "--out", default=None, metavar="OUT",
                   help="folder of the taught probe (default: probes/<TAG>)")  # fmt: skip
    p.add_argument("--score", nargs="+", default=None, metavar="AUDIO",
                   help="then score these audio files/folders with the tag (score<TAB>path, best first)")  # fmt: skip
    p.add_argument("--top", type=positive_int_arg, default=None, metavar="N", help="with --score: print the best N")
    p.add_argument("--C", type=positive_float_arg, default=0.01, help="inverse L2 regularisation of the fit")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="per-file feature cache (default: $MUSIC_TAGGER_FEATURE_CACHE, else "
                   "~/.keras/music_tagger/features)")  # fmt: skip
    p.add_argument("--runtime", choices=RUNTIMES, default=FEATURE_RUNTIME,
                   help="what computes the features: tf (Keras on TensorFlow) or onnx (onnxruntime, no "
                   "TensorFlow; equal within 1e-6, cached apart); kept in the probe, which scores with it")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--overwrite", action="store_true", help="replace a probe already in OUT")
    return p


def run_teach(args: argparse.Namespace) -> int:
    import sys

    import numpy as np

    from ..embeddings.few_shot import describe, score, teach_and_save

    taught, out = teach_and_save(args.tag, args.yes, args.no, args.out, overwrite=args.overwrite, C=args.C,
                                 cache_dir=args.cache, progress=not args.quiet, runtime=args.runtime)  # fmt: skip
    print(f"{describe(taught)}; saved in {out}", file=sys.stderr)
    if args.score is None:
        return 0
    scores, paths, failed = score(taught, args.score, cache_dir=args.cache, progress=not args.quiet)
    order = np.argsort(-scores[:, 0], kind="stable")[: args.top]
    for row in order:
        print(f"{scores[row, 0]:.4f}\t{paths[row]}")
    for _, message in failed:
        print_error(message)
    return 1 if failed else 0
