"""The library's index: one SQLite row per track, built from the tagging records.

The records file (``<index>.records.jsonl``, written by
:class:`music_tagger.tagging.records.RecordFile`) is the truth; the index is a
cache of it that makes filtering, sorting and paging fast. Each track is one row
of ``tracks`` with one ``REAL`` column per tag (``t0``, ``t1``, ...: the tag's
position in ``tags``) and an SQL index on each, so that a filter ``jazz >= 0.3``
or a sort by a tag's score reads an index, not the table. Taggrams live apart in
``taggrams`` (JSON), so that scans stay small. Tags taught by the user live in
``taught`` (one row per tag and track, indexed by tag and score): a filter or a sort
by one reads that index, and every query treats them as tags like the model's. The database runs in WAL mode:
readers never block the background writer, nor it them.

``meta.records_size`` is the size of the records file that the index holds; when
the file has another size at start (a kill between a record and its index row,
a resume that dropped failed records, a deleted file),
:meth:`Index.rebuild` reads the records again (the latest record of a path wins).

Examples
--------
>>> idx = Index(":memory:", ["rock", "jazz"])
>>> idx.upsert([{"path": "/m/a.mp3", "tags": [["jazz", 0.75], ["rock", 0.25]], "error": None,
...              "size": 10, "mtime": 1.0}], records_size=80)
>>> idx.query([("jazz", 0.5)])[0]
1
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any, Iterable, Sequence

from ..errors import DataError, ParameterError

__all__ = ["Index", "SORTS"]

#: ``sort`` values besides a tag's name.
SORTS = ("path", "id")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS tags (col INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS taggrams (id INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS taught (tag TEXT NOT NULL, id INTEGER NOT NULL, score REAL NOT NULL,
                                   PRIMARY KEY (tag, id));
CREATE INDEX IF NOT EXISTS taught_score ON taught (tag, score);
"""


