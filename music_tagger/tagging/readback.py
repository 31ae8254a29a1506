"""Reading record files back: every whole record, and where the last one ends.

:func:`read_records` reads what :class:`music_tagger.tagging.records.RecordWriter`
writes, in any of the three machine formats, also the file of a killed run: a JSON
array in any layout (``json.dump`` of a list on one line included) and closed or
not; a record cut short at the end of the file (for CSV, a record missing some of
its rows, or a row cut mid-way) is left out, and anything else malformed is a
:class:`~music_tagger.errors.DataError` naming the line. :func:`scan_records`
also gives the byte offset where each whole record ends, so that a run can
truncate a cut tail and append in place.

Examples
--------
>>> from music_tagger.tagging.readback import read_records
>>> read_records("tags.jsonl")[0]["path"]       # doctest: +SKIP
'/music/a.mp3'
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from ..errors import DataError, ParameterError
from ..util.checks import one_of
from ..vocabulary import OUTPUT_FORMATS

__all__ = [
    "CSV_COLUMNS",
    "RESUMABLE",
    "RecordScan",
    "csv_columns",
    "csv_text",
    "format_for",
    "read_records",
    "scan_records",
]

#: The CSV columns (``passed`` follows with thresholds).
CSV_COLUMNS = ("path", "rank", "tag", "score", "error")
#: The formats that can be read back (and resumed): all but ``table``.
RESUMABLE = ("jsonl", "json", "csv")


def format_for(path: str | os.PathLike | None, fmt: str | None) -> str:
    """The format to use: ``fmt`` if given, else from the file's suffix, else jsonl/table.

    Examples
    --------
    >>> format_for("out.csv", None), format_for(None, None), format_for("x.txt", "json")
    ('csv', 'table', 'json')
    """
    if fmt is not None:
        return one_of(fmt, "format", OUTPUT_FORMATS)
    if path is None:
        return "table"
    suffix = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    return suffix if suffix in RESUMABLE else "jsonl"


def csv_columns(passed: bool) -> list[str]:
    """The CSV header: :data:`CSV_COLUMNS`, plus ``passed`` with thresholds.

    Examples
    --------
    >>> csv_columns(True)[-2:]
    ['error', 'passed']
    """
    return list(CSV_COLUMNS) + (["passed"] if passed else [])


def csv_text(rows: Iterable[list]) -> str:
    """``rows`` as the CSV text the records are written in (``\\n`` line ends).

    Examples
    --------
    >>> csv_text([["a, b", 1]])
    '"a, b",1\\n'
    """
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


@dataclass
class RecordScan:
    """The whole records of a file and where they end.

    Attributes
    ----------
    records : list of dict
    ends : list of int
        Byte offset just after each record.
    start : int
        Byte offset after the CSV header or the JSON array's ``[`` (0: none yet).
    columns : list of str or None
        The CSV header.
    newline : bool
        jsonl: the last record ends with its newline.
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)  # after each record
    start: int = 0  # after the CSV header / the JSON ``[`` (0: none whole yet)
    columns: list[str] | None = None  # CSV header
    newline: bool = True  # jsonl: the last whole record has its newline

    @property
    def end(self) -> int:
        return self.ends[-1] if self.ends else self.start

    def keep(self, n: int) -> None:
        del self.records[n:], self.ends[n:]


def _check_record(record: Any, where: str) -> dict[str, Any]:
    ok = isinstance(record, dict) and isinstance(record.get("path"), str) and isinstance(record.get("tags"), list)
    if not ok or not (record.get("error") is None or isinstance(record["error"], str)):
        raise DataError(f"{where} is not a tagging record (a path, tags and error)")
    return record


def _lines(data: bytes) -> Iterator[tuple[bytes, int, bool]]:
    """``(line, offset after it, ended by a newline)`` of ``data``."""
    pos = 0
    while pos < len(data):
        cut = data.find(b"\n", pos)
        end = len(data) if cut < 0 else cut + 1
        yield data[pos:end], end, cut >= 0
        pos = end


