"""Tagging records, written one per file as it finishes, and read back to resume.

A record is :meth:`music_tagger.tagging.tagger.TagResult.to_dict`: ``{"path",
"tags": [[tag, score], ...], "error"}``, plus ``"passed"`` with thresholds and
``"taggram"`` with a taggram. :class:`RecordWriter` writes them in one of
:data:`FORMATS`:

``jsonl``
    one JSON object per line;
``json``
    a JSON array, one record per line (``[``, ``{...},``, ..., ``{...}``, ``]``);
    a run that is killed leaves the array without its closing ``]``;
``csv``
    columns ``path,rank,tag,score,error`` (plus ``passed`` with thresholds): one
    row per tag, one row with the error for a failed file;
``table``
    for people: each file, then its tags with scores rounded to 3 decimals.

Each record is written with a single ``write`` call and flushed, so a run killed
with SIGKILL leaves whole records and at most one cut short at the end.
:func:`read_records` reads back every whole record of any of the three machine
formats (a JSON array in any layout, one line included) and drops a cut last one
(for CSV, a record missing some of its rows).

:func:`open_output` opens a file for one run as a :class:`RecordFile`: it locks
the file for the run (:class:`music_tagger.util.locks.OutputLock`; a second run
fails at once naming the first's PID), writes each file's absolute path, and with
``resume`` keeps the whole records of an earlier run. Resuming never replaces the
file when it can append: the cut tail (or a JSON array's ``]``) is truncated and
new records follow in place, so a symlink, the file's mode and its other names
stay as they were. Failed records are tagged again (the file may exist now);
dropping them rewrites the file atomically, mode kept. A resume whose options
would give other records (another ``--top``, thresholds or none, other
thresholds, a taggram or none) is refused before anything is written.

Examples
--------
>>> import io
>>> from music_tagger.tagging.records import RecordWriter
>>> buf = io.StringIO()
>>> w = RecordWriter(buf, "jsonl")
>>> w.write({"path": "a.mp3", "tags": [["rock", 0.5]], "error": None})
>>> buf.getvalue()
'{"path": "a.mp3", "tags": [["rock", 0.5]], "error": null}\\n'
"""

from __future__ import annotations

import json
import os
import shutil
from typing import IO, Any, Mapping

from ..errors import DataError, MissingFileError, OutputExistsError, ParameterError
from ..util.checks import one_of
from ..util.files import atomic_path
from ..util.locks import OutputLock
from ..vocabulary import OUTPUT_FORMATS
from .readback import RecordScan, csv_columns, csv_text, format_for, read_records, scan_records

__all__ = [
    "FORMATS", "RecordFile", "RecordWriter", "file_identity", "file_stamp", "format_for", "open_output",
    "read_records", "result_record",
]  # fmt: skip

#: Output formats; all but ``table`` can be resumed.
FORMATS = OUTPUT_FORMATS


def file_identity(path: str | os.PathLike) -> str:
    """What makes two names one file: the absolute path with every symlink resolved.

    Examples
    --------
    >>> file_identity("/tmp/../tmp/a.mp3") == file_identity("/tmp/a.mp3")
    True
    """
    return os.path.realpath(os.path.abspath(os.fspath(path)))


def file_stamp(path: str | os.PathLike) -> dict[str, int]:
    """``{"size", "mtime_ns"}`` of a file (its target, for a symlink), for its record.

    ``music-tagger write`` reads them back to tell that a file is unchanged since it
    was tagged (:func:`music_tagger.library.writing.write_tags`).

    Examples
    --------
    >>> sorted(file_stamp(__file__))
    ['mtime_ns', 'size']
    """
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def result_record(result: Any, fmt: str, *, stamp: bool = False) -> dict[str, Any]:
    """The record of a :class:`~music_tagger.tagging.results.TagResult` as ``fmt`` holds it.

    The taggram is kept in jsonl and json only; ``stamp`` (a records file that
    ``music-tagger write`` may read) adds, in those formats, the tagged file's
    :func:`file_stamp`, unless it failed or is gone since.

    Examples
    --------
    >>> from music_tagger.tagging.results import TagResult
    >>> result_record(TagResult("gone.mp3", None, [], "gone.mp3: no such file"), "csv", stamp=True)
    {'path': 'gone.mp3', 'tags': [], 'error': 'gone.mp3: no such file'}
    """
    record = result.to_dict()
    if fmt not in ("jsonl", "json"):
        record.pop("taggram", None)
    elif stamp and result.error is None:
        try:
            record.update(file_stamp(result.path))
        except OSError:  # gone since it was tagged: write will say so
            pass
    return record


