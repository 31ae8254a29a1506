"""MP3 files without decoding them: frame headers, the ID3v2 tag, gapless headers,
the exact decoded length, and where libsndfile's reads fall on frame boundaries.

Examples
--------
>>> from music_tagger.audio.mp3 import parse_frame_header
>>> parse_frame_header(bytes([0xFF, 0xFB, 0x90, 0x64]))["length"]
417
"""

from __future__ import annotations

import os
from typing import Union

PathLike = Union[str, "os.PathLike[str]"]

MP3_DECODER_DELAY = 529
"""Samples by which the 2016 MP3 decoder's output led today's libsndfile/mpg123 decode."""

_MPEG_BITRATES = {  # kbit/s, index 1..14; keys (mpeg1, layer)
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def parse_frame_header(h: bytes) -> dict | None:
    """Decode a 4-byte MPEG audio frame header, or None if it is not a valid one."""
    if len(h) < 4 or h[0] != 0xFF or (h[1] & 0xE0) != 0xE0:
        return None
    version = (h[1] >> 3) & 3  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5, 1: reserved
    layer = 4 - ((h[1] >> 1) & 3)  # 4 means reserved
    bitrate_index = h[2] >> 4
    rate_index = (h[2] >> 2) & 3
    if version == 1 or layer == 4 or bitrate_index in (0, 15) or rate_index == 3:
        return None  # free-format (bitrate 0) frames are not followed: too rare
    mpeg1 = version == 3
    bitrate = _MPEG_BITRATES[(mpeg1, layer)][bitrate_index - 1] * 1000
    rate = _MPEG_RATES[version][rate_index]
    padding = (h[2] >> 1) & 1
    if layer == 1:
        length = (12 * bitrate // rate + padding) * 4
    else:
        per_frame = 144 if (layer == 2 or mpeg1) else 72
        length = per_frame * bitrate // rate + padding
    return {"mpeg1": mpeg1, "layer": layer, "mono": (h[3] >> 6) == 3, "length": length}


def id3v2_end(data: bytes) -> int:
    """Offset just past a leading ID3v2 tag (0 if there is none)."""
    if len(data) >= 10 and data[:3] == b"ID3" and all(b < 0x80 for b in data[6:10]):
        size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
        footer = 10 if data[5] & 0x10 else 0
        return 10 + size + footer
    return 0


def first_frame(data: bytes, start: int) -> tuple[int, dict] | None:
    """The first MPEG frame header at or after ``start`` that is followed by another."""
    i = data.find(b"\xff", start)
    while 0 <= i < len(data) - 4:
        info = parse_frame_header(data[i : i + 4])
        if info is not None:
            nxt = i + info["length"]
            # a real frame is followed by another frame header (or the end of the data)
            if nxt + 4 > len(data) or parse_frame_header(data[nxt : nxt + 4]) is not None:
                return i, info
        i = data.find(b"\xff", i + 1)
    return None


def mp3_has_gapless_header(path: PathLike, *, max_scan: int = 1 << 20) -> bool:
    """Whether an MP3 file's first frame carries a Xing/Info (LAME) or VBRI header.

    Decoders that see such a header (libsndfile's mpg123 among them) trim the
    encoder and decoder delay, so no 2016 decoder-delay correction is applied
    to such files (its effect on them is unknown; none is assumed).

    The parser skips a leading ID3v2 tag (syncsafe size) and anything else up to
    the first valid MPEG audio frame header that is followed by a second one,
    then looks for ``Xing``/``Info`` right after the side information (whose
    length depends on the MPEG version and channel mode) and ``VBRI`` at byte 36.

    Parameters
    ----------
    path : str or os.PathLike
        The MP3 file.
    max_scan : int
        How many bytes after the ID3v2 tag to search for the first frame.

    Returns
    -------
    bool
        True if a gapless/VBR info header is present, False otherwise (also when
        no MPEG frame is found).

    Examples
    --------
    >>> from music_tagger import audio
    >>> audio.mp3_has_gapless_header("bensound-cute.mp3")   # doctest: +SKIP
    False
    """
    with open(path, "rb") as f:
        head = f.read(10)
        start = id3v2_end(head)
        f.seek(start)
        data = f.read(max_scan)
    found = first_frame(data, 0)
    if found is None:
        return False
    i, info = found
    if info["mpeg1"]:
        side = 17 if info["mono"] else 32
    else:
        side = 9 if info["mono"] else 17
    xing = i + 4 + side
    if data[xing : xing + 4] in (b"Xing", b"Info"):
        return True
    return data[i + 36 : i + 40] == b"VBRI"


def count_samples(path: PathLike) -> int | None:
    """Decoded length of an MP3 without a gapless header: frames x samples per frame.

    Without a Xing/Info/VBRI header libsndfile's mpg123 decodes every frame, so
    the length is the number of MPEG frames times 1152 (MPEG-1 layer II/III), 576
    (MPEG-2/2.5 layer III) or 384 (layer I). Returns None when the frame chain is
    broken anywhere (junk between frames, a truncated frame): the caller then
    decodes the whole file instead of trusting a count.
    """
    with open(path, "rb") as f:
        data = f.read()
    found = first_frame(data, id3v2_end(data[:10]))
    if found is None:
        return None
    i, info = found
    samples = 0
    while i + 4 <= len(data):
        info = parse_frame_header(data[i : i + 4])
        if info is None:
            break
        if i + info["length"] > len(data):
            return None  # truncated last frame: mpg123's handling is not modelled
        if info["layer"] == 1:
            samples += 384
        elif info["layer"] == 2 or info["mpeg1"]:
            samples += 1152
        else:
            samples += 576
        i += info["length"]
    rest = data[i:]
    # only an ID3v1 tag (and an APE/Lyrics tag before it is not handled) may follow
    if rest and not (len(rest) == 128 and rest.startswith(b"TAG")):
        return None
    return samples


def first_block(path: str) -> int | None:
    """Frames of the first read that puts every later read on an MPEG frame boundary.

    libsndfile's MP3 decode gives different last float bits when reads end
    inside an MPEG frame (measured: up to 1.8e-7 from there on), so a
    sequential decode must cut where a whole-file read does. An MPEG-1 file
    without a gapless header starts on a frame (0); with a LAME header the
    decoder drops the encoder delay of the LAME tag plus 529 samples first.
    None when that is not known (MPEG-2/2.5, a gapless header without a LAME
    tag): the caller then decodes up to the last window's end in one read.
    """
    with open(path, "rb") as fh:
        head = fh.read(10)
        fh.seek(id3v2_end(head))
        data = fh.read(1 << 16)
    found = first_frame(data, 0)
    if found is None or not found[1]["mpeg1"] or found[1]["layer"] != 3:
        return None
    i, info = found
    if not mp3_has_gapless_header(path):
        return 0
    lame = data.find(b"LAME", i, i + info["length"])
    if lame < 0:
        return None
    k = lame + 21  # 12-bit encoder delay, 12-bit padding
    delay = (data[k] << 4) | (data[k + 1] >> 4)
    return -(delay + MP3_DECODER_DELAY) % 1152
