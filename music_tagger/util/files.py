"""Writing files so that an interrupted write never leaves one that looks complete.

Every file or folder the package publishes (feature stores, checkpoints, run state,
results, figures) is written under a temporary sibling name and renamed into place
with :func:`os.replace`, which is atomic on one file system: a reader sees the old
file or the whole new one, even after a SIGKILL.

Examples
--------
>>> from pathlib import Path
>>> from music_tagger.util.files import atomic_path, write_text
>>> write_text(Path("state.json"), "{}")                  # doctest: +SKIP
>>> with atomic_path(Path("model.keras")) as tmp:         # doctest: +SKIP
...     model.save(tmp)
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from ..errors import OutputExistsError, ParameterError

#: The prefix of the temporary names :func:`atomic_path` writes under.
TMP_PREFIX = "tmp-"


def is_temporary(path: str | os.PathLike) -> bool:
    """Whether ``path`` is named as the unfinished write of :func:`atomic_path`.

    Folders scanned for outputs (``*.h5`` stores, say) leave these out: a run
    killed while writing leaves one behind, cut short.

    Examples
    --------
    >>> is_temporary("features/tmp-train.h5"), is_temporary("features/train.h5")
    (True, False)
    """
    return Path(path).name.startswith(TMP_PREFIX)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; rename it to ``path`` on success.

    The temporary name is ``tmp-<name>``, so it keeps the suffix that some writers go
    by (``.keras``, ``.png``). A stale one left by an interrupted run is removed
    first, and a failed write removes its own. ``path`` may be a file or a folder
    (a folder must not exist yet).

    Parameters
    ----------
    path : str or path-like
        Where the finished file or folder appears.

    Yields
    ------
    pathlib.Path
        The temporary path to write.
    """
    path = Path(path)
    tmp = path.with_name(TMP_PREFIX + path.name)
    _remove(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def check_outputs(paths: Iterable[str | os.PathLike], *, overwrite: bool = False) -> None:
    """Check, before the work that makes them, that files can be written at ``paths``.

    An output of an earlier run is not replaced silently: one that exists raises
    :class:`~music_tagger.errors.OutputExistsError` unless ``overwrite``. A path
    below a file, or in a folder that cannot be written, raises
    :class:`~music_tagger.errors.ParameterError` (missing folders are made later).

    Examples
    --------
    >>> check_outputs(["surely/not/here.npy"])
    >>> check_outputs(["."])
    Traceback (most recent call last):
    ...
    music_tagger.errors.OutputExistsError: . exists: pass --overwrite (overwrite=True) to replace it, or choose another output
    """
    for path in map(Path, paths):
        if os.path.lexists(path) and not overwrite:
            raise OutputExistsError(
                f"{path} exists: pass --overwrite (overwrite=True) to replace it, or choose another output"
            )
        folder = path.absolute().parent
        while not folder.exists():  # the first folder that is there must be one we can write
            folder = folder.parent
        if not folder.is_dir():
            raise ParameterError(f"cannot write {path}: {folder} is a file, not a folder")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ParameterError(f"cannot write {path}: the folder {folder} is not writable")
