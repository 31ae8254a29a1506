"""What the HTTP API reads from a request: checked query options, a capped upload.

Every check raises :class:`ApiError` with the status to answer and one line that
says what was expected; :mod:`music_tagger.serve.app` turns it into
``{"error": "..."}``. Validation reuses :mod:`music_tagger.util.checks`, so a bad
``top_n`` reads the same here as on the command line.

Examples
--------
>>> flag({"taggram": "true"}, "taggram")
True
>>> tag_filters([("tag", "jazz"), ("min", "0.3")], {"jazz": 0.2})
[('jazz', 0.3)]
"""

from __future__ import annotations

import asyncio
import math
import os
from typing import Any, AsyncIterator, Mapping, Sequence

from ..errors import MusicTaggerError
from ..util.checks import positive_float, positive_int

__all__ = ["ApiError", "drain", "flag", "number", "read_upload", "sniff_suffix", "tag_filters", "tag_options"]

#: Magic bytes of the formats a decoder recognises, and the suffix to give the file.
_MAGIC = [(b"RIFF", ".wav"), (b"fLaC", ".flac"), (b"OggS", ".ogg"), (b"ID3", ".mp3"), (b"FORM", ".aiff")]


#: Tag filters one request may combine.
MAX_FILTERS = 64
#: What one upload may ask: crops per file, and the finest taggram hop (s), so that
#: a file under the upload cap is tagged in minutes at worst, not hours.
MAX_CROPS, MIN_HOP = 64, 1.0


