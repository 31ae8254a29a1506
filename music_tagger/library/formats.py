"""Reading and writing named text fields in each audio format's own metadata, with mutagen.

One field name (``MUSIC_TAGGER_TAGS``, ``GENRE``...) goes where each format keeps text:

==========================  ===============================================================
format                      where a field ``NAME`` goes
==========================  ===============================================================
MP3, WAV, AIFF (ID3)        a ``TXXX`` frame described ``NAME``; ``GENRE`` is ``TCON``.
                            An MP3's ID3v2.3 stays 2.3, an ID3v1 tag is updated as mutagen
                            does, an APEv2 tag is left as it is
OGG Vorbis, Opus, FLAC      the Vorbis comment ``NAME``
M4A / MP4                   the freeform atom ``----:com.apple.iTunes:NAME``; ``GENRE`` is
                            ``©gen``
==========================  ===============================================================

Every field holds one text value. :func:`open_audio` opens a file with mutagen and
turns every way it can fail (not audio, a damaged tag block, a format mutagen cannot
tag) into one :class:`~music_tagger.errors.AudioError` line.

Examples
--------
>>> from music_tagger.library.formats import open_audio, get_field, set_field
>>> f = open_audio("song.flac")                      # doctest: +SKIP
>>> set_field(f, "MUSIC_TAGGER_TAGS", "jazz; instrumental"); save_audio(f)   # doctest: +SKIP
>>> get_field(open_audio("song.flac"), "MUSIC_TAGGER_TAGS")                   # doctest: +SKIP
'jazz; instrumental'
"""
from __future__ import annotations

import os
from typing import Any

from ..errors import AudioError

__all__ = ["FORMAT_NAMES", "format_name", "get_field", "open_audio", "remove_field", "save_audio", "set_field", "show_path"]

#: The formats written, by mutagen class name.
FORMAT_NAMES = {
    "MP3": "MP3", "EasyMP3": "MP3", "WAVE": "WAV", "AIFF": "AIFF",
    "OggVorbis": "OGG Vorbis", "OggOpus": "Opus", "FLAC": "FLAC", "MP4": "M4A",
}  # fmt: skip
_ID3 = ("MP3", "WAV", "AIFF")
_MP4_FREEFORM = "----:com.apple.iTunes:"
#: Fields with a format's own frame or atom instead of a free one.
_ID3_NATIVE = {"GENRE": "TCON"}
_MP4_NATIVE = {"GENRE": "\xa9gen"}


def format_name(audio: Any) -> str:
    """The format of a mutagen file object, as :data:`FORMAT_NAMES` names it."""
    return FORMAT_NAMES[type(audio).__name__]


def open_audio(path: str | os.PathLike) -> Any:
    """Open ``path`` with mutagen, with a tag block ready to write.

    Raises
    ------
    AudioError
        The file is not audio mutagen knows, is of a format this module does not
        write, or its tag block is damaged (one line naming the file).
    """
    import mutagen

    try:
        audio = mutagen.File(path)
    except mutagen.MutagenError as err:
        raise AudioError(f"{show_path(path)}: cannot read its tags ({_reason(err)})") from None
    except (ValueError, IndexError, KeyError, EOFError) as err:  # mutagen on some damaged blocks
        raise AudioError(f"{show_path(path)}: damaged tag block ({type(err).__name__}: {err})") from None
    if audio is None:
        raise AudioError(f"{show_path(path)}: not an audio file mutagen knows")
    if type(audio).__name__ not in FORMAT_NAMES:
        raise AudioError(f"{show_path(path)}: {type(audio).__name__} files are not written (MP3, OGG, Opus, FLAC, M4A, WAV, AIFF are)")
    if audio.tags is None:
        audio.add_tags()
    return audio


def _reason(err: Exception) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def show_path(path: str | os.PathLike) -> str:
    """``path`` on one line: newlines and bytes that are not UTF-8 escaped.

    Examples
    --------
    >>> show_path(b"a\\nb\\xff.mp3")
    'a\\\\nb\\\\xff.mp3'
    """
    text = os.fsdecode(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text.replace("\n", "\\n").replace("\r", "\\r")


def get_field(audio: Any, name: str) -> str | None:
    """The value of the field ``name`` of an open file, or None.

    Examples
    --------
    >>> get_field(open_audio("song.mp3"), "GENRE")     # doctest: +SKIP
    'Jazz'
    """
    fmt, tags = format_name(audio), audio.tags
    if fmt in _ID3:
        frame = tags.get(_ID3_NATIVE.get(name, f"TXXX:{name}"))
        return None if frame is None else "/".join(map(str, frame.text))
    if fmt == "M4A":
        key = _MP4_NATIVE.get(name, _MP4_FREEFORM + name)
        values = tags.get(key)
        if not values:
            return None
        return "/".join(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values)
    values = tags.get(name)
    return None if not values else "/".join(values)


def set_field(audio: Any, name: str, value: str) -> None:
    """Set the field ``name`` of an open file to the one text ``value`` (not saved yet)."""
    from mutagen import id3, mp4

    fmt, tags = format_name(audio), audio.tags
    if fmt in _ID3:
        native = _ID3_NATIVE.get(name)
        if native is not None:
            tags.setall(native, [getattr(id3, native)(encoding=3, text=[value])])
        else:
            tags.setall(f"TXXX:{name}", [id3.TXXX(encoding=3, desc=name, text=[value])])
    elif fmt == "M4A":
        native = _MP4_NATIVE.get(name)
        if native is not None:
            tags[native] = [value]
        else:
            tags[_MP4_FREEFORM + name] = [mp4.MP4FreeForm(value.encode("utf-8"))]
    else:
        tags[name] = [value]


def remove_field(audio: Any, name: str) -> None:
    """Remove the field ``name`` of an open file, if it has one (not saved yet)."""
    fmt, tags = format_name(audio), audio.tags
    if fmt in _ID3:
        tags.delall(_ID3_NATIVE.get(name, f"TXXX:{name}"))
    else:
        key = _MP4_NATIVE.get(name, _MP4_FREEFORM + name) if fmt == "M4A" else name
        if key in tags:
            del tags[key]


def save_audio(audio: Any) -> None:
    """Save an open file's tags in place, keeping its ID3 version (2.3 stays 2.3)."""
    fmt = format_name(audio)
    if fmt in _ID3:
        major, minor = audio.tags.version[:2]
        version = minor if major == 2 and minor in (3, 4) else 4
        if fmt == "MP3":
            audio.save(v2_version=version, v1=1)  # v1=1: an ID3v1 tag is updated, none added
        else:
            audio.save(v2_version=version)
    else:
        audio.save()
