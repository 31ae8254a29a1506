"""Reading and writing named text fields in each audio format's own metadata, with mutagen.

One field name (``MUSIC_TAGGER_TAGS``, ``GENRE``...) goes where each format keeps text:

==========================  ===============================================================
format                      where a field ``NAME`` goes
==========================  ===============================================================
MP3, WAV, AIFF (ID3)        a ``TXXX`` frame described ``NAME``; ``GENRE`` is ``TCON``.
                            An MP3's ID3v2.3 stays 2.3, an ID3v1 tag keeps its bytes,
                            an APEv2 tag is left as it is
OGG Vorbis, Opus, FLAC      the Vorbis comment ``NAME``
M4A / MP4                   the freeform atom ``----:com.apple.iTunes:NAME``; ``GENRE`` is
                            ``©gen``
==========================  ===============================================================

Every field holds one text value. :func:`open_audio` opens a file with mutagen and
turns every way it can fail (not audio, a damaged tag block, a format mutagen cannot
tag) into one :class:`~music_tagger.errors.AudioError` line.

Examples
--------
>>> from music_tagger.library.formats import get_field, open_audio, save_audio, set_field
>>> f = open_audio("song.flac")                      # doctest: +SKIP
>>> set_field(f, "MUSIC_TAGGER_TAGS", "jazz; instrumental"); save_audio(f)   # doctest: +SKIP
>>> get_field(open_audio("song.flac"), "MUSIC_TAGGER_TAGS")                   # doctest: +SKIP
'jazz; instrumental'
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import AudioError

__all__ = [
    "FORMAT_NAMES",
    "SUFFIXES",
    "check_whole",
    "format_name",
    "get_field",
    "open_audio",
    "remove_field",
    "save_audio",
    "set_field",
    "show_path",
]

#: The formats written, by mutagen class name.
FORMAT_NAMES = {
    "MP3": "MP3", "EasyMP3": "MP3", "WAVE": "WAV", "AIFF": "AIFF",
    "OggVorbis": "OGG Vorbis", "OggOpus": "Opus", "FLAC": "FLAC", "MP4": "M4A",
}  # fmt: skip
#: File name suffixes of the formats written (what ``write --remove FOLDER`` looks at).
SUFFIXES = (".mp3", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".mp4", ".wav", ".aif", ".aiff")
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
        raise AudioError(
            f"{show_path(path)}: {type(audio).__name__} files are not written (MP3, OGG, Opus, FLAC, M4A, WAV, AIFF are)"
        )
    if audio.tags is None:
        audio.add_tags()
    return audio


def _reason(err: Exception) -> str:
    text = " ".join(str(err).split())
    return "damaged or truncated" if text in ("", "error") else text


#: kbit/s of MPEG-1 and of MPEG-2/2.5 Layer III, by the header's bitrate index.
_L3_KBPS = {1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
            2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)}  # fmt: skip
_RATES = (44100, 48000, 32000)


def _mp3_audio_span(data: bytes) -> tuple[int, int]:
    """Where an MP3's frames lie: after its ID3v2 tag, before its APEv2 and ID3v1 tags."""
    start = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        size = sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(data[6:10]))  # syncsafe
        start = 10 + size + (10 if data[5] & 0x10 else 0)
    end = len(data)
    if data[end - 128 : end - 125] == b"TAG":
        end -= 128
    if end >= 32 and data[end - 32 : end - 24] == b"APETAGEX":
        size = int.from_bytes(data[end - 20 : end - 16], "little")
        has_header = data[end - 9] & 0x80
        end -= size + (32 if has_header else 0)
    return start, end


def check_whole(path: str | os.PathLike, audio: Any) -> None:
    """Refuse an MP3 whose last Layer III frame is cut short (a truncated download, say).

    The frames are walked from the first one; a walk that meets something that is
    not a frame header stops without judging (some files carry junk). A file cut
    exactly at a frame's end cannot be told from a whole one.

    Raises
    ------
    AudioError
        The last frame runs past the end of the audio data.
    """
    if format_name(audio) != "MP3":
        return
    with open(path, "rb") as f:
        data = f.read()
    pos, end = _mp3_audio_span(data)
    while pos + 4 <= end:
        h = int.from_bytes(data[pos : pos + 4], "big")
        version, layer = (h >> 19) & 3, (h >> 17) & 3
        bitrate, rate = (h >> 12) & 15, (h >> 10) & 3
        if h >> 21 != 0x7FF or version == 1 or layer != 1 or bitrate in (0, 15) or rate == 3:
            if pos == _mp3_audio_span(data)[0]:  # junk before the first frame: find it
                nxt = data.find(b"\xff", pos + 1, end)
                if nxt < 0:
                    return
                pos = nxt
                continue
            return
        mpeg1 = version == 3
        hz = _RATES[rate] // (1 if mpeg1 else 2 if version == 2 else 4)
        pos += (144000 if mpeg1 else 72000) * _L3_KBPS[1 if mpeg1 else 2][bitrate] // hz + ((h >> 9) & 1)
    if pos > end:
        raise AudioError(f"{show_path(path)}: truncated (its last MPEG frame is cut short); left untouched")


def show_path(path: str | os.PathLike) -> str:
    """``path`` on one line: newlines, NUL and bytes that are not UTF-8 escaped.

    Examples
    --------
    >>> show_path(b"a\\nb\\xff.mp3")
    'a\\\\nb\\\\xff.mp3'
    """
    text = os.fsdecode(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text.replace("\n", "\\n").replace("\r", "\\r").replace("\0", "\\0")


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


def _save_keeping_id3v1(audio: Any, version: int) -> None:
    """Save an MP3's ID3v2 tag; an ID3v1 tag at its end keeps its bytes (mutagen would
    rewrite it from the ID3v2 frames, losing what only it held)."""
    with open(audio.filename, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(f.tell() - 128, 0))
        tail = f.read()
    audio.save(v2_version=version, v1=1)  # v1=1: the ID3v1 tag stays where it is, none added
    if len(tail) == 128 and tail[:3] == b"TAG":
        with open(audio.filename, "r+b") as f:
            f.seek(-128, os.SEEK_END)
            if f.read(3) == b"TAG":
                f.seek(-128, os.SEEK_END)
                f.write(tail)


def save_audio(audio: Any) -> None:
    """Save an open file's tags in place, keeping its ID3 version (2.3 stays 2.3)."""
    fmt = format_name(audio)
    if fmt in _ID3:
        major, minor = audio.tags.version[:2]
        version = minor if major == 2 and minor in (3, 4) else 4
        if fmt == "MP3":
            _save_keeping_id3v1(audio, version)
        else:
            audio.save(v2_version=version)
    else:
        audio.save()
