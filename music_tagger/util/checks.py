"""Shared validators of the public boundary, raising :class:`~music_tagger.errors.ParameterError`.

Examples
--------
>>> positive_int(3, "n_crops")
3
>>> positive_int(None, "top_n", allow_none=True) is None
True
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Hashable, Iterator, Sequence

from ..errors import DataError, MissingFileError, ParameterError
from ..vocabulary import MSD_NETWORKS


def positive_int(value: Any, name: str, *, allow_none: bool = False) -> int | None:
    """``value`` as an int if it is a positive integer (not a bool), else ParameterError."""
    return _int_at_least(value, name, 1, "a positive integer", allow_none)


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


def pretrained_name(model: Any, *, or_model: bool = False) -> str:
    """The pretrained network ``model`` names, lower-cased (a key of
    :data:`music_tagger.vocabulary.MSD_NETWORKS`), else ParameterError.

    The one check of a pretrained name. ``or_model=True`` where the caller also takes
    a model object: the message says so, and names the type of anything but a string
    (call it for an object that is not a model, to raise).

    Examples
    --------
    >>> pretrained_name("CRNN")
    'crnn'
    >>> pretrained_name("vgg", or_model=True)
    Traceback (most recent call last):
    ...
    music_tagger.errors.ParameterError: model must be 'crnn', 'cnn' or a keras.Model, got 'vgg'
    """
    key = model.lower() if isinstance(model, str) else None
    if key in MSD_NETWORKS:
        return key
    names = [repr(name) for name in MSD_NETWORKS] + (["a keras.Model"] if or_model else [])
    got = repr(model) if isinstance(model, str) or not or_model else type(model).__name__
    raise ParameterError(f"model must be {', '.join(names[:-1])} or {names[-1]}, got {got}")


def non_negative_int(value: Any, name: str, *, allow_none: bool = False) -> int | None:
    """``value`` as an int if it is an integer >= 0 (not a bool), else ParameterError.

    Examples
    --------
    >>> non_negative_int(0, "workers")
    0
    """
    return _int_at_least(value, name, 0, "a non-negative integer", allow_none)


def int_between(value: Any, name: str, low: int, high: int | None = None, *, allow_none: bool = False) -> int | None:
    """``value`` as an int if it is an integer (not a bool) in ``[low, high]``, else ParameterError.

    The one integer check of the package: :func:`positive_int` and
    :func:`non_negative_int` are its two common cases.

    Examples
    --------
    >>> int_between(2, "frames", 2)
    2
    >>> int_between(5, "conv_until", 0, 4)
    Traceback (most recent call last):
    ...
    music_tagger.errors.ParameterError: conv_until must be an integer in [0, 4], got 5
    """
    expected = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
    return _int_at_least(value, name, low, expected, allow_none, high)


def _int_at_least(
    value: Any, name: str, low: int, expected: str, allow_none: bool, high: int | None = None
) -> int | None:
    if value is None and allow_none:
        return None
    bad = isinstance(value, bool) or not isinstance(value, Integral)
    if bad or value < low or (high is not None and value > high):
        extra = " or None" if allow_none else ""
        raise ParameterError(f"{name} must be {expected}{extra}, got {value!r}")
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

    :func:`music_tagger.util.files.check_output` with what is there replaced
    (a regular file, or a folder with ``folder``) and, for a file, its folder
    required to exist; checked before long work, so that a run does not fail at
    its end.

    Raises
    ------
    ParameterError
        ``path`` is not a path; a folder where a file is wanted (and the reverse),
        a link or a special file there; a folder that cannot be written.
    MissingFileError
        The folder of a file does not exist.

    Examples
    --------
    >>> writable_output("missing/thresholds.json", "thresholds file")
    Traceback (most recent call last):
    ...
    music_tagger.errors.MissingFileError: cannot write the thresholds file missing/thresholds.json: folder missing does not exist
    """
    from .files import check_output

    path = _path(path, what)
    return check_output(path, what, kind="folder" if folder else "file", overwrite=True, parents=folder)


def _path(path: Any, what: str) -> Path:
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise ParameterError(f"the {what} must be a path (str or os.PathLike), got {type(path).__name__} {path!r}")
    name = os.fspath(path)
    if isinstance(name, bytes) or not name:
        raise ParameterError(f"the {what} must be a non-empty path, got {path!r}")
    return Path(name)


# --------------------------------------------------------------------------- files the package reads


