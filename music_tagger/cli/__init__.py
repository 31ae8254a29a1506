"""The ``music-tagger`` command line (also ``python -m music_tagger``).

Usage::

    music-tagger tag song.mp3 other.wav some/folder/ --top 10
    music-tagger tag --examples --faithful --format json

Each subcommand is a pair of functions registered in :data:`SUBCOMMANDS`:

* ``add_<name>_parser(subparsers)`` adds its ``argparse`` sub-parser (with help for
  every option) and returns it;
* ``run_<name>(args)`` does the work and returns the exit status.

The pairs live in one module per command group: :mod:`.tag` (tag, plot, calibrate),
:mod:`.train` (synth, prepare, convert-store, train, finetune), :mod:`.transfer`
(features, probe, teach, evaluate), :mod:`.experiment` (experiment, figures) and
:mod:`.deploy` (export), :mod:`.library` (write, playlist) and :mod:`.serve` (serve); what they
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
from . import deploy, experiment, library, serve, tag, train, transfer
from .common import PROG, print_error, print_warning

# --------------------------------------------------------------------------- registry

#: Every subcommand as ``(add_parser, run)``: ``add_parser(subparsers)`` adds and
#: returns its sub-parser, ``run(args)`` returns the exit status. Append new ones here.
SUBCOMMANDS: list[tuple[Callable, Callable[[argparse.Namespace], int]]] = [
    (tag.add_tag_parser, tag.run_tag),
    (tag.add_plot_parser, tag.run_plot),
    (tag.add_calibrate_parser, tag.run_calibrate),
    (train.add_synth_parser, train.run_synth),
    (train.add_prepare_parser, train.run_prepare),
    (train.add_convert_store_parser, train.run_convert_store),
    (train.add_train_parser, train.run_train),
    (transfer.add_evaluate_parser, transfer.run_evaluate),
    (train.add_finetune_parser, train.run_finetune),
    (transfer.add_features_parser, transfer.run_features),
    (transfer.add_probe_parser, transfer.run_probe),
    (transfer.add_teach_parser, transfer.run_teach),
    (experiment.add_experiment_parser, experiment.run_experiment),
    (experiment.add_figures_parser, experiment.run_figures),
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
