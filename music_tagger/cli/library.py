"""``music-tagger write`` and ``playlist``: tags into the files' own metadata, and playlists."""

import argparse
import os
import sys

from ..errors import MissingFileError, UsageError
from ..vocabulary import PRETRAINED, RUNTIMES
from .common import WORKERS_HELP, HelpFormatter, non_negative_int_arg, positive_int_arg, print_error, probability_arg

#: Suffixes of a records file (anything else is audio, or a folder of it).
RECORD_SUFFIXES = (".jsonl", ".json", ".csv")


def _needs_mutagen() -> None:
    try:
        import mutagen  # noqa: F401  (only to say at once when it is missing)
    except ImportError:
        raise UsageError('writing tags and playlists need mutagen: pip install "music_tagger[library]"') from None


def add_write_parser(subparsers) -> argparse.ArgumentParser:
    from ..library.fields import DEFAULT_FIELDS, DEFAULT_MIN_SCORE, FIELDS

    p = subparsers.add_parser(
        "write",
        help="write the tags into the audio files' own metadata (or remove them)",
        description=(
            "Write each file's tags into its own metadata with mutagen: ID3 TXXX frames "
            "(MP3, WAV, AIFF), Vorbis comments (OGG, Opus, FLAC), MP4 freeform atoms "
            "(M4A). The tags come from records of 'music-tagger tag --output FILE.jsonl' "
            "(written only if the file's size and modification time are the recorded "
            "ones), or from tagging the given files and folders now. Each file is "
            "replaced atomically (a copy written beside it, fsynced, renamed over it, "
            "mode, owner and modification time kept), its audio bytes untouched, its "
            "other tags kept; a file that cannot be written gets one line on stderr "
            "and stays as it was. See docs/library.md."
        ),
        epilog="Exit status: 0 when every file was written (or had nothing to change), "
        "1 when any was skipped, 2 for a usage error.",
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "sources", nargs="+", metavar="RECORDS_OR_AUDIO",
        help="records files (.jsonl, .json, .csv of music-tagger tag), or audio files "
        "and folders to tag now",
    )  # fmt: skip
    p.add_argument(
        "--fields", nargs="+", choices=FIELDS, default=list(DEFAULT_FIELDS), metavar="FIELD",
        help=f"what to write ({', '.join(FIELDS)}): tags = MUSIC_TAGGER_TAGS, model = "
        "MUSIC_TAGGER_MODEL, scores = MUSIC_TAGGER_SCORES; genre and mood write GENRE "
        "and MOOD through the --map table, only where the file has none of its own",
    )  # fmt: skip
    p.add_argument(
        "--min", type=probability_arg, default=None, metavar="SCORE", dest="min_score",
        help="a file has the tags scoring at least SCORE (default: the record's "
        f"thresholds, else {DEFAULT_MIN_SCORE})",
    )  # fmt: skip
    p.add_argument(
        "--map", default=None, metavar="FILE",
        help='a JSON table {"genre": {tag: genre}, "mood": {tag: mood}} replacing the '
        "default one (docs/library.md)",
    )  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    p.add_argument(
        "--remove", action="store_true",
        help="remove exactly what the package wrote (its MUSIC_TAGGER_* fields, and GENRE "
        "and MOOD while they hold what it wrote); no tagging",
    )  # fmt: skip
    p.add_argument(
        "--force", action="store_true",
        help="write also files changed since they were tagged, or whose records hold no "
        "size and modification time (CSV, older records)",
    )  # fmt: skip
    p.add_argument(
        "--touch", action="store_true",
        help="give written files the current modification time (by default they keep "
        "theirs; a touched file no longer matches its record)",
    )  # fmt: skip
    p.add_argument(
        "--model", choices=PRETRAINED, default="crnn",
        help="the network that tags (audio given) or tagged (records)",
    )  # fmt: skip
    p.add_argument(
        "--runtime", choices=RUNTIMES, default=None,
        help="audio given: what runs the network (as for tag)",
    )  # fmt: skip
    p.add_argument("--crops", type=positive_int_arg, default=None, metavar="N",
                   help="audio given: crops per file (as for tag)")  # fmt: skip
    p.add_argument("--workers", type=non_negative_int_arg, default=None, metavar="N",
                   help="audio given: " + WORKERS_HELP)  # fmt: skip
    return p


def _records(args: argparse.Namespace):
    """The records of the sources: read from records files, or made by tagging now."""
    from ..tagging.readback import read_records

    for source in args.sources:
        if os.path.isfile(source) and source.lower().endswith(RECORD_SUFFIXES):
            yield from read_records(source)
            continue
        if args.remove:  # every file of a format written, m4a included
            from ..library.writing import audio_files

            yield from ({"path": p} for p in audio_files(source))
            continue
        from ..audio.files import expand_paths

        yield from _tag_now(args, expand_paths([source]))


