"""Writing files so that an interrupted write never leaves one that looks complete.

Every file or folder the package publishes (feature stores, checkpoints, run state,
results, figures, exports, the cached ONNX graphs) is written by
:func:`atomic_path`: under a temporary sibling name of its own, then renamed into
place, which is atomic on one file system: a reader sees the old output or the whole
new one, even after a SIGKILL, and the old one is never deleted before the new one
is complete. :func:`check_output` is the one check of an output path, made before
the work that writes it; both refuse to replace what is not a regular file or a
folder of the expected kind (a symbolic link, a FIFO, a device).

==========================================  ==========================================
the output path                             error
==========================================  ==========================================
exists and ``overwrite`` is False           :class:`~music_tagger.errors.OutputExistsError`
a symlink, FIFO, device or socket, or a     :class:`~music_tagger.errors.ParameterError`
folder where a file goes (or the reverse)
below a file, or in a folder that cannot    :class:`~music_tagger.errors.ParameterError`
be written (permissions, read-only mount)
its folder is missing (``parents=False``)   :class:`~music_tagger.errors.MissingFileError`
==========================================  ==========================================

Examples
--------
>>> from pathlib import Path
>>> from music_tagger.util.files import atomic_path, write_text
>>> write_text(Path("state.json"), "{}")                  # doctest: +SKIP
>>> with atomic_path(Path("model.keras")) as tmp:         # doctest: +SKIP
...     model.save(tmp)
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import secrets
import shutil
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import MissingFileError, OutputExistsError, ParameterError
from .locks import pid_alive

#: The prefix of the temporary names :func:`atomic_path` writes under.
TMP_PREFIX = "tmp-"
#: The kinds of output :func:`check_output` knows.
KINDS = ("file", "folder")


def is_temporary(path: str | os.PathLike) -> bool:
    """Whether ``path`` is named as the unfinished write of :func:`atomic_path`.

    Folders scanned for outputs (``*.h5`` stores, say) leave these out: a run
    killed while writing leaves one behind, cut short.

    Examples
    --------
    >>> is_temporary("features/tmp-4242-0badcafe-train.h5"), is_temporary("features/train.h5")
    (True, False)
    """
    return Path(path).name.startswith(TMP_PREFIX)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        path.unlink(missing_ok=True)


def _kind_of(path: Path) -> str | None:
    """``"file"``, ``"folder"``, what else is there ("a symbolic link", ...), or None if nothing."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):  # nothing there (or below a file)
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    return "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"


