"""Tagging records, written one per file as it finishes, and read back to resume.

A record is :meth:`music_tagger.tagging.tagger.TagResult.to_dict`: ``{"path", "tags":
[[tag, score], ...], "error"}``, plus ``"passed"`` with thresholds and
``"taggram"`` with a taggram. :class:`RecordWriter` writes them in one of
:data:`FORMATS`:

``jsonl``
    one JSON object per line;
``json``
    a JSON array, one record per line (``[``, ``{...},``, ..., ``{...}``, ``]``);
    a run that is killed leaves the array without its closing ``]``, which
    :func:`read_records` accepts;
``csv``
    columns ``path,rank,tag,score,error`` (plus ``passed`` with thresholds): one
    row per tag, one row with the error for a failed file;
``table``
    for people: each file, then its tags with scores rounded to 3 decimals.

Each record is written with a single ``write`` call and flushed, so a run killed
with SIGKILL leaves whole records (at most the last line cut short, which
:func:`read_records` drops). :func:`open_output` reopens such a file to resume:
it keeps the whole records, rewrites the file cleanly (atomically) and returns the
paths already done.

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

import csv
import io
import json
import os
from typing import IO, Any, Iterable

from ..util.files import atomic_path
from ..errors import DataError, OutputExistsError, ParameterError

__all__ = ["FORMATS", "RecordWriter", "format_for", "open_output", "read_records"]

#: Output formats; all but ``table`` can be resumed.
FORMATS = ("jsonl", "json", "csv", "table")
_CSV_COLUMNS = ["path", "rank", "tag", "score", "error"]


def format_for(path: str | os.PathLike | None, fmt: str | None) -> str:
    """The format to use: ``fmt`` if given, else from the file's suffix, else jsonl/table.

    Examples
    --------
    >>> format_for("out.csv", None), format_for(None, None), format_for("x.txt", "json")
    ('csv', 'table', 'json')
    """
    if fmt is not None:
        if fmt not in FORMATS:
            raise ParameterError(f"format must be one of {FORMATS}, got {fmt!r}")
        return fmt
    if path is None:
        return "table"
    suffix = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    return suffix if suffix in ("jsonl", "json", "csv") else "jsonl"


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
        if fmt not in FORMATS:
            raise ParameterError(f"format must be one of {FORMATS}, got {fmt!r}")
        self.stream, self.fmt, self.passed = stream, fmt, passed
        self._first = first
        if header and fmt == "csv":
            self._emit(_csv_text([_CSV_COLUMNS + (["passed"] if passed else [])]))
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
            text = _csv_text(_csv_rows(record, self.passed))
        else:
            text = _table_text(record)
        self._first = False
        self._emit(text)

    def close(self) -> None:
        """Finish the output (the JSON array's ``]``); the stream stays open."""
        if self.fmt == "json":
            self._emit(("" if self._first else "\n") + "]\n")


def _csv_text(rows: Iterable[list]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


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


def read_records(path: str | os.PathLike, fmt: str) -> list[dict[str, Any]]:
    """The whole records of a file written by :class:`RecordWriter` (also a cut one).

    A last line cut short by a kill is dropped; a cut anywhere else is an error.
    CSV rows are grouped back into one record per path.

    Raises
    ------
    ValueError
        ``table`` format, or a malformed line before the last.
    """
    if fmt == "table":
        raise ParameterError("a table cannot be resumed: write --format jsonl, json or csv")
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    lines = text.split("\n")
    complete, tail = lines[:-1], lines[-1]  # tail: after the last newline (cut, or "")
    if fmt == "csv":
        return _csv_records(complete)
    records = []
    for number, line in enumerate(complete, 1):
        line = line.strip()
        if fmt == "json":
            line = line.rstrip(",")
            if line in ("[", "]", ""):
                continue
        elif not line:
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: line {number} is not a record ({err})") from err
    if fmt == "json" and tail.strip() not in ("", "]"):
        try:  # a record without its newline (the last one of a killed run) is whole if it parses
            records.append(json.loads(tail.strip().rstrip(",")))
        except json.JSONDecodeError:
            pass
    return records


def _csv_records(lines: list[str]) -> list[dict[str, Any]]:
    rows = list(csv.reader(lines))
    if not rows:
        return []
    header, rows = rows[0], [r for r in rows[1:] if r]
    col = {name: i for i, name in enumerate(header)}
    records: dict[str, dict[str, Any]] = {}
    for row in rows:
        rec = records.setdefault(row[col["path"]], {"path": row[col["path"]], "tags": [], "error": None})
        if row[col["error"]]:
            rec["error"] = row[col["error"]]
        else:
            rec["tags"].append([row[col["tag"]], float(row[col["score"]])])
            if "passed" in col:
                rec.setdefault("passed", [])
                if row[col["passed"]] == "1":
                    rec["passed"].append(row[col["tag"]])
    return list(records.values())


def open_output(
    path: str | os.PathLike, fmt: str, *, resume: bool = False, passed: bool = False
) -> tuple[RecordWriter, set[str], IO[str]]:
    """Open ``path`` for records; with ``resume``, keep its whole records.

    Parameters
    ----------
    path : path-like
    fmt : {"jsonl", "json", "csv"}
    resume : bool
        Continue a file of an earlier (possibly killed) run: its whole records are
        kept (rewritten atomically without a cut last line), and their paths are
        returned so that they can be skipped. Without it, an existing non-empty
        file is an error.
    passed : bool
        CSV: the ``passed`` column.

    Returns
    -------
    writer : RecordWriter
    done : set of str
        Absolute paths of the files that already have a record.
    stream : text file
        To close when done (after ``writer.close()``).

    Raises
    ------
    FileExistsError
        ``path`` holds records and ``resume`` is False.
    """
    path = os.fspath(path)
    if fmt == "table" and resume:
        raise ParameterError("a table cannot be resumed: write --format jsonl, json or csv")
    exists = os.path.exists(path) and os.path.getsize(path) > 0
    if exists and not resume:
        raise OutputExistsError(f"{path} exists: pass --resume to continue it, or remove it")
    records = read_records(path, fmt) if exists else []
    if exists:
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
            writer = RecordWriter(f, fmt, passed=passed)
            for record in records:
                writer.write(record)
    stream = open(path, "a", encoding="utf-8", newline="")
    writer = RecordWriter(stream, fmt, passed=passed, header=not exists, first=not records)
    done = {os.path.abspath(r["path"]) for r in records}
    return writer, done, stream