def _tag_now(args: argparse.Namespace, paths: list[str]):
    """Records of ``paths`` tagged now, each with the file's stamp from before tagging."""
    from ..library.writing import file_stamp
    from ..tagging.tagger import iter_tag

    stamps = {}
    for p in paths:
        try:
            stamps[p] = file_stamp(p)
        except OSError:
            stamps[p] = {}
    results = iter_tag(paths, model=args.model, top_n=None, crops=args.crops, workers=args.workers,
                       runtime=args.runtime, progress=False)  # fmt: skip
    try:
        for r in results:
            yield dict(r.to_dict(), **stamps[r.path])
    finally:
        results.close()


def run_write(args: argparse.Namespace) -> int:
    from ..library.fields import load_table
    from ..library.writing import write_tags
    from ..registry import TAGS

    _needs_mutagen()
    for source in args.sources:
        if not os.path.lexists(source):
            raise MissingFileError(f"no such file or folder: {source}")
    table = load_table(args.map, TAGS)
    skipped = 0
    outcomes = write_tags(
        _records(args), args.fields, model=args.model, min_score=args.min_score, table=table,
        remove=args.remove, force=args.force, dry_run=args.dry_run, keep_mtime=not args.touch,
    )  # fmt: skip
    for out in outcomes:
        if out.action == "skipped":
            skipped += 1
            print_error(out.line())
        else:
            print(out.line(), flush=True)
    return 0 if skipped == 0 else 1


def add_playlist_parser(subparsers) -> argparse.ArgumentParser:
    from ..library.fields import DEFAULT_MIN_SCORE

    p = subparsers.add_parser(
        "playlist",
        help="write an M3U8 playlist of the tagged files that have some tags",
        description=(
            "Select the records of tagged files that have every --tag and no --not tag "
            "(by the records' thresholds, or scores of at least --min) and write them as "
            "an extended M3U8 playlist (UTF-8, #EXTINF with the duration and title from "
            "the file's metadata), paths relative to the playlist's folder unless "
            "--absolute; or one playlist per tag with --per-tag."
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument("records", help="records of music-tagger tag (.jsonl, .json or .csv)")
    p.add_argument("--tag", action="append", default=None, metavar="TAG", dest="tags",
                   help="a tag each track must have (repeat for several)")  # fmt: skip
    p.add_argument("--not", action="append", default=None, metavar="TAG", dest="exclude",
                   help="a tag no track may have (repeat for several)")  # fmt: skip
    p.add_argument(
        "--min", type=probability_arg, default=None, metavar="SCORE", dest="min_score",
        help=f"a track has the tags scoring at least SCORE (default: the record's thresholds, else {DEFAULT_MIN_SCORE})",
    )  # fmt: skip
    p.add_argument("--limit", type=positive_int_arg, default=None, metavar="N", help="at most N tracks")
    p.add_argument("--sort", choices=("path", "score"), default="path",
                   help="score: by the mean score of the --tag tags, best first")  # fmt: skip
    p.add_argument("--absolute", action="store_true", help="absolute paths instead of relative ones")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--output", "-o", default=None, metavar="FILE", help="the playlist (.m3u8)")
    group.add_argument(
        "--per-tag", default=None, metavar="DIR",
        help="one playlist per tag, DIR/<tag>.m3u8: the --tag tags, else every tag some track has",
    )  # fmt: skip
    return p


def run_playlist(args: argparse.Namespace) -> int:
    from ..library.fields import record_tags
    from ..library.formats import show_path
    from ..library.playlists import select, write_playlist
    from ..registry import TAGS
    from ..tagging.readback import read_records
    from ..util.checks import writable_output

    _needs_mutagen()
    args.tags, args.exclude = args.tags or [], args.exclude or []
    unknown = sorted(set(args.tags + args.exclude) - set(TAGS))
    if unknown:
        raise UsageError(f"unknown tag {unknown[0]!r}: the tags are those of music_tagger.TAGS")
    if args.output is not None and not args.tags:
        raise UsageError("--output needs at least one --tag (or use --per-tag DIR)")
    if not os.path.isfile(args.records):
        raise MissingFileError(f"no records file at {args.records}")
    if args.output is not None:
        writable_output(args.output, "playlist")
    records = read_records(args.records)
    options = dict(exclude=args.exclude, min_score=args.min_score, limit=args.limit, sort=args.sort)
    if args.output is not None:
        chosen = select(records, args.tags, **options)
        print(f"{show_path(write_playlist(chosen, args.output, absolute=args.absolute))}: {len(chosen)} tracks")
        return 0
    writable_output(args.per_tag, "playlist folder", folder=True)
    os.makedirs(args.per_tag, exist_ok=True)
    ok = [r for r in records if r.get("error") is None]
    tags = args.tags or [t for t in TAGS if any(t in record_tags(r, args.min_score) for r in ok)]
    for t in tags:
        chosen = select(records, [t], **options)
        out = write_playlist(chosen, os.path.join(args.per_tag, f"{t}.m3u8"), absolute=args.absolute)
        print(f"{show_path(out)}: {len(chosen)} tracks")
    if not tags:
        print("no track has any tag: no playlist written", file=sys.stderr)
    return 0
