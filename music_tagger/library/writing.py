"""Writing tags into audio files, and taking them out again, without ever harming a file.

:func:`write_tags` writes the fields of :mod:`music_tagger.library.fields` into each
file of a list of tagging records (or removes them). Each file is changed as a whole:

1. its resolved path is locked (:class:`~music_tagger.util.locks.OutputLock`, a
   ``.<name>.lock`` beside it), so that two writers never touch one file at once;
2. it is copied beside itself (``.<name>.music-tagger.tmp``), the copy's tags are
   changed with mutagen (the audio data is copied, never decoded), the copy is
   fsynced, given the file's mode, owner (where allowed) and modification time, and
   renamed over the file; the folder is fsynced.

A SIGKILL at any moment leaves the file as it was or as it should be; a stale copy
is removed by the next run that locks the file. A symlink is written through (the
target changes, the link stays). A file with other hard links is left untouched,
since the rename would split it from its other names. A file that cannot be
changed (read-only, in a read-only folder, damaged, not audio, changed since it was
tagged, locked by another run) gives one :class:`WriteOutcome` with ``action ==
"skipped"`` and the reason, and stays as it was.

A record made by ``music-tagger tag --output FILE.jsonl`` holds the file's ``size``
and ``mtime_ns``: a file is written only when its modification time is the
recorded one and its size is too (or it already holds the package's fields, whose
writing kept the time and changed the size). Records without them (CSV, older
records) are written only with ``force``.

Examples
--------
>>> from music_tagger.library import write_tags
>>> from music_tagger.tagging.readback import read_records
>>> for out in write_tags(read_records("tags.jsonl"), fields=["tags", "model", "genre"]):  # doctest: +SKIP
...     print(out.line())
"""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ..errors import AudioError, MusicTaggerError
from ..tagging.records import file_stamp
from ..util.locks import OutputLock
from .fields import DEFAULT_FIELDS, GENRE_MOOD, NAMESPACE, USER_FIELDS, field_values
from .formats import SUFFIXES, check_whole, get_field, open_audio, remove_field, save_audio, set_field, show_path

__all__ = ["TMP_SUFFIX", "WriteOutcome", "audio_files", "file_stamp", "write_file", "write_tags"]

#: The suffix of the copy a file's new tags are written into before it replaces it.
TMP_SUFFIX = ".music-tagger.tmp"
_OWN = tuple(NAMESPACE + n for n in ("TAGS", "MODEL", "SCORES"))


@dataclass
class WriteOutcome:
    """What happened to one file.

    Attributes
    ----------
    path : str
        The file, as given.
    action : str
        ``written``, ``removed``, ``unchanged`` (nothing to change), ``would write``,
        ``would remove`` (a dry run) or ``skipped`` (left untouched; see ``reason``).
    changes : dict
        ``{field: (old value or None, new value or None)}``.
    reason : str or None
        Why a file was skipped, or a note (a user field that was kept).
    """

    path: str
    action: str
    changes: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    reason: str | None = None

    def line(self) -> str:
        """The outcome on one line (newlines and undecodable bytes of the path escaped)."""
        if self.action == "skipped":
            return self.reason or f"skipped: {show_path(self.path)}"
        text = f"{self.action}: {show_path(self.path)}"
        if self.changes:
            text += ": " + " | ".join(
                f"{k}={show_path(v) if v is not None else '(none)'}" for k, (_, v) in self.changes.items()
            )
        return text + (f" ({self.reason})" if self.reason else "")


def audio_files(path: str | os.PathLike) -> list[str]:
    """``path`` itself, or the files of the folder ``path`` (recursively, sorted) in a
    format :func:`write_file` writes (:data:`~music_tagger.library.formats.SUFFIXES`).

    Examples
    --------
    >>> audio_files("song.m4a")
    ['song.m4a']
    """
    if not os.path.isdir(path):
        return [os.fspath(path)]
    return sorted(str(f) for f in Path(path).rglob("*") if f.suffix.lower() in SUFFIXES and f.is_file())


