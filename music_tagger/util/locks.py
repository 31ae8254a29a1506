"""An exclusive lock on an output for the length of a run, naming the run that holds it.

Two runs that write the same file at once would interleave their records or write
into a file the other has replaced. :class:`OutputLock` takes an advisory
``flock`` on a lock file beside the output (``.<name>.lock``, in the folder of the
output's resolved path, so that every path spelling and symlink of one file shares
one lock) and writes the holder's PID into it; a second run fails at once with a
line naming that PID. The kernel drops the lock when its holder dies, SIGKILL
included, so a stale lock file is taken over by the next run.

Examples
--------
>>> from music_tagger.util.locks import OutputLock
>>> with OutputLock("tags.jsonl"):              # doctest: +SKIP
...     pass                                    # nobody else writes tags.jsonl here
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..errors import OutputLockedError, ParameterError

__all__ = ["OutputLock", "lock_file", "pid_alive"]


def lock_file(path: str | os.PathLike) -> Path:
    """The lock file of the output ``path``: ``.<name>.lock`` beside its resolved path.

    Examples
    --------
    >>> lock_file("/tmp/out/tags.jsonl").name
    '.tags.jsonl.lock'
    """
    target = Path(os.path.realpath(path))
    return target.with_name(f".{target.name}.lock")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


class OutputLock:
    """An exclusive, non-blocking lock on the output ``path`` (a context manager).

    Parameters
    ----------
    path : path-like
        The output file (it need not exist yet).

    Raises
    ------
    OutputLockedError
        On :meth:`acquire`, when another process holds the lock.
    ParameterError
        The lock file cannot be created (the output's folder is not writable).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self.file = lock_file(path)
        self._fd: int | None = None

    def acquire(self) -> "OutputLock":
        """Take the lock, or raise :class:`OutputLockedError` at once."""
        import fcntl

        while self._fd is None:
            try:
                fd = os.open(self.file, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as err:
                raise ParameterError(
                    f"cannot lock {self.path}: {self.file} cannot be created ({err.strerror})"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = self._holder(fd)
                os.close(fd)
                raise OutputLockedError(f"{self.path} is being written by another run ({holder})") from None
            try:  # a holder that finished removed the file we opened: take the new one
                same = os.path.samestat(os.fstat(fd), os.stat(self.file))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd
        return self

    @staticmethod
    def _holder(fd: int) -> str:
        """'PID n' of the holder (it writes its PID just after locking: wait a moment)."""
        for _ in range(20):
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            if text.isdigit():
                pid = int(text)
                if pid_alive(pid):
                    return f"PID {pid}"
                return f"PID {pid}, which has exited; a process it started still holds the lock"
            time.sleep(0.05)
        return "PID unknown"

    def release(self) -> None:
        """Drop the lock and remove the lock file (idempotent)."""
        if self._fd is None:
            return
        try:
            os.unlink(self.file)  # while still holding it: see acquire
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "OutputLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
