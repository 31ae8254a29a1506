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

    Examples
    --------
    >>> expand_paths("song.mp3")
    ['song.mp3']
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[str] = []
    for p in paths:
        name = os.fspath(p)
        if os.path.isdir(name):
            found = [
                str(f)
                for f in Path(name).rglob("*")
                if f.suffix.lower() in AUDIO_EXTENSIONS and f.is_file()
            ]
            out.extend(sorted(found) or [name])
        else:
            out.append(name)
    return out