def _target(path: str) -> tuple[str, os.stat_result]:
    """The file a write changes (symlinks resolved) and its stat, or one line why not."""
    try:
        st = os.stat(path)
    except OSError as err:
        why = "a symlink loop" if err.errno == errno.ELOOP else err.strerror
        raise AudioError(f"{show_path(path)}: {why}") from None
    except ValueError:  # a NUL byte: no file has such a name
        raise AudioError(f"{show_path(path)}: not a file name (it holds a NUL byte)") from None
    if not os.path.isfile(path):
        raise AudioError(f"{show_path(path)}: not a regular file")
    target = os.path.realpath(path)
    if st.st_nlink > 1:
        raise AudioError(
            f"{show_path(path)}: has {st.st_nlink} hard links; replacing it would split them, so it is left untouched"
        )
    if not st.st_mode & 0o222 or not os.access(target, os.W_OK):
        raise AudioError(f"{show_path(path)}: read-only")
    folder = os.path.dirname(target)
    if not os.stat(folder).st_mode & 0o222 or not os.access(folder, os.W_OK | os.X_OK):
        raise AudioError(f"{show_path(path)}: its folder is not writable")
    return target, st


def _check_stamp(path: str, st: os.stat_result, stamp: Mapping[str, Any] | None, audio: Any, force: bool) -> None:
    if force:
        return
    if stamp is None or "mtime_ns" not in stamp or "size" not in stamp:
        raise AudioError(
            f"{show_path(path)}: its record has no size and mtime_ns to check it against: tag it again, or pass --force"
        )
    ours = any(get_field(audio, n) is not None for n in _OWN)
    if st.st_mtime_ns != stamp["mtime_ns"] or (st.st_size != stamp["size"] and not ours):
        raise AudioError(f"{show_path(path)}: changed since it was tagged: tag it again, or pass --force")


def _plan(audio: Any, values: Mapping[str, str] | None) -> tuple[dict, list[str]]:
    """``{field: (old, new)}`` to set (``values``) or to remove (None), and notes."""
    changes: dict[str, tuple[str | None, str | None]] = {}
    if values is None:
        for name in _OWN:
            old = get_field(audio, name)
            if old is not None:
                changes[name] = (old, None)
        for name in USER_FIELDS.values():
            old, wrote = get_field(audio, name), get_field(audio, NAMESPACE + name)
            if wrote is not None:
                changes[NAMESPACE + name] = (wrote, None)
                if old == wrote:
                    changes[name] = (old, None)
        return changes, []
    kept = [
        n
        for n in USER_FIELDS.values()
        if n in values and get_field(audio, n) not in (None, get_field(audio, NAMESPACE + n))
    ]  # the user's own
    skip = set(kept) | {NAMESPACE + n for n in kept}
    for name, new in values.items():
        new = new or None  # no tag passed: no field (an empty one is dropped by some formats)
        old = get_field(audio, name)
        if name not in skip and old != new:
            changes[name] = (old, new)
    notes = [f"kept its own {n}" for n in kept]
    return changes, notes


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace(target: str, st: os.stat_result, changes: Mapping[str, tuple], keep_mtime: bool) -> None:
    """Write ``changes`` into a copy of ``target`` and rename it over ``target``."""
    folder, name = os.path.split(target)
    tmp = os.path.join(folder, f".{name}{TMP_SUFFIX}")
    try:
        shutil.copyfile(target, tmp)
        audio = open_audio(tmp)
        for key, (_, new) in changes.items():
            if new is None:
                remove_field(audio, key)
            else:
                set_field(audio, key, new)
        save_audio(audio)
        _fsync(tmp)
        os.chmod(tmp, st.st_mode & 0o7777)
        try:
            os.chown(tmp, st.st_uid, st.st_gid)
        except OSError:  # another owner's file in a folder we may write: it becomes ours
            pass
        if keep_mtime:
            os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(tmp, target)
    except BaseException as err:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        if isinstance(err, MusicTaggerError) or not isinstance(err, Exception):
            raise
        raise AudioError(
            f"{show_path(target)}: could not be written ({type(err).__name__}: {err}); left untouched"
        ) from None
    _fsync(folder)


