"""``music-tagger tag``, ``plot`` and ``calibrate``: the commands of :mod:`music_tagger.tagging`."""

import argparse
import contextlib
import os
import sys

from ..audio import KAISER_BEST_2016, RESAMPLERS, SOXR_HQ
from ..errors import MusicTaggerError, ParameterError, UsageError
from ..vocabulary import ENGINES, OUTPUT_FORMATS, PRETRAINED, RUNTIMES
from .common import (
    WORKERS_HELP,
    HelpFormatter,
    non_negative_int_arg,
    positive_float_arg,
    positive_int_arg,
    print_error,
)


def add_tag_parser(subparsers) -> argparse.ArgumentParser:
    from ..audio.files import AUDIO_EXTENSIONS
    from ..tagging.tagger import DEFAULT_BATCH_SIZE, DEFAULT_CROPS

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
        formatter_class=HelpFormatter,
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
        help="also tag the four example clips of the original repository (bensound-*.mp3), before PATHs",
    )
    p.add_argument(
        "--top", type=positive_int_arg, default=10, metavar="N",
        help="number of tags to show per file, best first",
    )  # fmt: skip
    p.add_argument(
        "--model", choices=PRETRAINED, default="crnn",
        help="crnn: MusicTaggerCRNN (the paper's, published scores); cnn: the "
        "5-layer MusicTaggerCNN",
    )  # fmt: skip
    p.add_argument(
        "--runtime", choices=RUNTIMES, default=None,
        help="what runs the network: tf (Keras on TensorFlow) or onnx (onnxruntime on "
        "an ONNX file built from the same weights on first use, without TensorFlow; "
        "needs music_tagger[onnx]; scores equal to 2e-5, faster); default onnx when "
        "music_tagger[onnx] is installed, else tf",
    )  # fmt: skip
    p.add_argument(
        "--format", choices=OUTPUT_FORMATS, default=None, dest="fmt",
        help="table: human-readable, scores rounded to 3 decimals (default on stdout); "
        'jsonl: one {"path", "tags": [[tag, score], ...], "error"} per line (default '
        "with --output, unless its suffix says .json or .csv); json: a list of the "
        "same, one per line; csv: columns path,rank,tag,score,error, one row per tag "
        "(one row with the error for a failed file). jsonl, json and csv keep full "
        "precision. Each file's record is written as soon as it is tagged",
    )  # fmt: skip
    p.add_argument(
        "--output", "-o", default=None, metavar="FILE",
        help="write the records to FILE (flushed per file) instead of stdout; jsonl and "
        'json records there also hold each file\'s "size" and "mtime_ns" (for music-tagger write)',
    )  # fmt: skip
    p.add_argument(
        "--resume", action="store_true",
        help="with --output: keep the records already in FILE (e.g. of a killed run), "
        "skip their files and append the rest",
    )  # fmt: skip
    p.add_argument(
        "--workers", type=non_negative_int_arg, default=None, metavar="N",
        help=WORKERS_HELP + "; they compute spectrograms while the network runs. With "
        "--engine ray: the number of Ray actors (default: the cluster's CPUs)",
    )  # fmt: skip
    p.add_argument(
        "--engine", choices=ENGINES, default="local",
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
        "--hop", type=positive_float_arg, default=None, metavar="SECONDS",
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
        "--crops", type=positive_int_arg, default=None, metavar="N",
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
        "--batch-size", type=positive_int_arg, default=DEFAULT_BATCH_SIZE, metavar="N",
        help="crops per network call, shared across files; memory grows with it "
        "(about 100 MB per crop for the CRNN)",
    )  # fmt: skip
    p.add_argument(
        "--probe", action="append", default=None, metavar="PROBE",
        help="a tag taught with music-tagger teach (its probe folder; repeat for more): its "
        "score is ranked beside the MSD tags in each record (added to the --top N). Its "
        "features are a second forward pass, kept in the feature cache of teach "
        "($MUSIC_TAGGER_FEATURE_CACHE), so only for files not featured before",
    )  # fmt: skip
    p.add_argument(
        "--no-progress", action="store_true",
        help="no progress bar (it is shown on stderr only when stderr is a terminal)",
    )  # fmt: skip
    return p