def check_output(
    path: str | os.PathLike, what: str = "output", *, kind: str = "file", overwrite: bool = False, parents: bool = True
) -> Path:
    """``path`` as a Path if a ``kind`` can be written there, else a one-line error.

    The one check of every output the package writes, made before the work that
    makes it (see the module docstring for the errors). Only a regular file (or a
    folder, for ``kind="folder"``) is ever replaced, and only with ``overwrite``.

    Parameters
    ----------
    path : str or path-like
    what : str
        What the output is, for the message ("export", "thresholds file").
    kind : {"file", "folder"}
    overwrite : bool
        Whether an output of this kind that is there may be replaced.
    parents : bool
        Whether missing folders above ``path`` are made (else: MissingFileError).

    Examples
    --------
    >>> check_output("surely/not/here.npy")
    PosixPath('surely/not/here.npy')
    >>> check_output(".", kind="folder")
    Traceback (most recent call last):
    ...
    music_tagger.errors.OutputExistsError: . exists: pass --overwrite (overwrite=True) to replace it, or choose another output
    """
    if not isinstance(path, (str, os.PathLike)) or isinstance(os.fspath(path), bytes) or not os.fspath(path):
        raise ParameterError(f"the {what} must be a path (str or os.PathLike), got {type(path).__name__} {path!r}")
    if kind not in KINDS:
        raise ParameterError(f"kind must be 'file' or 'folder', got {kind!r}")
    path = Path(path)
    there = _kind_of(path)
    if there is not None and there != kind:
        shown = there if there.startswith("a ") else f"a {there}"
        raise ParameterError(f"cannot write the {what} {path}: {shown} is there, not a {kind} (it is not replaced)")
    folder = path.absolute().parent
    while not folder.exists() and parents and folder != folder.parent:
        folder = folder.parent  # missing folders are made: the first one there must be writable
    if not folder.is_dir():
        if not os.path.lexists(folder):
            shown = path.parent if str(path.parent) not in ("", ".") else folder
            raise MissingFileError(f"cannot write the {what} {path}: folder {shown} does not exist")
        raise ParameterError(f"cannot write the {what} {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ParameterError(f"cannot write the {what} {path}: the folder {folder} is not writable")
    if there is not None and not overwrite:
        raise OutputExistsError(
            f"{path} exists: pass --overwrite (overwrite=True) to replace it, or choose another output"
        )
    return path


def check_outputs(paths: Iterable[str | os.PathLike], *, overwrite: bool = False) -> None:
    """:func:`check_output` of each of ``paths`` (files, missing folders made later).

    Examples
    --------
    >>> check_outputs(["surely/not/here.npy", "surely/not/here.csv"])
    """
    for path in paths:
        check_output(path, overwrite=overwrite)


def _temporary_name(path: Path, tag: str = "") -> Path:
    """A sibling name no other writer uses: ``tmp-<pid>-<random>-[tag]<name>``."""
    return path.with_name(f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{tag}{path.name}")


#: A temporary name of :func:`atomic_path`; group 1 is the writer's process id.
_TEMPORARY = re.compile(rf"{TMP_PREFIX}(\d+)-[0-9a-f]{{8}}-.+")
#: Folders whose stale temporaries this process removed already.
_CLEANED: set[str] = set()


def clean_stale(path: str | os.PathLike) -> list[Path]:
    """Remove the temporaries left beside ``path`` by writers that are no longer running.

    The folder is scanned once per process (a folder of many outputs costs one
    listing, not one per output); temporaries of a process that is alive (a write
    in progress) are kept, and the fixed ``tmp-<name>`` of earlier versions, which
    has no owner, goes whenever ``path`` is written. Returns what went.

    Examples
    --------
    >>> clean_stale("surely/not/here.npy")
    []
    """
    path = Path(path)
    gone = []
    legacy = path.with_name(TMP_PREFIX + path.name)
    if os.path.lexists(legacy) and not _TEMPORARY.fullmatch(legacy.name):
        _remove(legacy)
        gone.append(legacy)
    folder = os.path.abspath(path.parent)
    if folder in _CLEANED:
        return gone
    try:
        names = os.listdir(folder)
    except OSError:
        return gone
    _CLEANED.add(folder)
    for name in names:
        match = _TEMPORARY.fullmatch(name)
        if match and not pid_alive(int(match.group(1))):
            _remove(path.parent / name)
            gone.append(path.parent / name)
    return gone


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """Linux's renameat2 (1: no replace, 2: exchange); False where it is not there."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    if call(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False  # a file system without it
    raise OSError(err, os.strerror(err), str(dst))


def _publish(tmp: Path, path: Path, overwrite: bool) -> None:
    """Rename the complete ``tmp`` to ``path``: never a half-replaced output."""
    kind = "folder" if tmp.is_dir() else "file"
    there = _kind_of(path)
    if there is not None:
        check_output(path, kind=kind, overwrite=overwrite)  # what came since the first check
        if kind == "file":
            os.replace(tmp, path)
            return
        if _renameat2(tmp, path, 2):  # swapped in one step; tmp now holds the old folder
            _remove(tmp)
            return
        old = _temporary_name(path, "old-")
        os.rename(path, old)
        os.rename(tmp, path)
        _remove(old)
        return
    try:
        done = _renameat2(tmp, path, 0 if overwrite else 1)
    except FileExistsError:
        raise OutputExistsError(f"{path} was written by another run meanwhile; choose another output") from None
    if not done:
        os.rename(tmp, path)


@contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; rename it to ``path`` on success.

    The temporary name is ``tmp-<pid>-<random>-<name>``, unique to this write (two
    runs writing one output never share it) and keeping the suffix that some
    writers go by (``.keras``, ``.png``). Missing folders above ``path`` are made.
    Temporaries of killed writers are removed first (:func:`clean_stale`), and a failed write removes its own. ``path`` may be
    a file or a folder; the old output is replaced only once the new one is
    complete (a folder by an atomic exchange where the file system has one), and
    only if it is a regular file or folder of the same kind.

    Parameters
    ----------
    path : str or path-like
        Where the finished file or folder appears.
    overwrite : bool
        False: an output that appeared meanwhile is kept, and this write fails
        with :class:`~music_tagger.errors.OutputExistsError`.

    Yields
    ------
    pathlib.Path
        The temporary path to write.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)  # as check_output promised
    clean_stale(path)
    tmp = _temporary_name(path)
    try:
        yield tmp
        _publish(tmp, path, overwrite)
    except BaseException:
        _remove(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
