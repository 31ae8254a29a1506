"""Playlists of tagged files: the records a tag filter selects, as extended M3U8.

:func:`select` picks the records whose file has every tag asked (by
:func:`~music_tagger.library.fields.record_tags`: the record's thresholds, or scores
of at least ``min_score``) and none of the excluded ones, sorted by path or by
score (the mean score of the tags asked, best first). :func:`write_playlist`
writes them as an extended M3U8 file (UTF-8)::

    #EXTM3U
    #EXTINF:187,Artist - Title
    ../music/a.flac

``#EXTINF`` carries the duration in whole seconds and the title (``Artist - Title``
when both are in the file's metadata, else the file name) as mutagen reads them
(-1 and the file name when it cannot). Paths are relative to the playlist's folder
(a player resolves them from there) unless ``absolute``; one that would start with
``#`` (a comment line) or a blank gets ``./`` before it. A path holding a newline
or NUL cannot be a playlist line: it is left out with one line on stderr. Tracks that
are not files here (records of another machine) are listed, with one line on stderr
saying how many. The playlist is
written atomically.

Examples
--------
>>> from music_tagger.library.playlists import select
>>> records = [{"path": "/m/a.mp3", "tags": [["jazz", 0.6]], "error": None},
...            {"path": "/m/b.mp3", "tags": [["rock", 0.7]], "error": None}]
>>> [r["path"] for r in select(records, ["jazz"])]
['/m/a.mp3']
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterable, Mapping, Sequence

from ..errors import ParameterError
from ..util.checks import positive_int, probability, writable_output
from ..util.files import atomic_path
from .fields import record_scores, record_tags
from .formats import show_path

__all__ = ["playlist_text", "select", "write_playlist"]


def _score(record: Mapping[str, Any], tags: Sequence[str]) -> float:
    scores = dict(record_scores(record))
    return sum(scores.get(t, 0.0) for t in tags) / max(len(tags), 1)


def select(
    records: Iterable[Mapping[str, Any]],
    tags: Sequence[str],
    *,
    exclude: Sequence[str] = (),
    min_score: float | None = None,
    limit: int | None = None,
    sort: str = "path",
) -> list[Mapping[str, Any]]:
    """The records (of tagged files) that have every tag of ``tags`` and none of ``exclude``.

    Parameters
    ----------
    records : iterable of mapping
        Tagging records; failed ones are left out, and a file tagged twice counts once
        (its last record).
    tags, exclude : sequence of str
    min_score : float, optional
        A tag counts when it scores at least this (default: the record's thresholds,
        else 0.2).
    limit : int, optional
        At most this many, after sorting.
    sort : {"path", "score"}
        By path, or by the mean score of ``tags``, best first (ties by path).
    """
    if sort not in ("path", "score"):
        raise ParameterError(f"sort must be 'path' or 'score', got {sort!r}")
    limit = positive_int(limit, "limit", allow_none=True)
    if min_score is not None:
        min_score = probability(min_score, "min_score")
    last = {r["path"]: r for r in records if r.get("error") is None}
    chosen = []
    for record in last.values():
        has = set(record_tags(record, min_score))
        if all(t in has for t in tags) and not any(t in has for t in exclude):
            chosen.append(record)
    chosen.sort(key=lambda r: r["path"])
    if sort == "score":
        chosen.sort(key=lambda r: -_score(r, tags))
    return chosen[:limit]


def _extinf(path: str) -> str:
    """``#EXTINF:<seconds>,<title>`` from the file's metadata."""
    import mutagen

    seconds, title = -1, os.path.splitext(os.path.basename(path))[0]
    try:
        audio = mutagen.File(path, easy=True)
    except (mutagen.MutagenError, OSError, ValueError, IndexError, KeyError, EOFError):
        audio = None
    if audio is not None:
        if getattr(audio, "info", None) is not None and getattr(audio.info, "length", None):
            seconds = round(audio.info.length)
        tags = audio.tags or {}
        name = (tags.get("title") or [None])[0] if hasattr(tags, "get") else None
        artist = (tags.get("artist") or [None])[0] if hasattr(tags, "get") else None
        if name:
            title = f"{artist} - {name}" if artist else str(name)
    return f"#EXTINF:{seconds},{' '.join(str(title).split())}"


def playlist_text(records: Iterable[Mapping[str, Any]], playlist: str | os.PathLike, *, absolute: bool = False) -> str:
    """The extended M3U8 text of ``records`` for a playlist file at ``playlist``."""
    folder = os.path.dirname(os.path.abspath(playlist))
    lines, missing = ["#EXTM3U"], []
    for record in records:
        path = os.path.abspath(record["path"])
        if "\n" in path or "\r" in path or "\0" in path:
            print(
                f"{show_path(path)}: a path with a newline or NUL cannot be a playlist line; left out", file=sys.stderr
            )
            continue
        if not os.path.isfile(path):
            missing.append(path)
        line = path if absolute else os.path.relpath(path, folder)
        if line.startswith(("#", " ", "\t")):  # a comment to a player, or blanks it strips
            line = os.path.join(os.curdir, line)
        lines += [_extinf(path), line]
    if missing:  # records of another machine, or files moved since: listed, and said once
        print(f"{len(missing)} of the tracks are not files here (the first: {show_path(missing[0])}): "
              "listed anyway; records of another machine?", file=sys.stderr)  # fmt: skip
    return "\n".join(lines) + "\n"


def write_playlist(records: Iterable[Mapping[str, Any]], playlist: str | os.PathLike, *, absolute: bool = False) -> str:
    """Write the extended M3U8 of ``records`` at ``playlist`` (atomically); return its path.

    Examples
    --------
    >>> from music_tagger.tagging.readback import read_records
    >>> write_playlist(select(read_records("tags.jsonl"), ["jazz"]), "jazz.m3u8")   # doctest: +SKIP
    'jazz.m3u8'
    """
    writable_output(playlist, "playlist")
    text = playlist_text(records, playlist, absolute=absolute)
    data = text.encode("utf-8", "surrogateescape")  # a path that is not UTF-8 stays the file's bytes
    with atomic_path(playlist) as tmp:
        tmp.write_bytes(data)
    return os.fspath(playlist)
