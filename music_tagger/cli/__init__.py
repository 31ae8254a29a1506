"""The ``music-tagger`` command line (also ``python -m music_tagger``).

Usage::

    music-tagger tag song.mp3 other.wav some/folder/ --top 10
    music-tagger tag --examples --faithful --format json

Each subcommand is a pair of functions registered in :data:`SUBCOMMANDS`:

* ``add_<name>_parser(subparsers)`` adds its ``argparse`` sub-parser (with help for
  every option) and returns it;
* ``run_<name>(args)`` does the work and returns the exit status.

The pairs live in one module per command group, named after the subpackage whose
work its commands call: :mod:`.tagging` (tag, plot, calibrate), :mod:`.datasets`
(synth, prepare, convert-store), :mod:`.training` (train, finetune, evaluate,
experiment, figures), :mod:`.embeddings` (features, probe, teach), :mod:`.deploy`
(export), :mod:`.library` (write, playlist) and :mod:`.serve` (serve); what they
share is in :mod:`.common`. To add a subcommand, write the two functions in its group
and append the pair to :data:`SUBCOMMANDS`; nothing else needs to change. Heavy
imports (TensorFlow, librosa) belong inside ``run_<name>`` so that ``--help`` stays
fast.

Exit status: 0 success; 1 when something failed at run time (for ``tag``: any
file that could not be tagged; the others are still tagged and printed); 2 for a
usage error (bad option, missing argument); 130 on Ctrl-C, 143 on SIGTERM (both
stop the worker processes first; after a SIGKILL they end by themselves). An error the package
raises on purpose (:class:`music_tagger.errors.MusicTaggerError`) is printed as one
line; anything else is a bug and shows its traceback (``--debug`` shows the
traceback of every error). Machine-readable output
(``--format json/csv``) is the only thing written to stdout; errors, warnings,
progress bars and TensorFlow's logging go to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Callable, Sequence

from ..errors import MusicTaggerError, UsageError
from ..util.workers import Terminated, exit_on_sigterm
from . import datasets, deploy, embeddings, library, serve, tagging, training
from .common import PROG, print_error, print_warning

# --------------------------------------------------------------------------- registry

#: Every subcommand as ``(add_parser, run)``: ``add_parser(subparsers)`` adds and
#: returns its sub-parser, ``run(args)`` returns the exit status. Append new ones here.
SUBCOMMANDS: list[tuple[Callable, Callable[[argparse.Namespace], int]]] = [
    (tagging.add_tag_parser, tagging.run_tag),
    (tagging.add_plot_parser, tagging.run_plot),
    (tagging.add_calibrate_parser, tagging.run_calibrate),
    (datasets.add_synth_parser, datasets.run_synth),
    (datasets.add_prepare_parser, datasets.run_prepare),
    (datasets.add_convert_store_parser, datasets.run_convert_store),
    (training.add_train_parser, training.run_train),
    (training.add_finetune_parser, training.run_finetune),
    (training.add_evaluate_parser, training.run_evaluate),
    (training.add_experiment_parser, training.run_experiment),
    (training.add_figures_parser, training.run_figures),
    (embeddings.add_features_parser, embeddings.run_features),
    (embeddings.add_probe_parser, embeddings.run_probe),
    (embeddings.add_teach_parser, embeddings.run_teach),
    (deploy.add_export_parser, deploy.run_export),
    (library.add_write_parser, library.run_write),
    (library.add_playlist_parser, library.run_playlist),
    (serve.add_serve_parser, serve.run_serve),
]


def build_parser() -> argparse.ArgumentParser:
    """The ``music-tagger`` parser with every subcommand of :data:`SUBCOMMANDS`."""
    from .. import __version__

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
        # SIGTERM unwinds, so that worker processes are stopped; each warning is one line
        with exit_on_sigterm(), warnings.catch_warnings():
            warnings.showwarning = print_warning
            return int(args._run(args))
    except Terminated:
        print("terminated", file=sys.stderr)
        return 143  # 128 + SIGTERM, as a process killed by the signal
    except UsageError as err:
        if debug:
            raise
        args._parser.print_usage(sys.stderr)
        print(f"{args._parser.prog}: error: {err}", file=sys.stderr)
        return 2
    except MusicTaggerError as err:  # a missing file, a run that exists, a bad value...
        if debug:
            raise
        print_error(str(err))
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