class ApiError(Exception):
    """An answer other than 200: ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _checked(check, value: Any, name: str) -> Any:
    try:
        return check(value, name)
    except MusicTaggerError as err:
        raise ApiError(400, str(err)) from None


def number(params: Mapping[str, str], name: str, kind: str, default: Any = None) -> Any:
    """The query parameter ``name`` as a positive int, positive float, a probability
    ("prob", in [0, 1]) or a non-negative int ("offset"); 400 when it is not one."""
    text = params.get(name)
    if text is None:
        return default
    try:
        value = float(text) if kind in ("float", "prob") else int(text)
    except ValueError:
        raise ApiError(400, f"{name} must be a number, got {text[:40]!r}") from None
    if kind == "prob":
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ApiError(400, f"{name} must be a score in [0, 1], got {text[:40]!r}")
        return value
    if abs(value) > 2**53:  # beyond what an index or a crop count can mean
        raise ApiError(400, f"{name} is too large: {text[:40]}")
    if kind == "offset":
        if value < 0:
            raise ApiError(400, f"{name} must be 0 or more, got {value}")
        return value
    return _checked(positive_float if kind == "float" else positive_int, value, name)


def flag(params: Mapping[str, str], name: str) -> bool:
    """A boolean query parameter: true/1/yes or false/0/no (absent: False)."""
    text = params.get(name, "false").lower()
    if text not in ("true", "1", "yes", "false", "0", "no", ""):
        raise ApiError(400, f"{name} must be true or false, got {text[:40]!r}")
    return text in ("true", "1", "yes")


def tag_options(params: Mapping[str, str]) -> dict[str, Any]:
    """Keyword arguments of :func:`music_tagger.tagging.iter_tag` from the query of ``POST /v1/tag``."""
    options = {
        "top_n": number(params, "top_n", "int", 10),
        "crops": number(params, "crops", "int"),
        "faithful": flag(params, "faithful"),
        "taggram": flag(params, "taggram"),
        "hop": number(params, "hop", "float"),
    }
    if options["crops"] is not None and options["crops"] > MAX_CROPS:
        raise ApiError(400, f"crops must be at most {MAX_CROPS} here, got {options['crops']}")
    if options["hop"] is not None and options["hop"] < MIN_HOP:
        raise ApiError(400, f"hop must be at least {MIN_HOP:g} s here, got {options['hop']:g}")
    from ..tagging.tagger import prepare_run

    try:  # the combination rules of tag(), checked before the body is read
        prepare_run("crnn", options["top_n"], options["crops"], options["faithful"], 8, resampler=None,
                    tags=None, taggram=options["taggram"], hop=options["hop"], thresholds=None)  # fmt: skip
    except MusicTaggerError as err:
        raise ApiError(400, str(err)) from None
    return options


def tag_filters(pairs: Sequence[tuple[str, str]], default: Mapping[str, float]) -> list[tuple[str, float]]:
    """``tag=...`` each followed by its ``min=...``, in order; a tag without one uses
    ``default[tag]``. 400 for an unknown tag, a ``min`` that follows no tag, too many.

    Examples
    --------
    >>> tag_filters([("tag", "jazz"), ("tag", "rock"), ("min", "0.5")], {"jazz": 0.2, "rock": 0.2})
    [('jazz', 0.2), ('rock', 0.5)]
    """
    filters: list[list] = []
    for key, value in pairs:
        if key == "tag":
            if value not in default:
                raise ApiError(400, f"unknown tag {value[:60]!r}")
            filters.append([value, None])
        elif key == "min":
            if not filters or filters[-1][1] is not None:
                raise ApiError(400, "each min follows its tag: tag=jazz&min=0.3")
            filters[-1][1] = number({"min": value}, "min", "prob")
        if len(filters) > MAX_FILTERS:
            raise ApiError(400, f"at most {MAX_FILTERS} tag filters")
    return [(name, default[name] if low is None else low) for name, low in filters]


def sniff_suffix(head: bytes) -> str:
    """The file suffix of audio starting with ``head`` (``.mp3`` for MPEG frames and
    anything unknown: the decoders then say it is not audio).

    Examples
    --------
    >>> sniff_suffix(b"fLaC...")
    '.flac'
    """
    for magic, suffix in _MAGIC:
        if head.startswith(magic):
            return suffix
    return ".mp3"


#: What is still read of a body over the cap before the 413 (then the connection
#: closes): a client that is still sending gets the answer instead of a reset.
LINGER_BYTES, LINGER_SECONDS = 16 * 2**20, 2.0


async def drain(chunks: AsyncIterator[bytes]) -> None:
    """Read and drop the rest of a body, up to :data:`LINGER_BYTES` or :data:`LINGER_SECONDS`."""

    async def read() -> None:
        seen = 0
        async for chunk in chunks:
            seen += len(chunk)
            if seen > LINGER_BYTES:
                return

    from starlette.requests import ClientDisconnect

    try:
        await asyncio.wait_for(read(), LINGER_SECONDS)
    except (asyncio.TimeoutError, OSError, ClientDisconnect):
        pass


async def read_upload(chunks: AsyncIterator[bytes], folder: str, *, cap: int, timeout: float) -> str:
    """Write a request body to a file in ``folder``, at most ``cap`` bytes, within
    ``timeout`` seconds; its path. 413 over the cap, 408 too slow, 400 empty or
    the client gone."""
    path = os.path.join(folder, "upload")
    size = 0

    async def copy() -> None:
        nonlocal size
        with open(path, "wb") as f:
            async for chunk in chunks:
                size += len(chunk)
                if size > cap:
                    await drain(chunks)
                    raise ApiError(413, f"the audio is over the upload cap of {cap} bytes")
                f.write(chunk)

    from starlette.requests import ClientDisconnect

    try:
        await asyncio.wait_for(copy(), timeout)
    except asyncio.TimeoutError:
        raise ApiError(408, f"the upload took over {timeout:g} s") from None
    except ClientDisconnect:  # a closed tab or a killed curl: no traceback in the server's log
        raise ApiError(400, "the client went away before the upload ended") from None
    if size == 0:
        raise ApiError(400, "the request body is empty: send the audio file as the body")
    with open(path, "rb") as f:
        final = path + sniff_suffix(f.read(16))
    os.replace(path, final)
    return final
