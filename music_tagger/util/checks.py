"""Shared validators of the public boundary, raising :class:`~music_tagger.errors.ParameterError`.

Examples
--------
>>> positive_int(3, "n_crops")
3
>>> positive_int(None, "top_n", allow_none=True) is None
True
"""
from __future__ import annotations

from numbers import Integral
from typing import Any, Hashable, Sequence

from ..errors import ParameterError


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