def read_json(path: Any, what: str, *, kind: type | None = dict) -> Any:
    """The JSON value in the file ``path`` (a ``what``), or one line saying why not.

    Parameters
    ----------
    path : str or path-like
    what : str
        What the file is, for the message ("thresholds file", "run state").
    kind : type or None
        The type the top-level value must have (default a JSON object); None
        takes any.

    Raises
    ------
    MissingFileError
        No file there.
    DataError
        Not UTF-8 text, not JSON, or not a ``kind``.

    Examples
    --------
    >>> import json, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "t.json")
    >>> with open(path, "w") as f:
    ...     _ = f.write("[1, 2]")
    >>> read_json(path, "thresholds file", kind=list)
    [1, 2]
    """
    text = read_text(path, what)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"{path} is not a {what}: invalid JSON ({err})") from None
    if kind is not None and not isinstance(data, kind):
        expected = {dict: "an object", list: "an array"}.get(kind, kind.__name__)
        raise DataError(f"{path} is not a {what}: it holds a JSON {_json_type(data)}, expected {expected}")
    return data


def read_text(path: Any, what: str) -> str:
    """The UTF-8 text of the file ``path`` (a ``what``), line ends as they are, or one line saying why not.

    Raises
    ------
    MissingFileError
        No file there.
    DataError
        Not UTF-8 text (random bytes, a binary file), or unreadable.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "labels.csv")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"path,tags\\r\\n\\xff")
    >>> read_text(path, "labelled CSV")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    music_tagger.errors.DataError: ... is not a labelled CSV: it is not UTF-8 text
    """
    path = readable_file(path, what)
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a {what}: it is not UTF-8 text") from None
    except OSError as err:
        raise DataError(f"cannot read the {what} {path}: {err.strerror or err}") from None


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def load_array(path: Any, what: str) -> Any:
    """The array in the ``.npy`` file ``path``, read without pickle, or one line saying why not.

    Raises
    ------
    MissingFileError, DataError

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.zeros(3))
    >>> load_array(path, "feature matrix").shape
    (3,)
    """
    import numpy as np

    path = readable_file(path, what)
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:  # garbage, truncated, pickled objects
        raise DataError(f"{path} is not a {what}: {_numpy_reason(err)}") from None


def load_arrays(path: Any, what: str, names: Sequence[str]) -> dict[str, Any]:
    """The arrays ``names`` of the ``.npz`` file ``path``, read without pickle, or one line.

    Raises
    ------
    MissingFileError, DataError
        Not an ``.npz`` file, or one of ``names`` is missing.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "p.npz")
    >>> np.savez(path, coef=np.ones(2))
    >>> load_arrays(path, "probe", ["coef"])["coef"]
    array([1., 1.])
    """
    import zipfile

    import numpy as np

    path = readable_file(path, what)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [n for n in names if n not in data.files]
            if missing:
                raise DataError(f"{path} is not a {what}: it has no {', '.join(missing)}")
            return {n: data[n] for n in names}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{path} is not a {what}: {_numpy_reason(err)}") from None


def _numpy_reason(err: BaseException) -> str:
    """Why numpy could not read a file, in a few words."""
    if "pickled" in str(err):  # numpy's fallback for bytes that are not an array file
        return "not a numpy array file (.npy/.npz), or one holding Python objects"
    return _first_line(err)


@contextlib.contextmanager
def open_h5(path: Any, what: str = "feature store") -> Iterator[Any]:
    """``h5py.File(path, "r")``, or one line saying why it cannot be read.

    Raises
    ------
    MissingFileError
        No file there.
    DataError
        Not HDF5 (random bytes), truncated, locked by a process writing it, or
        malformed inside (a missing dataset or attribute, a read error).

    Examples
    --------
    >>> with open_h5("features/valid.h5") as f:    # doctest: +SKIP
    ...     f["y"].shape
    (1529, 50)
    """
    import h5py

    path = readable_file(path, what)
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        text = str(err)
        if "truncated" in text:
            reason = "the file is truncated (an interrupted copy or write?)"
        elif "unable to lock" in text:
            reason = "another process has it open for writing; wait for it to finish"
        elif "signature not found" in text:
            reason = "not an HDF5 file"
        else:
            reason = _first_line(err)
        raise DataError(f"cannot read the {what} {path}: {reason}") from None
    try:
        with f:
            yield f
    except (KeyError, OSError) as err:  # a dataset or attribute missing, a damaged block
        raise DataError(f"{path} is not a readable {what}: {_first_line(err)}") from None


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
