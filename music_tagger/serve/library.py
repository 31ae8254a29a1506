"""A library on disk: its roots, its records and index, and the job that tags it.

:class:`Library` owns the folders it serves and two files beside each other: the
records (``<index>.records.jsonl``, written by the tagging pipeline, locked while
a job runs, resumed after a kill) and the SQLite index built from them
(:class:`music_tagger.serve.index.Index`). :meth:`Library.start` tags in a
background thread with :func:`music_tagger.tagging.iter_tag` on the onnx runtime
(never TensorFlow): every audio file under the roots whose path, size and
modification time are not in the index yet, so that a restart tags only new and
changed files. Each record is written (and flushed) before its index row, in that
order, so a SIGKILL can leave the index one record behind, never ahead; the next
start sees the records' size differ and rebuilds the index from them.

Examples
--------
>>> lib = Library(["/music"], "/tmp/music.sqlite")       # doctest: +SKIP
>>> lib.start(); lib.status()["state"]                    # doctest: +SKIP
'tagging'
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from typing import Any, Sequence

from ..errors import ParameterError
from ..registry import TAGS, cache_folder
from ..tagging.taggram import check_hop
from ..util.checks import existing_folder, non_negative_int
from .index import Index
from .teaching import Teacher

__all__ = ["LIBRARY_HOP", "Library", "default_index"]

#: Seconds between the taggram crops of the library's tracks by default: a 4 minute
#: track gets 16 crops (``music-tagger tag`` averages 8), three times fewer than
#: with ``tag --taggram``'s :data:`music_tagger.tagging.taggram.DEFAULT_HOP`.
LIBRARY_HOP = 15.0
_LOG = logging.getLogger("music_tagger.serve")


def default_index(roots: Sequence[str]) -> str:
    """The index of a set of library folders when none is named: in the package's cache.

    Examples
    --------
    >>> default_index(["/music"]).endswith("index.sqlite")
    True
    """
    key = "\n".join(sorted(os.path.realpath(r) for r in roots)).encode()
    return str(cache_folder() / "serve" / hashlib.sha256(key).hexdigest()[:16] / "index.sqlite")


def inside(path: str, roots: Sequence[str]) -> bool:
    """Whether ``path``, every symlink resolved, lies inside one of ``roots`` (resolved).

    Examples
    --------
    >>> inside("/music/../etc/passwd", ["/music"])
    False
    """
    real = os.path.realpath(path)
    return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


class Library:
    """Folders of audio, their records and index, and the background tagging job.

    Parameters
    ----------
    roots : sequence of path-like
        Library folders (their audio files, found recursively, are tagged and served).
    index : path-like, optional
        The SQLite index; default :func:`default_index`. The records are
        ``<index>.records.jsonl`` beside it.
    workers : int
        Processes that read audio for the job (0: in its thread).
    hop : float, optional
        Seconds between taggram crops (checked by
        :func:`music_tagger.tagging.taggram.check_hop`); default :data:`LIBRARY_HOP`.
    """

    def __init__(self, roots: Sequence[str | os.PathLike], index: str | os.PathLike | None = None,
                 *, workers: int = 1, hop: float | None = None):  # fmt: skip
        # one folder typed twice ("music", "music/", "./music") is one root
        self.roots = list(dict.fromkeys(os.path.realpath(existing_folder(r, "library folder")) for r in roots))
        self.index_path = os.path.abspath(os.fspath(index) if index is not None else default_index(self.roots))
        self.records_path = self.index_path + ".records.jsonl"
        self.workers = non_negative_int(workers, "workers")
        self.hop = check_hop(LIBRARY_HOP if hop is None else hop)
        folder = os.path.dirname(self.index_path)
        if os.path.isdir(self.index_path):
            raise ParameterError(f"the index {self.index_path} is a folder: name a file")
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as err:
            raise ParameterError(f"cannot make the index's folder {folder}: {err.strerror}") from None
        if not os.access(folder, os.W_OK):
            raise ParameterError(f"cannot write the index in {folder}: the folder is not writable")
        self.index = Index(self.index_path, TAGS)
        self._status: dict[str, Any] = {
            "state": "idle", "done": 0, "total": 0, "errors": 0, "skipped": 0, "files_per_second": 0.0,
            "started": None, "eta_s": None, "error": None, "left_out": 0,
        }  # fmt: skip
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.teacher = Teacher(self)

    # ----------------------------------------------------------------- the job

    def start(self) -> None:
        """Tag the library in a background thread (returns at once)."""
        self._set(state="scanning", started=time.time())
        self._thread = threading.Thread(target=self._run, name="music-tagger library", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the job to stop after the file it is on, and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._status.update(changes)

    def status(self) -> dict[str, Any]:
        """The job: ``state`` (idle, scanning, tagging, done, failed), files ``done`` of
        ``total`` to tag, ``errors``, ``skipped`` (unchanged), ``files_per_second``,
        ``started`` (Unix time), ``eta_s``, ``error`` (why it failed) and ``left_out``
        (files whose name is not UTF-8: the index and the API cannot hold them)."""
        with self._lock:
            return dict(self._status)

    def files(self) -> list[str]:
        """The audio files under the roots, sorted, symlinks leading out left out."""
        from ..audio.files import expand_paths

        found = [p for p in expand_paths(self.roots) if os.path.isfile(p) and inside(p, self.roots)]
        return sorted(set(found))  # a folder inside another root: its files once

    def _run(self) -> None:
        try:
            self._tag_library()
            if not self._stop.is_set():
                self.teacher.refresh()  # taught tags scored on new, changed or re-indexed tracks
        except Exception as err:  # the server stays up and says why in /v1/status
            self._set(state="failed", error=f"{type(err).__name__}: {err}".splitlines()[0])

    def _tag_library(self) -> None:
        from ..tagging import iter_tag
        from ..tagging.records import open_output, read_records

        with open_output(self.records_path, "jsonl", resume=True, taggram=True) as out:
            size = os.path.getsize(self.records_path)
            if size != self.index.records_size:
                self.index.rebuild(read_records(self.records_path, "jsonl"), records_size=size)
            found = self.files()
            files = [p for p in found if _utf8(p)]
            for p in sorted(set(found) - set(files)):  # SQLite and JSON hold text: one line each, the others go on
                _LOG.warning(
                    "%s: the file name is not UTF-8; left out (rename it to serve it)",
                    p.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"),
                )
            self._set(left_out=len(found) - len(files))
            known = self.index.stats()
            stats = {p: st for p in files if (st := _stat(p)) is not None}
            files = [p for p in files if p in stats]  # gone since the listing: as if never there
            self.index.remove_missing(set(files))
            todo = [p for p in files if known.get(p) != stats[p]]
            self._set(state="tagging", total=len(todo), skipped=len(files) - len(todo))
            start, errors = time.monotonic(), 0
            results = iter_tag(todo, runtime="onnx", top_n=None, taggram=True, hop=self.hop,
                               workers=min(self.workers, len(todo)), progress=False)  # fmt: skip
            for done, result in enumerate(results, 1):
                record = dict(result.to_dict(), size=stats[result.path][0], mtime=stats[result.path][1])
                out.write(record)
                self.index.upsert([record], records_size=os.path.getsize(self.records_path))
                errors += result.error is not None
                rate = done / max(time.monotonic() - start, 1e-9)
                self._set(done=done, errors=errors, files_per_second=rate, eta_s=(len(todo) - done) / rate)
                if self._stop.is_set():
                    results.close()
                    break
        self._set(state="done" if not self._stop.is_set() else "stopped", eta_s=0.0)


def _utf8(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _stat(path: str) -> tuple[int, float] | None:
    try:
        st = os.stat(path)
    except OSError:  # removed (or made unreadable) since it was listed
        return None
    return st.st_size, st.st_mtime
