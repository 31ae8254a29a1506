"""Audio files in every format the tag writer handles, made with ffmpeg and mutagen, and
what must not change in them: decoded samples, audio frame bytes, other tags."""

from __future__ import annotations

import hashlib
import io
import subprocess
from pathlib import Path

import mutagen
from mutagen import apev2, id3, mp4
from mutagen.flac import FLAC, Picture
from mutagen.ogg import OggPage

#: name -> (suffix, ffmpeg options)
KINDS = {
    "mp3-v23": (".mp3", ["-c:a", "libmp3lame", "-id3v2_version", "3"]),
    "mp3-v24": (".mp3", ["-c:a", "libmp3lame", "-id3v2_version", "4"]),
    "mp3-v23-ape": (".mp3", ["-c:a", "libmp3lame", "-id3v2_version", "3"]),
    "mp3-v24-ape": (".mp3", ["-c:a", "libmp3lame", "-id3v2_version", "4"]),
    "ogg": (".ogg", ["-c:a", "libvorbis"]),
    "flac-picture": (".flac", ["-c:a", "flac"]),
    "opus": (".opus", ["-c:a", "libopus"]),
    "m4a": (".m4a", ["-c:a", "aac"]),
    "wav": (".wav", ["-c:a", "pcm_s16le"]),
    "aiff": (".aiff", ["-c:a", "pcm_s16be"]),
}


def make(folder: Path, kind: str, name: str | None = None, seconds: float = 1.0, freq: int = 440) -> Path:
    """One file of ``kind`` with tags of its own (title, artist, a comment, a genre...)."""
    suffix, options = KINDS[kind]
    path = folder / ((name or kind) + suffix)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency={freq}:duration={seconds}",
         "-ac", "1", "-ar", "44100" if kind != "opus" else "48000", *options, "-metadata", "title=Song",
         "-metadata", "artist=Someone", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    audio = mutagen.File(path)
    if audio.tags is None:
        audio.add_tags()
    if kind.startswith("mp3") or kind in ("wav", "aiff"):
        audio.tags.add(id3.COMM(encoding=3, lang="eng", desc="", text=["a comment"]))
        audio.tags.add(id3.TXXX(encoding=3, desc="OTHER_TOOL", text=["kept"]))
        audio.tags.add(id3.TCON(encoding=3, text=["Own Genre"]))
        audio.tags.add(id3.TIT2(encoding=3, text=["Song"]))
        audio.save(v2_version=3 if "v23" in kind else 4)
    elif kind == "m4a":
        audio.tags["\xa9cmt"] = ["a comment"]
        audio.tags["----:com.apple.iTunes:OTHER_TOOL"] = [mp4.MP4FreeForm(b"kept")]
        audio.save()
    else:
        audio.tags["COMMENT"] = ["a comment"]
        audio.tags["OTHER_TOOL"] = ["kept"]
        if kind == "flac-picture":
            pic = Picture()
            pic.type, pic.mime, pic.width, pic.height, pic.depth = 3, "image/png", 1, 1, 24
            pic.data = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
            audio.add_picture(pic)
        audio.save()
    if kind.endswith("-ape"):
        ape = apev2.APEv2()
        ape["Title"] = "Song (APE)"
        ape["Other"] = "kept"
        ape.save(path)
    if kind == "mp3-v24-ape":  # an ID3v1 tag too, with a comment the ID3v2 tag does not hold
        v1 = b"TAG" + b"Song".ljust(30, b"\0") + b"Someone".ljust(30, b"\0") + b"Album".ljust(30, b"\0")
        v1 += b"1999" + b"only in ID3v1".ljust(28, b"\0") + b"\0\x01" + bytes([8])
        with open(path, "ab") as f:
            f.write(v1)
    return path


def samples(path: Path) -> bytes:
    """The decoded samples (ffmpeg's decoder, 32-bit float), to compare bit for bit."""
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "f32le", "-"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout


def frames(path: Path) -> bytes:
    """The audio frames' bytes: MP3 frames, FLAC frames, Ogg audio packets (the others' samples)."""
    data = path.read_bytes()
    if path.suffix == ".mp3":
        try:
            start = id3.ID3(path).size  # the whole ID3v2 tag, padding included
        except id3.ID3NoHeaderError:
            start = 0
        end = len(data) - (128 if data[-128:-125] == b"TAG" else 0)
        ape = data.find(b"APETAGEX", start)  # an APEv2 tag's header
        return data[start : ape if ape >= 0 else end]
    if path.suffix == ".flac":
        pos = 4
        while True:
            last, size = data[pos] & 0x80, int.from_bytes(data[pos + 1 : pos + 4], "big")
            pos += 4 + size
            if last:
                return data[pos:]
    if path.suffix in (".ogg", ".opus"):
        f, pages = io.BytesIO(data), []
        while f.tell() < len(data):
            pages.append(OggPage(f))
        packets = OggPage.to_packets(pages)
        return b"".join(packets[3 if path.suffix == ".ogg" else 2 :])
    return samples(path)


def other_tags(path: Path, ours: set[str]) -> dict:
    """Every tag of the file but ``ours`` (field names as :mod:`music_tagger.library.formats`
    spells them), field by field, plus an MP3's APEv2 items, ID3 version and FLAC pictures."""
    audio = mutagen.File(path)
    out: dict = {}
    for key, value in (audio.tags or {}).items():
        name = key
        if key.startswith("TXXX:"):
            name = key[5:]
        elif key.startswith("----:com.apple.iTunes:"):
            name = key[len("----:com.apple.iTunes:") :]
        elif key in ("TCON", "\xa9gen"):
            name = "GENRE"
        if name.upper() in ours:
            continue
        out[key] = repr(value)
    if path.suffix in (".mp3", ".wav", ".aiff"):
        out["id3 version"] = audio.tags.version
    if path.suffix == ".mp3":
        tail = path.read_bytes()[-128:]
        out["id3v1"] = tail if tail[:3] == b"TAG" else None
        try:
            out["ape"] = {k: repr(v) for k, v in apev2.APEv2(path).items()}
        except apev2.APENoHeaderError:
            out["ape"] = None
    if isinstance(audio, FLAC):
        out["pictures"] = [(p.type, p.mime, p.data) for p in audio.pictures]
    return out


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
