"""Shared validators of the public boundary, raising :class:`~music_tagger.errors.ParameterError`.

Examples
--------
>>> positive_int(3, "n_crops")
3
>>> positive_int(None, "top_n", allow_none=True) is None
True
"""
from __future__ import annotations

import math
import os
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Hashable, Sequence

from ..errors import DataError, MissingFileError, ParameterError


def positive_int(value: Any, name: str, *, allow_none: bool = False) -> int | None:
    """``value`` as an int if it is a positive integer (not a bool), else ParameterError."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        extra = " or None" if allow_none else ""
        raise ParameterError(f"{name} must be a positive integer{extra}, got {value!r}")
    return int(value)


def one_of(value: Any, name: str, choices: Sequence[Any], *, allow_none: bool = False) -> Any:
    """``value`` if it is one of ``choices`` (or None where allowed), else ParameterError.

    Examples
    --------
    >>> one_of("top", "level", ("multi", "top"))
    'top'
    """
    if (value is None and allow_none) or (isinstance(value, Hashable) and value in choices):
        return value
    extra = " or None" if allow_none else ""
    raise ParameterError(f"{name} must be one of {', '.join(map(repr, choices))}{extra}, got {value!r}")


def non_negative_int(value: Any, name: str, *, allow_none: bool = False) -> int | None:
    """``value`` as an int if it is an integer >= 0 (not a bool), else ParameterError.

    Examples
    --------
    >>> non_negative_int(0, "workers")
    0
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        extra = " or None" if allow_none else ""
        raise ParameterError(f"{name} must be a non-negative integer{extra}, got {value!r}")
    return int(value)


def positive_float(value: Any, name: str, *, allow_none: bool = False) -> float | None:
    """``value`` as a float if it is a finite number > 0 (not a bool or a string), else ParameterError.

    Examples
    --------
    >>> positive_float(2, "hop")
    2.0
    >>> positive_float(float("inf"), "hop")
    Traceback (most recent call last):
    ...
    music_tagger.errors.ParameterError: hop must be a finite positive number, got inf
    """
    if value is None and allow_none:
        return None
    number = _real(value)
    if number is None or not (math.isfinite(number) and number > 0):
        extra = " or None" if allow_none else ""
        raise ParameterError(f"{name} must be a finite positive number{extra}, got {value!r}")
    return number


def probability(value: Any, name: str) -> float:
    """``value`` as a float if it is a number in [0, 1] (not NaN, a bool or a string), else ParameterError.

    Examples
    --------
    >>> probability(0.25, "threshold of rock")
    0.25
    """
    number = _real(value)
    if number is None or not 0.0 <= number <= 1.0:
        raise ParameterError(f"{name} must be a number in [0, 1], got {value!r}")
    return number


def _real(value: Any) -> float | None:
    """``float(value)`` for a real number (numpy scalars included), None for anything else."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    try:
        return float(value)
    except (OverflowError, ValueError):  # a huge Fraction or Decimal
        return None


def readable_file(path: Any, what: str = "file") -> Path:
    """``path`` as a Path if it names a readable file, else a one-line error.

    Raises
    ------
    ParameterError
        ``path`` is not a path (e.g. a number or bytes).
    MissingFileError
        Nothing there, or a folder.
    DataError
        The file cannot be read (permissions).

    Examples
    --------
    >>> readable_file("no/such.json", "thresholds file")
    Traceback (most recent call last):
    ...
    music_tagger.errors.MissingFileError: no thresholds file at no/such.json
    """
    path = _path(path, what)
    if path.is_dir():
        raise MissingFileError(f"{path} is a folder, not a {what}")
    if not path.is_file():
        raise MissingFileError(f"no {what} at {path}")
    if not os.access(path, os.R_OK):
        raise DataError(f"{path}: permission denied (the {what} cannot be read)")
    return path


def existing_folder(path: Any, what: str = "folder") -> Path:
    """``path`` as a Path if it names a folder that can be listed, else a one-line error.

    Examples
    --------
    >>> existing_folder(".").is_dir()
    True
    """
    path = _path(path, what)
    if not path.is_dir():
        raise MissingFileError(f"no {what} at {path}" + (" (a file is there)" if path.exists() else ""))
    if not os.access(path, os.R_OK | os.X_OK):
        raise DataError(f"{path}: permission denied (the {what} cannot be read)")
    return path


def writable_output(path: Any, what: str = "output", *, folder: bool = False) -> Path:
    """``path`` as a Path if a file (``folder``: a folder) can be written there, else a one-line error.

    Checked before long work, so that a run does not fail at its end: the parent
    folder exists and is writable; what is there already is of the right kind
    (a file, or with ``folder`` a folder or nothing) and writable.

    Raises
    ------
    ParameterError
        ``path`` is not a path.
    MissingFileError
        The parent folder does not exist (or ``folder`` and its parent are missing).
    DataError
        Permission denied, or a folder where a file is wanted (and the reverse).

    Examples
    --------
    >>> writable_output("missing/thresholds.json", "thresholds file")
    Traceback (most recent call last):
    ...
    music_tagger.errors.MissingFileError: cannot write the thresholds file missing/thresholds.json: folder missing does not exist
    """
    path = _path(path, what)
    if path.exists():
        if folder and not path.is_dir():
            raise DataError(f"cannot write the {what} {path}: a file is there, not a folder")
        if not folder and path.is_dir():
            raise DataError(f"cannot write the {what} {path}: it is a folder")
        if not os.access(path, os.W_OK | (os.X_OK if folder else 0)):
            raise DataError(f"cannot write the {what} {path}: permission denied")
        return path
    parent = path.absolute().parent
    while folder and not parent.exists() and parent != parent.parent:
        parent = parent.parent  # a folder is made with its missing parents
    if not parent.is_dir():
        shown = path.parent if str(path.parent) not in ("", ".") else parent
        reason = "is not a folder" if parent.exists() else "does not exist"
        raise MissingFileError(f"cannot write the {what} {path}: folder {shown} {reason}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"cannot write the {what} {path}: folder {parent} is not writable")
    return path


def _path(path: Any, what: str) -> Path:
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise ParameterError(f"the {what} must be a path (str or os.PathLike), got {type(path).__name__} {path!r}")
    name = os.fspath(path)
    if isinstance(name, bytes) or not name:
        raise ParameterError(f"the {what} must be a non-empty path, got {path!r}")
    return Path(name)
