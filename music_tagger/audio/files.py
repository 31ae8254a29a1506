"""Which files are audio: the endings taken from folders, and folders expanded into files.

Examples
--------
>>> from music_tagger.audio.files import expand_paths
>>> expand_paths("song.mp3")
['song.mp3']"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Union

from ..errors import ParameterError

PathLike = Union[str, "os.PathLike[str]"]

#: File name endings taken when a folder is expanded (compared case-insensitively).
AUDIO_EXTENSIONS = (
    ".mp3", ".wav", ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff", ".au", ".snd",
)  # fmt: skip


def expand_paths(paths: PathLike | Iterable[PathLike]) -> list[str]:
    """Files to tag: each path as given, each folder replaced by its audio files.

    A folder is searched recursively for names ending in :data:`AUDIO_EXTENSIONS`
    (any case); its files are sorted. Paths that do not exist, and folders without
    audio files, are kept as they are, so that :func:`tag` reports them as errors.
    Duplicates are kept in order.

    Parameters
    ----------
    paths : path-like or iterable of path-like

    Returns
    -------
    list of str

    Raises
    ------
    ParameterError
        ``paths`` is neither a path nor an iterable of paths (a number, None, bytes).

    Examples
    --------
    >>> expand_paths("song.mp3")
    ['song.mp3']
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    elif isinstance(paths, (bytes, bytearray)) or not isinstance(paths, Iterable):
        raise ParameterError(f"paths must be a path or an iterable of paths, got {type(paths).__name__} {paths!r}")
    out: list[str] = []
    for p in paths:
        name = os.fspath(p) if isinstance(p, (str, os.PathLike)) else None
        if not isinstance(name, str):
            raise ParameterError(f"each path must be a str or os.PathLike, got {type(p).__name__} {p!r}")
        if os.path.isdir(name):
            found = [str(f) for f in Path(name).rglob("*") if f.suffix.lower() in AUDIO_EXTENSIONS and f.is_file()]
            out.extend(sorted(found) or [name])
        else:
            out.append(name)
    return out