def _example_paths() -> tuple[list[str], list]:
    """Paths of the four example clips, and failed results for those unobtainable."""
    from ..registry import example, example_names
    from ..tagging.results import TagResult

    paths, failed = [], []
    for name in example_names():
        try:
            paths.append(str(example(name)))
        except MusicTaggerError as err:
            failed.append(TagResult(name, None, [], str(err)))
    return paths, failed


def run_tag(args: argparse.Namespace) -> int:
    from ..tagging.records import format_for

    args.taggram = args.taggram or args.hop is not None or args.plot is not None
    if not args.paths and not args.examples:
        raise UsageError("give at least one PATH, or --examples")
    from ..tagging.tagger import resolve_mode
    from ..tagging.taggram import taggram_crops

    try:
        resolve_mode(args.crops, args.faithful, args.resampler)
        taggram_crops(args.taggram, args.hop, crops=args.crops, faithful=args.faithful)
    except ParameterError as err:  # an option combination: a usage error
        raise UsageError(str(err)) from None
    if args.resume and args.output is None:
        raise UsageError("--resume continues an --output FILE")
    fmt = format_for(args.output, args.fmt)
    if args.taggram and fmt not in ("jsonl", "json") and args.plot is None:
        raise UsageError("--taggram records need --format jsonl or json (or use --plot DIR)")
    if args.resume and fmt == "table":
        raise UsageError("--resume needs --format jsonl, json or csv")

    from ..audio.files import expand_paths
    from ..tagging.records import RecordWriter, file_identity, open_output, result_record

    out = sys.stdout  # before anything is redirected: the records only
    paths = expand_paths(args.paths)
    early = []  # examples that could not be obtained
    if args.examples:
        example_paths, early = _example_paths()
        paths = example_paths + paths
    plots = _plot_paths(args.plot, paths) if args.plot is not None else None
    probes, taught_tags, taught = [], [], {}
    if args.probe:
        from ..embeddings.few_shot import load_taught, taught_scores, with_taught

        probes, taught_tags = load_taught(args.probe)  # checked before any file is read
    output = None
    if args.output is not None:
        output = open_output(args.output, fmt, resume=args.resume, **_record_options(args, fmt, len(taught_tags)))
        writer = output
        paths = [p for p in paths if file_identity(p) not in output.done]
        if args.resume:
            again = f", {output.retried} failed ones tagged again" if output.retried else ""
            print(f"resuming: {output.kept} files already in {args.output}{again}", file=sys.stderr)
    else:
        writer = RecordWriter(out, fmt, passed=args.thresholds is not None)
    if probes and paths:  # the files left to tag only: a resumed run features no file twice
        _, taught = taught_scores(probes, paths, progress=not args.no_progress and sys.stderr.isatty())
    failed = 0
    try:
        results = _tag_results(args, paths) if paths else iter(())
        try:
            for r in early:
                writer.write(r.to_dict())
                print_error(r.error)
                failed += 1
            # anything a library prints goes to stderr: stdout is the output only
            with contextlib.redirect_stdout(sys.stderr):
                for r in results:
                    if r.error is not None:
                        failed += 1
                        print_error(r.error)
                    elif plots is not None:
                        _plot(r, plots[r.path])
                    record = result_record(r, fmt, stamp=output is not None)
                    if taught_tags:
                        record = with_taught(record, taught_tags, taught.get(r.path))
                    writer.write(record)
        finally:
            if hasattr(results, "close"):  # stop the workers of an unfinished run
                results.close()
    finally:
        if output is not None:
            output.close()
    if output is None:
        writer.close()
    return 0 if failed == 0 else 1


def _record_options(args: argparse.Namespace, fmt: str, n_taught: int = 0) -> dict:
    """What the records of this run hold, for a resume to check against the file's."""
    from ..registry import TAGS
    from ..tagging.thresholds import load_thresholds

    thresholds = None if args.thresholds is None else load_thresholds(args.thresholds, TAGS)
    taggram = args.taggram and fmt in ("jsonl", "json")
    return dict(n_tags=min(args.top, len(TAGS)) + n_taught, thresholds=thresholds, taggram=taggram)