class RecordWriter:
    """Write records to a text stream, each in one ``write`` and flushed.

    Parameters
    ----------
    stream : text file object
    fmt : {"jsonl", "json", "csv", "table"}
    passed : bool
        CSV only: add the ``passed`` column (thresholds were given).
    header : bool
        Write the CSV header row / the JSON array's opening ``[`` (False when
        appending to a file that has them).
    first : bool
        JSON only: whether the next record is the array's first.
    """

    def __init__(self, stream: IO[str], fmt: str, *, passed: bool = False, header: bool = True, first: bool = True):
        one_of(fmt, "format", FORMATS)
        self.stream, self.fmt, self.passed = stream, fmt, passed
        self._first = first
        if header and fmt == "csv":
            self._emit(csv_text([csv_columns(passed)]))
        elif header and fmt == "json":
            self._emit("[\n")

    def _emit(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def write(self, record: dict[str, Any]) -> None:
        """Write one record (a :meth:`TagResult.to_dict`)."""
        if self.fmt == "jsonl":
            text = json.dumps(record, ensure_ascii=False) + "\n"
        elif self.fmt == "json":
            text = ("" if self._first else ",\n") + json.dumps(record, ensure_ascii=False)
        elif self.fmt == "csv":
            text = csv_text(_csv_rows(record, self.passed))
        else:
            text = _table_text(record)
        self._first = False
        self._emit(text)

    def close(self) -> None:
        """Finish the output (the JSON array's ``]``); the stream stays open."""
        if self.fmt == "json":
            self._emit(("" if self._first else "\n") + "]\n")


def _csv_rows(record: dict[str, Any], passed: bool) -> list[list]:
    if record["error"] is not None:
        return [[record["path"], "", "", "", record["error"]] + ([""] if passed else [])]
    ok = set(record.get("passed") or ())
    return [
        [record["path"], rank, t, repr(s), ""] + ([int(t in ok)] if passed else [])
        for rank, (t, s) in enumerate(record["tags"], 1)
    ]


def _table_text(record: dict[str, Any]) -> str:
    lines = [record["path"]]
    if record["error"] is not None:
        lines.append(f"    error: {record['error']}")
    else:
        width = max((len(t) for t, _ in record["tags"]), default=0)
        ok = record.get("passed")
        for rank, (t, s) in enumerate(record["tags"], 1):
            mark = "" if ok is None else ("  passed" if t in ok else "")
            lines.append(f"  {rank:3d}. {t:<{width}}  {s:.3f}{mark}")
    return "\n".join(lines) + "\n\n"


# --------------------------------------------------------------------------- output files


class RecordFile:
    """An output file of records, locked for one run (from :func:`open_output`).

    Attributes
    ----------
    path : str
        The output as given.
    done : set of str
        :func:`file_identity` of each file with a record kept from an earlier run.
    kept, retried : int
        Records kept, and failed records dropped to be tagged again.
    """

    def __init__(self, path: str, stream: IO[str], writer: RecordWriter, lock: OutputLock | None,
                 done: set[str], kept: int, retried: int):  # fmt: skip
        self.path, self.stream, self.writer, self.lock = path, stream, writer, lock
        self.done, self.kept, self.retried = done, kept, retried

    def write(self, record: dict[str, Any]) -> None:
        """Write one record, its path made absolute (so that any run can resume it)."""
        self.writer.write(dict(record, path=os.path.abspath(record["path"])))

    def close(self) -> None:
        """Finish the output (a JSON array's ``]``, also after an error), close it, drop the lock."""
        try:
            if not self.stream.closed:
                self.writer.close()
        except OSError:  # a full disk, a closed pipe: the records written stay resumable
            pass
        finally:
            self.stream.close()
            if self.lock is not None:
                self.lock.release()

    def __enter__(self) -> "RecordFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _check_output_path(path: str) -> str | None:
    """The file to write for the output ``path`` (symlinks followed), None for a pipe or
    a device (``/dev/null``), or a one-line error."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        if os.path.exists(folder):
            raise ParameterError(f"cannot write {path}: {folder} is not a folder")
        raise MissingFileError(f"cannot write {path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise ParameterError(f"{path} is a folder: the output is a file")
    if os.path.exists(path) and not os.path.isfile(path):
        return None
    target = os.path.realpath(path)
    if os.path.exists(target):
        if not os.access(target, os.W_OK) or not os.stat(target).st_mode & 0o222:
            raise ParameterError(f"{path} is read-only: make it writable to continue it, or write another file")
    elif not os.access(os.path.dirname(target), os.W_OK | os.X_OK):
        raise ParameterError(f"cannot create {path}: its folder is not writable")
    return target


def _mismatch(path: str, what: str) -> DataError:
    return DataError(f"{path} was written {what}: resume with the options it was written with, or write another file")


def _check_resume(path: str, fmt: str, scan: RecordScan, n_tags: int | None,
                  thresholds: Mapping[str, float] | None, taggram: bool) -> None:  # fmt: skip
    """Refuse to add records that would not match the file's (their options differ)."""
    if fmt == "csv" and scan.columns is not None and ("passed" in scan.columns) != (thresholds is not None):
        raise _mismatch(path, "with --thresholds" if thresholds is None else "without --thresholds")
    for record in scan.records:
        if record["error"] is not None:
            continue
        if fmt != "csv" and ("passed" in record) != (thresholds is not None):
            raise _mismatch(path, "with --thresholds" if thresholds is None else "without --thresholds")
        if fmt != "csv" and ("taggram" in record) != taggram:
            raise _mismatch(path, "with --taggram" if not taggram else "without --taggram")
        if n_tags is not None and len(record["tags"]) != n_tags:
            raise _mismatch(
                path, f"with {len(record['tags'])} tags per file (--top, plus one per --probe), not {n_tags}"
            )
        if thresholds is not None:
            passed = set(record["passed"])
            for t, s in record["tags"]:
                if t not in thresholds or (t in passed) != (s >= thresholds[t]):
                    raise _mismatch(path, f"with other thresholds ({t} at {s:.4g} in {record['path']})")
            if any(thresholds.get(t, float("inf")) == float("inf") for t in passed):
                raise _mismatch(path, "with other thresholds (a tag passed that has none now)")


def _rewrite(target: str, fmt: str, records: list[dict[str, Any]], passed: bool) -> None:
    """Replace ``target`` by ``records`` (an open JSON array), atomically, mode kept."""
    with atomic_path(target) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            writer = RecordWriter(f, fmt, passed=passed)
            for record in records:
                writer.write(record)
        shutil.copymode(target, tmp)
        st = os.stat(target)
        try:
            os.chown(tmp, st.st_uid, st.st_gid)
        except OSError:  # another owner's file in our folder: keep ours
            pass


def open_output(
    path: str | os.PathLike,
    fmt: str,
    *,
    resume: bool = False,
    n_tags: int | None = None,
    thresholds: Mapping[str, float] | None = None,
    taggram: bool = False,
) -> RecordFile:
    """Open ``path`` for the records of one run, locked; with ``resume``, keep its records.

    Parameters
    ----------
    path : path-like
        The output file; a symlink is written through (the link stays).
    fmt : {"jsonl", "json", "csv", "table"}
    resume : bool
        Continue the file of an earlier (possibly killed) run: its whole records
        of tagged files are kept (see the module docstring) and named in
        :attr:`RecordFile.done`; its failed records are dropped, to be tagged
        again. Without it, a non-empty file is an error.
    n_tags : int, optional
        Tags per record of this run (``min(top_n, tags)``): a resume is refused
        when the file's records have another number.
    thresholds : mapping, optional
        ``{tag: threshold}`` of this run (``"passed"`` in each record): a resume
        is refused when the file was written without thresholds or with others.
    taggram : bool
        Whether this run's records hold a taggram (jsonl, json).

    Returns
    -------
    RecordFile
        Close it when done (it is a context manager).

    Raises
    ------
    OutputExistsError
        ``path`` holds records and ``resume`` is False.
    OutputLockedError
        Another run is writing ``path``.
    DataError
        ``resume`` on a file that is not records of ``fmt``, or whose records
        were written with other options.
    MissingFileError, ParameterError
        The output's folder is missing, or ``path`` is a folder or not writable.

    Examples
    --------
    >>> with open_output("tags.jsonl", "jsonl", resume=True) as out:   # doctest: +SKIP
    ...     for result in tag_files(p for p in paths if file_identity(p) not in out.done):
    ...         out.write(result.to_dict())
    """
    path = os.fspath(path)
    one_of(fmt, "format", FORMATS)
    if fmt == "table" and resume:
        raise ParameterError("a table cannot be resumed: write --format jsonl, json or csv")
    target = _check_output_path(path)
    passed = thresholds is not None
    if target is None:  # a pipe or a device: nothing to lock or resume
        if resume:
            raise ParameterError(f"{path} is not a regular file: it cannot be resumed")
        stream = open(path, "w", encoding="utf-8", newline="")
        return RecordFile(path, stream, RecordWriter(stream, fmt, passed=passed), None, set(), 0, 0)
    lock = OutputLock(target).acquire()
    try:
        size = os.path.getsize(target) if os.path.exists(target) else 0
        if size > 0 and not resume:
            raise OutputExistsError(f"{path} exists: pass --resume to continue it, or remove it")
        scan = scan_records(target, fmt, n_tags) if size > 0 else RecordScan()
        _check_resume(path, fmt, scan, n_tags, thresholds, taggram)
        keep = [r for r in scan.records if r["error"] is None]
        rewrite = len(keep) < len(scan.records)
        if rewrite:  # failed files are tagged again: their records go
            _rewrite(target, fmt, keep, passed)
        elif size > 0:  # drop a cut tail (and a JSON array's "]"), in place
            os.truncate(target, scan.end)
        stream = open(target, "a", encoding="utf-8", newline="")
        try:
            if fmt == "jsonl" and not rewrite and not scan.newline:
                stream.write("\n")  # a whole last record without its newline
            header = not rewrite and scan.end == 0
            writer = RecordWriter(stream, fmt, passed=passed, header=header, first=not keep)
        except BaseException:
            stream.close()
            raise
    except BaseException:
        lock.release()
        raise
    done = {file_identity(r["path"]) for r in keep}
    return RecordFile(path, stream, writer, lock, done, len(keep), len(scan.records) - len(keep))
