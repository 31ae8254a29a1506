"""``music-tagger serve``: tag a library in the background, serve it over HTTP and a page."""

import argparse
import sys

from .common import (
    HelpFormatter,
    _number_arg,
    non_negative_int_arg,
    positive_float_arg,
    positive_int_arg,
)

#: Hosts that only this machine can reach: any other is warned about.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def port_arg(text: str) -> int:
    return _number_arg(text, int, lambda v: 0 <= v <= 65535, "a port from 0 to 65535")


def add_serve_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "serve",
        help="serve a music library: an HTTP API and a web page to filter, play and tag",
        description=(
            "Tag the audio files under LIBRARY folders in the background (onnx runtime, no "
            "TensorFlow; a restart tags only new and changed files) and serve them: a web "
            "page at http://HOST:PORT/ to filter the library by tags, search, play a track "
            "with its taggram, and tag a dropped file; the API under /v1 (its OpenAPI "
            "document at /v1/openapi.json). Needs music_tagger[serve]. Docs: docs/serve.md."
        ),
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "library", nargs="*", metavar="LIBRARY", help="music folders to tag and serve (none: only POST /v1/tag)"
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on; another than this machine's is warned about"
    )
    p.add_argument("--port", type=port_arg, default=8000, help="port (0: a free one, printed)")
    p.add_argument("--index", metavar="PATH", help="the SQLite index (records beside it, PATH.records.jsonl); "
                   "default: in ~/.keras/music_tagger/serve/, one per set of folders")  # fmt: skip
    p.add_argument(
        "--workers", type=non_negative_int_arg, default=1, help="processes reading audio for the background job"
    )
    p.add_argument(
        "--hop",
        type=positive_float_arg,
        default=None,
        metavar="SECONDS",
        help="seconds between the taggram crops of library tracks (default: 15, music_tagger.serve.library.LIBRARY_HOP)",
    )
    p.add_argument(
        "--thresholds",
        metavar="FILE",
        help="calibrated thresholds (music-tagger calibrate): the page's filters start at them",
    )
    p.add_argument(
        "--upload-cap", type=positive_int_arg, default=64, metavar="MB", help="largest file POST /v1/tag accepts, in MB"
    )
    p.add_argument(
        "--tag-slots", type=positive_int_arg, default=1, help="uploads tagged at once beside the background job"
    )
    return p


def run_serve(args: argparse.Namespace) -> int:
    import os
    import tempfile

    from ..errors import UsageError

    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError:
        raise UsageError('music-tagger serve needs the serve extra: pip install "music_tagger[serve]"') from None
    from ..runtime.sessions import check_onnxruntime
    from ..serve.app import create_app
    from ..serve.library import Library

    check_onnxruntime()
    if not args.library and args.index is None:
        args.index = os.path.join(tempfile.mkdtemp(prefix="music-tagger-serve-"), "index.sqlite")
    library = Library(args.library, args.index, workers=args.workers, hop=args.hop)
    app = create_app(library, thresholds=args.thresholds, upload_cap=args.upload_cap * 2**20, tag_slots=args.tag_slots)
    if args.host not in LOOPBACK:
        print(f"warning: listening on {args.host}: anyone who reaches it can read the library's audio "
              "and use the cores (docs/serve.md says what is safe to expose)", file=sys.stderr)  # fmt: skip
    sock = _listen(args.host, args.port)
    config = uvicorn.Config(app, log_level="warning", timeout_keep_alive=5, limit_concurrency=256)
    host, port = sock.getsockname()[:2]
    print(f"index: {library.index_path}", file=sys.stderr)
    print(f"serving on http://{f'[{host}]' if ':' in host else host}:{port}/", file=sys.stderr, flush=True)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def _listen(host: str, port: int):
    """A socket listening on ``host:port`` (connections wait in its backlog until the
    server accepts them), or a one-line error."""
    import socket

    from ..errors import ParameterError

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as err:
        raise ParameterError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    return sock