def _decode(data: bytes, where: str, last: bool) -> str | None:
    """``data`` as text. ``last``: the end of the file, where a kill may have cut a
    character: its whole part (None if nothing is whole)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        if last and err.reason == "unexpected end of data":
            return data[: err.start].decode("utf-8") or None
        raise DataError(f"{where} is not UTF-8 text ({err.reason})") from None


def _scan_jsonl(data: bytes, name: str) -> RecordScan:
    scan = RecordScan()
    for number, (line, end, ended) in enumerate(_lines(data), 1):
        text = _decode(line, f"{name}: line {number}", not ended)
        if text is None:
            break
        if not text.strip():
            scan.start = end if not scan.ends else scan.start
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            if not ended:  # the last line, cut by a kill
                break
            raise DataError(f"{name}: line {number} is not a JSON record ({err.msg})") from None
        except RecursionError:  # thousands of nested brackets: no record is
            raise DataError(f"{name}: line {number} is not a tagging record (nested too deep)") from None
        scan.records.append(_check_record(record, f"{name}: line {number}"))
        scan.ends.append(end)
        scan.newline = ended
    return scan


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _scan_json(data: bytes, name: str) -> RecordScan:
    """A JSON array of records in any layout, closed or cut after any record."""
    text = _decode(data, name, True) or ""
    offset = _ByteOffsets(text)
    scan = RecordScan()
    i = _skip_space(text, 0)
    if i == len(text):
        return scan
    if text[i] != "[":
        raise DataError(f"{name} is not a JSON array of records (it starts with {text[i : i + 10]!r})")
    scan.start = offset(i + 1)
    decoder, i = json.JSONDecoder(), i + 1
    while True:
        j = _skip_space(text, i)
        if j == len(text):
            return scan  # not closed: a killed run
        if text[j] == "]":
            if _skip_space(text, j + 1) != len(text):
                raise DataError(f"{name}: text after the closing ] of the array")
            return scan
        if scan.records:
            if text[j] != ",":
                line = text.count("\n", 0, j) + 1
                raise DataError(f"{name}: line {line}: expected ',' or ']' between records")
            j = _skip_space(text, j + 1)
            if j == len(text):
                return scan
        try:
            record, i = decoder.raw_decode(text, j)
        except RecursionError:
            raise DataError(
                f"{name}: record {len(scan.records) + 1} is not a tagging record (nested too deep)"
            ) from None
        except json.JSONDecodeError as err:
            if "\n" in text[j:].rstrip():  # more lines follow: not the record a kill cut
                raise DataError(f"{name}: line {err.lineno} is not a JSON record ({err.msg})") from None
            return scan
        scan.records.append(_check_record(record, f"{name}: record {len(scan.records) + 1}"))
        scan.ends.append(offset(i))


class _ByteOffsets:
    """Byte offset of a character offset of ``text`` in UTF-8 (incremental)."""

    def __init__(self, text: str):
        self.text, self.char, self.byte = text, 0, 0

    def __call__(self, char: int) -> int:
        if char < self.char:
            self.char, self.byte = 0, 0
        self.byte += len(self.text[self.char : char].encode("utf-8"))
        self.char = char
        return self.byte


def _scan_csv(data: bytes, name: str) -> RecordScan:
    """CSV rows grouped into records; a record's rows have ranks 1, 2, ... of one path."""
    scan = RecordScan()
    state = {"end": 0, "ended": True, "text": ""}

    def lines() -> Iterator[str]:
        for line, end, ended in _lines(data):
            text = _decode(line, name, not ended)
            if text is None:
                return
            state["end"], state["ended"], state["text"] = end, ended, state["text"] + text
            yield text

    rows = csv.reader(lines())
    header = next(rows, None)
    if header is None or not state["ended"]:
        return scan  # empty, or only part of the header
    if header not in (csv_columns(False), csv_columns(True)):
        raise DataError(f"{name} is not a CSV of tagging records (columns {','.join(header)})")
    scan.columns, scan.start = header, state["end"]
    col = {c: i for i, c in enumerate(header)}
    record: dict[str, Any] | None = None
    state["text"] = ""
    for number, row in enumerate(rows, 2):
        text, state["text"] = state["text"], ""
        if not state["ended"] or csv_text([row]) != text:
            if state["end"] < len(data):
                raise DataError(f"{name}: row {number} is not a row music-tagger writes")
            break  # the last row, cut by a kill
        if len(row) != len(header):
            raise DataError(f"{name}: row {number} has {len(row)} fields, the header {len(header)}")
        path, rank, tag, score, error = (row[col[c]] for c in CSV_COLUMNS)
        if error:
            record = None
            scan.records.append({"path": path, "tags": [], "error": error})
            scan.ends.append(state["end"])
            continue
        try:
            rank, score = int(rank), float(score)
        except ValueError:
            raise DataError(f"{name}: row {number} has no rank and score") from None
        if rank == 1:
            record = {"path": path, "tags": [], "error": None}
            if "passed" in col:
                record["passed"] = []
            scan.records.append(record)
            scan.ends.append(state["end"])
        elif record is None or path != record["path"] or rank != len(record["tags"]) + 1:
            raise DataError(f"{name}: row {number} (rank {rank} of {path}) does not continue a record")
        record["tags"].append([tag, score])
        if "passed" in col and row[col["passed"]] == "1":
            record["passed"].append(tag)
        scan.ends[-1] = state["end"]
    return scan


_SCANNERS = dict(zip(RESUMABLE, (_scan_jsonl, _scan_json, _scan_csv)))


def scan_records(path: str | os.PathLike, fmt: str, n_tags: int | None = None) -> RecordScan:
    """The whole records of a file of ``fmt`` and the byte offsets where they end.

    Parameters
    ----------
    path : path-like
    fmt : {"jsonl", "json", "csv"}
    n_tags : int, optional
        CSV: rows of a whole tagged record; a last record with fewer is cut
        (default: the most rows of any record in the file).

    Examples
    --------
    >>> scan_records("tags.csv", "csv", n_tags=10).end     # doctest: +SKIP
    5821
    """
    if fmt not in RESUMABLE:
        raise ParameterError(f"a {fmt} cannot be read back: records are read from {', '.join(RESUMABLE)}")
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read()
    scan = _SCANNERS[fmt](data, path)
    if fmt == "csv" and scan.records:  # a record cut among its rows: fewer than the others
        tagged = [len(r["tags"]) for r in scan.records if r["error"] is None]
        full = n_tags if n_tags is not None else max(tagged, default=0)
        last = scan.records[-1]
        if last["error"] is None and len(last["tags"]) < full:
            scan.keep(len(scan.records) - 1)
    return scan


def read_records(path: str | os.PathLike, fmt: str | None = None) -> list[dict[str, Any]]:
    """The whole records of a file of tagging records (also of a killed run).

    A JSON array may be in any layout (``json.dump`` of a list included); a
    record cut short by a kill at the end of the file is left out; CSV rows come
    back as one record per file, as written.

    Parameters
    ----------
    path : path-like
    fmt : {"jsonl", "json", "csv"}, optional
        Default: from the file's suffix (jsonl for any other).

    Raises
    ------
    DataError
        The file is not records of ``fmt`` (a malformed record before the last).

    Examples
    --------
    >>> read_records("tags.jsonl")[0]["path"]       # doctest: +SKIP
    '/music/a.mp3'
    """
    return scan_records(path, format_for(path, fmt)).records