def write_file(
    path: str | os.PathLike,
    values: Mapping[str, str] | None,
    *,
    stamp: Mapping[str, Any] | None = None,
    force: bool = False,
    dry_run: bool = False,
    keep_mtime: bool = True,
) -> WriteOutcome:
    """Write ``values`` into one file's tags, or remove the package's (``values=None``).

    Parameters
    ----------
    path : path-like
        The audio file (a symlink is written through).
    values : mapping or None
        ``{field: value}`` of :func:`~music_tagger.library.fields.field_values`; None
        removes exactly what the package wrote.
    stamp : mapping, optional
        ``{"size", "mtime_ns"}`` of the file when it was tagged (writing only).
    force : bool
        Write even if the stamp is missing or the file changed since.
    dry_run : bool
        Say what would change, change nothing.
    keep_mtime : bool
        Give the written file its modification time back (default).

    Returns
    -------
    WriteOutcome

    Raises
    ------
    AudioError, OutputLockedError, ParameterError
        The file is left untouched, for the reason the one line gives.

    Examples
    --------
    >>> write_file("a.flac", {"MUSIC_TAGGER_TAGS": "jazz"}, force=True).action  # doctest: +SKIP
    'written'
    """
    path = os.fspath(path)
    target, st = _target(path)
    lock = OutputLock(target).acquire()
    try:
        stale = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}{TMP_SUFFIX}")
        if os.path.lexists(stale):  # the copy of a killed run: the file itself is whole
            os.unlink(stale)
        target, st = _target(path)  # as it is now that nobody else writes it
        audio = open_audio(target)
        check_whole(target, audio)
        if values is not None:
            _check_stamp(path, st, stamp, audio, force)
        changes, notes = _plan(audio, values)
        reason = "; ".join(notes) or None
        if not changes:
            return WriteOutcome(path, "unchanged", {}, reason)
        if dry_run:
            return WriteOutcome(path, "would write" if values is not None else "would remove", changes, reason)
        _replace(target, st, changes, keep_mtime)
        return WriteOutcome(path, "written" if values is not None else "removed", changes, reason)
    finally:
        lock.release()


def write_tags(
    records: Iterable[Mapping[str, Any]],
    fields: Sequence[str] = DEFAULT_FIELDS,
    *,
    model: str = "crnn",
    min_score: float | None = None,
    table: Mapping[str, Mapping[str, str]] = GENRE_MOOD,
    remove: bool = False,
    force: bool = False,
    dry_run: bool = False,
    keep_mtime: bool = True,
) -> Iterator[WriteOutcome]:
    """Write each record's tags into its file (or remove them), one outcome per record.

    Parameters
    ----------
    records : iterable of mapping
        Tagging records (:func:`music_tagger.tagging.readback.read_records`, or
        ``TagResult.to_dict()`` with :func:`file_stamp` added). For ``remove``, only
        ``"path"`` is read.
    fields : sequence of str
        Which fields (:data:`~music_tagger.library.fields.FIELDS`); default the
        package's own (tags, model).
    model : {"crnn", "cnn"}
        The network that made the records (``MUSIC_TAGGER_MODEL``).
    min_score : float, optional
        Tags scoring at least this (default: the record's thresholds, else 0.2).
    table : mapping
        Tag-to-genre and tag-to-mood table (:func:`~music_tagger.library.fields.load_table`).
    remove, force, dry_run, keep_mtime : bool
        See :func:`write_file`.

    Yields
    ------
    WriteOutcome
        In the records' order; a file that could not be changed is ``skipped``
        with its reason, and the others go on.

    Examples
    --------
    >>> outcomes = list(write_tags([{"path": "a.mp3"}], remove=True))   # doctest: +SKIP
    """
    for record in records:
        path = record.get("path") if isinstance(record, Mapping) else None
        if not isinstance(path, (str, os.PathLike)):
            yield WriteOutcome(str(path), "skipped", {}, f"not a tagging record (no path): {_short(record)}")
            continue
        try:
            values = None if remove else field_values(record, fields, model=model, min_score=min_score, table=table)
            yield write_file(path, values, stamp=record, force=force, dry_run=dry_run, keep_mtime=keep_mtime)
        except MusicTaggerError as err:
            yield WriteOutcome(path, "skipped", {}, str(err))