def _tag_results(args: argparse.Namespace, paths: list[str]):
    options = dict(
        model=args.model, top_n=args.top, crops=args.crops, faithful=args.faithful,
        batch_size=args.batch_size, resampler=args.resampler, taggram=args.taggram,
        hop=args.hop, thresholds=args.thresholds,
    )  # fmt: skip
    if args.engine == "ray":
        if args.runtime == "onnx":
            raise UsageError("--engine ray runs the tf runtime; drop --runtime onnx")
        try:
            import ray  # noqa: F401  (only to say at once when it is missing)

            from ..tagging.ray_engine import iter_tag_ray
        except ImportError as err:
            raise UsageError(f'--engine ray needs Ray: pip install "music_tagger[ray]" ({err})') from None
        if args.workers == 0:
            raise UsageError("--engine ray runs in Ray actors: --workers is their number, at least 1")
        # --workers N: N actors, each reading and scoring its files in its own process
        return iter_tag_ray(paths, workers=args.workers, **options)
    from ..tagging.tagger import iter_tag

    progress = False if args.no_progress else None
    return iter_tag(paths, progress=progress, workers=args.workers, runtime=args.runtime, **options)


def _plot_paths(folder: str, paths: list[str]) -> dict[str, str]:
    """Where each file's taggram goes: a PNG per file, unique (see plot_names)."""
    from ..tagging.taggram import check_plot_folder, plot_names

    check_plot_folder(folder)
    return dict(zip(paths, plot_names(paths, folder)))


def _plot(result, png: str) -> None:
    from ..tagging.taggram import plot_taggram

    plot_taggram(result.taggram, png, title=os.path.basename(result.path))


def add_plot_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "plot",
        help="draw taggrams (tags over time) from the records of tag --taggram",
        description=(
            "Draw one PNG per record that holds a taggram (written by music-tagger tag "
            "--taggram --format jsonl or json): the top tags by mean score on the y-axis, "
            "time on the x-axis, colour the score."
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument("records", help="a jsonl or json file of music-tagger tag --taggram")
    p.add_argument("--out", default="taggrams", metavar="DIR", help="folder of the PNGs")
    p.add_argument("--top", type=positive_int_arg, default=10, metavar="N", help="tags shown")
    return p


def run_plot(args: argparse.Namespace) -> int:
    from ..tagging.taggram import plot_records

    for png in plot_records(args.records, args.out, top_n=args.top):
        print(png)
    return 0


def add_calibrate_parser(subparsers) -> argparse.ArgumentParser:
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
        formatter_class=HelpFormatter,
    )
    p.add_argument("labels", help="labelled data: a feature store .h5 or a CSV")
    p.add_argument("--out", default="thresholds.json", metavar="FILE", help="the thresholds JSON")
    p.add_argument("--model", choices=PRETRAINED, default="crnn", help="the tagger")
    p.add_argument("--split", default=None, help="CSV: use only this split's rows (e.g. valid)")
    p.add_argument("--crops", type=positive_int_arg, default=None, metavar="N",
                   help="CSV: crops per file, as for tag")  # fmt: skip
    p.add_argument("--faithful", action="store_true", help="CSV: tag with the faithful mode")
    p.add_argument("--batch-size", type=positive_int_arg, default=8, metavar="N", help="crops per network call")
    p.add_argument("--workers", type=non_negative_int_arg, default=None, metavar="N",
                   help="CSV: " + WORKERS_HELP)  # fmt: skip
    return p


def run_calibrate(args: argparse.Namespace) -> int:
    from ..tagging.calibration import calibrate

    with contextlib.redirect_stdout(sys.stderr):  # a store ignores the tagging options (CSV only)
        thresholds = calibrate(args.labels, args.out, args.model, split=args.split, batch_size=args.batch_size,
                               crops=args.crops, faithful=args.faithful, workers=args.workers)  # fmt: skip
    for t, v in sorted(thresholds.items(), key=lambda kv: -kv[1]["f1"]):
        print(f"{t:<20} threshold {v['threshold']:.4f}  F1 {v['f1']:.3f}  positives {v['support']}", file=sys.stderr)
    print(args.out)
    return 0