class Index:
    """The SQLite index of a library (thread-safe: one connection per thread).

    Parameters
    ----------
    path : str
        The database file (created), or ``":memory:"``.
    tags : sequence of str
        The model's tags, in output order; an existing index must have the same.
    """

    def __init__(self, path: str, tags: Sequence[str]):
        self.path, self.tags = str(path), list(tags)
        self.column = {t: f"t{i}" for i, t in enumerate(self.tags)}
        self._local = threading.local()
        self._write = threading.Lock()
        self._memory = None if self.path != ":memory:" else self._connect()
        try:
            self._create()
        except sqlite3.DatabaseError as err:  # not SQLite, or a folder
            raise DataError(f"{self.path} is not an index music-tagger can open ({err}): "
                            "remove it, it is rebuilt from the records") from None  # fmt: skip

    def _create(self) -> None:
        db = self._db()
        with db:
            db.executescript(_SCHEMA)
            cols = ", ".join(f"{c} REAL" for c in self.column.values())
            db.execute(f"CREATE TABLE IF NOT EXISTS tracks (id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, "
                       f"size INTEGER, mtime REAL, error TEXT, top TEXT, {cols})")  # fmt: skip
            for c in self.column.values():
                db.execute(f"CREATE INDEX IF NOT EXISTS tracks_{c} ON tracks({c})")
            known = [name for _, name in db.execute("SELECT col, name FROM tags ORDER BY col")]
            if known and known != self.tags:
                raise DataError(f"{self.path} indexes other tags ({', '.join(known[:3])}, ...): remove it to rebuild")
            db.executemany("INSERT OR IGNORE INTO tags VALUES (?, ?)", enumerate(self.tags))

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=self.path != ":memory:")
        if self.path != ":memory:":
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        return db

    def _db(self) -> sqlite3.Connection:
        if self._memory is not None:
            return self._memory
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    # ----------------------------------------------------------------- writing

    @property
    def records_size(self) -> int:
        """Size of the records file the index holds (-1: none yet)."""
        row = self._db().execute("SELECT value FROM meta WHERE key = 'records_size'").fetchone()
        return -1 if row is None else int(row[0])

    def upsert(self, records: Iterable[dict[str, Any]], *, records_size: int) -> None:
        """Add or replace the rows of ``records`` (one transaction, with ``records_size``)."""
        names = ", ".join(self.column.values())
        marks = ", ".join("?" * len(self.column))
        update = ", ".join(f"{c} = excluded.{c}" for c in ["size", "mtime", "error", "top", *self.column.values()])
        with self._write, self._db() as db:
            for r in records:
                scores = dict(r["tags"]) if r["error"] is None else {}
                row = [r["path"], r.get("size"), r.get("mtime"), r["error"], json.dumps(r["tags"][:10])]
                (track,) = db.execute(
                    f"INSERT INTO tracks (path, size, mtime, error, top, {names}) VALUES (?, ?, ?, ?, ?, {marks}) "
                    f"ON CONFLICT(path) DO UPDATE SET {update} RETURNING id",
                    row + [scores.get(t) for t in self.tags],
                ).fetchone()  # fmt: skip
                db.execute("DELETE FROM taught WHERE id = ?", (track,))  # a changed file: scored again
                if r.get("taggram") is not None:
                    db.execute("INSERT OR REPLACE INTO taggrams VALUES (?, ?)", (track, json.dumps(r["taggram"])))
                else:
                    db.execute("DELETE FROM taggrams WHERE id = ?", (track,))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('records_size', ?)", (str(records_size),))

    def rebuild(self, records: Sequence[dict[str, Any]], *, records_size: int) -> None:
        """Make the index hold exactly the latest record of each path (ids of kept paths stay)."""
        latest = {r["path"]: r for r in records}
        self.upsert(latest.values(), records_size=records_size)
        with self._write, self._db() as db:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS keep (path TEXT PRIMARY KEY)")
            db.execute("DELETE FROM keep")
            db.executemany("INSERT INTO keep VALUES (?)", ((p,) for p in latest))
            db.execute("DELETE FROM taggrams WHERE id IN (SELECT id FROM tracks WHERE path NOT IN keep)")
            db.execute("DELETE FROM taught WHERE id IN (SELECT id FROM tracks WHERE path NOT IN keep)")
            db.execute("DELETE FROM tracks WHERE path NOT IN keep")

    def remove_missing(self, present: set[str]) -> int:
        """Drop the rows of paths not in ``present`` (files gone from the library); how many."""
        gone = [(p,) for (p,) in self._db().execute("SELECT path FROM tracks") if p not in present]
        with self._write, self._db() as db:
            db.executemany("DELETE FROM taggrams WHERE id = (SELECT id FROM tracks WHERE path = ?)", gone)
            db.executemany("DELETE FROM taught WHERE id = (SELECT id FROM tracks WHERE path = ?)", gone)
            db.executemany("DELETE FROM tracks WHERE path = ?", gone)
        return len(gone)

    def set_taught(self, tag: str, scores: dict[int, float]) -> None:
        """Replace the scores of the taught tag ``tag``: ``{track id: score}``."""
        with self._write, self._db() as db:
            db.execute("DELETE FROM taught WHERE tag = ?", (tag,))
            db.executemany("INSERT INTO taught VALUES (?, ?, ?)", ((tag, i, float(s)) for i, s in scores.items()))

    def drop_taught(self, tag: str) -> None:
        """Forget the taught tag ``tag``."""
        with self._write, self._db() as db:
            db.execute("DELETE FROM taught WHERE tag = ?", (tag,))

    def taught_tags(self) -> list[str]:
        """The taught tags that have scores, sorted."""
        return [t for (t,) in self._db().execute("SELECT DISTINCT tag FROM taught ORDER BY tag")]

    def taught_scores(self, tag: str) -> dict[int, float]:
        """``{track id: score}`` of the taught tag ``tag``."""
        return dict(self._db().execute("SELECT id, score FROM taught WHERE tag = ?", (tag,)))

    def ids(self) -> dict[str, int]:
        """``{path: id}`` of the tracks tagged without error."""
        return dict(self._db().execute("SELECT path, id FROM tracks WHERE error IS NULL"))

    # ----------------------------------------------------------------- reading

    def stats(self) -> dict[str, tuple[int, float]]:
        """``{path: (size, mtime)}`` of every row: what a restart compares files with."""
        return {p: (s, m) for p, s, m in self._db().execute("SELECT path, size, mtime FROM tracks")}

    def _where(self, filters: Sequence[tuple[str, float]], search: str | None) -> tuple[str, list]:
        clauses, args = ["error IS NULL"], []
        taught = self.taught_tags() if any(name not in self.column for name, _ in filters) else []
        for name, low in filters:
            if name in self.column:
                clauses.append(f"{self.column[name]} >= ?")
            elif name in taught:
                clauses.append("id IN (SELECT id FROM taught WHERE tag = ? AND score >= ?)")
                args.append(name)
            else:
                raise ParameterError(f"unknown tag {name!r}: the tags are {', '.join(self.tags + taught)}")
            args.append(float(low))
        if search:
            clauses.append("path LIKE ? ESCAPE '\\'")
            args.append("%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        return " AND ".join(clauses), args

    def query(
        self,
        filters: Sequence[tuple[str, float]] = (),
        search: str | None = None,
        *,
        sort: str = "path",
        descending: bool = False,
        limit: int = 50,
        offset: int = 0,
        scores: bool = False,
    ) -> tuple[int, list[dict[str, Any]]]:
        """``(total, page)``: tagged tracks whose score reaches each filter's, paged.

        Parameters
        ----------
        filters : sequence of (tag, min)
            All must hold.
        search : str, optional
            A case-insensitive piece of the path (ASCII case).
        sort : str
            "path", "id" or a tag (its score).
        descending : bool
        limit, offset : int
        scores : bool
            Each row holds every tag's score (else only its top tags).
        """
        sort_args: list = []
        if sort not in self.column and sort not in SORTS:
            if sort not in self.taught_tags():
                raise ParameterError(f"sort must be 'path', 'id' or a tag, got {sort!r}")
            sort_args = [sort]
        where, args = self._where(filters, search)
        db = self._db()
        (total,) = db.execute(f"SELECT COUNT(*) FROM tracks WHERE {where}", args).fetchone()
        key = (
            "(SELECT score FROM taught WHERE tag = ? AND taught.id = tracks.id)"
            if sort_args
            else self.column.get(sort, sort)
        )
        cols = ", ".join(self.column.values()) if scores else ""
        rows = db.execute(
            f"SELECT id, path, top{', ' + cols if cols else ''} FROM tracks WHERE {where} "
            f"ORDER BY {key} {'DESC' if descending else 'ASC'}, id LIMIT ? OFFSET ?",
            args + sort_args + [int(limit), int(offset)],
        ).fetchall()  # fmt: skip
        out = [self._row(row, scores) for row in rows]
        if scores:
            self._add_taught([r["scores"] for r in out], [r["id"] for r in out])
        return total, out

    def _add_taught(self, scores: list[dict[str, Any]], ids: list[int]) -> None:
        """Add each taught tag's score (None where a track has none) to the rows' scores."""
        taught = self.taught_tags()
        if not taught or not ids:
            return
        found: dict[tuple[str, int], float] = {}
        db = self._db()
        if len(ids) > 500:  # a CSV of the library: one scan, not a query per 500 ids
            found.update(((t, i), s) for t, i, s in db.execute("SELECT tag, id, score FROM taught"))
        else:
            marks = ", ".join("?" * len(ids))
            found.update(((t, i), s) for t, i, s in db.execute(
                f"SELECT tag, id, score FROM taught WHERE id IN ({marks})", ids))  # fmt: skip
        for row, i in zip(scores, ids):
            row.update({t: found.get((t, i)) for t in taught})

    def _row(self, row: Sequence, scores: bool) -> dict[str, Any]:
        out = {"id": row[0], "path": row[1], "top": json.loads(row[2])}
        if scores:
            out["scores"] = dict(zip(self.tags, row[3:]))
        return out

    def track(self, track: int) -> dict[str, Any] | None:
        """One track with every score and its taggram (None when unknown)."""
        cols = ", ".join(self.column.values())
        db = self._db()
        row = db.execute(
            f"SELECT id, path, top, error, size, mtime, {cols} FROM tracks WHERE id = ?", (track,)
        ).fetchone()
        if row is None:
            return None
        out = {"id": row[0], "path": row[1], "top": json.loads(row[2]), "error": row[3], "size": row[4],
               "mtime": row[5], "scores": None if row[3] else dict(zip(self.tags, row[6:]))}  # fmt: skip
        if out["scores"] is not None:
            self._add_taught([out["scores"]], [track])
        taggram = db.execute("SELECT data FROM taggrams WHERE id = ?", (track,)).fetchone()
        out["taggram"] = None if taggram is None else json.loads(taggram[0])
        return out

    def counts(self, low: dict[str, float]) -> dict[str, int]:
        """Tracks whose score of each tag (the model's and the taught) reaches ``low[tag]``."""
        db = self._db()
        counts = {t: db.execute(f"SELECT COUNT(*) FROM tracks WHERE {self.column[t]} >= ?", (low[t],)).fetchone()[0]
                  for t in self.tags if t in low}  # fmt: skip
        for t in self.taught_tags():
            if t in low:
                counts[t] = db.execute(
                    "SELECT COUNT(*) FROM taught WHERE tag = ? AND score >= ? AND id IN "
                    "(SELECT id FROM tracks WHERE error IS NULL)",
                    (t, low[t]),
                ).fetchone()[0]
        return counts

    def close(self) -> None:
        """Close this thread's connection."""
        db = self._memory or getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
