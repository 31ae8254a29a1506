"""Tags where the music lives: written into audio files, and playlists of tagged files.

=====================  ==========================================================
module                 what lives there
=====================  ==========================================================
:mod:`.fields`         which fields are written and their values; the genre table
:mod:`.formats`        one field in each format's metadata, with mutagen
:mod:`.writing`        :func:`write_tags`: atomic, locked, checked writes and removals
:mod:`.playlists`      :func:`select` and :func:`write_playlist`: extended M3U8
=====================  ==========================================================

Needs ``mutagen`` (``pip install "music_tagger[library]"``). The beets plugin that
uses the same fields is ``beetsplug/musictagger.py`` (``music_tagger[beets]``).
"""

from ..util.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "write_tags": "writing", "write_file": "writing", "WriteOutcome": "writing", "file_stamp": "writing",
    "field_values": "fields", "load_table": "fields", "record_tags": "fields",
    "select": "playlists", "write_playlist": "playlists",
})  # fmt: skip
