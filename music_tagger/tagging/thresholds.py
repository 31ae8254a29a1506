"""Per-tag thresholds files: written by calibration, read by tagging.

The JSON file::

    {"model": "crnn", "source": "valid.h5", "n_examples": 1529,
     "thresholds": {"rock": {"threshold": 0.31, "f1": 0.62, "support": 212}, ...}}

:func:`music_tagger.tagging.calibration.calibrate` writes it; ``tag(..., thresholds=FILE)``
reads it with :func:`load_thresholds`. Kept apart from the calibration (which uses
the tagger) so that the tagger can read thresholds without importing it.

Examples
--------
>>> from music_tagger.tagging.thresholds import load_thresholds
>>> load_thresholds({"rock": 0.3}, ["rock", "pop"])
{'rock': 0.3, 'pop': inf}
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..util.files import write_text
from ..errors import DataError, MissingFileError, ParameterError

__all__ = ["load_thresholds", "save_thresholds"]


def save_thresholds(path: str | os.PathLike, thresholds: Mapping[str, Mapping[str, Any]], **meta: Any) -> Path:
    """Write thresholds (and ``meta``, e.g. model and source) as JSON, atomically."""
    path = Path(path)
    write_text(path, json.dumps({**meta, "thresholds": dict(thresholds)}, indent=2) + "\n")
    return path


def load_thresholds(source: Any, tags: Sequence[str]) -> dict[str, float]:
    """``{tag: threshold}`` for every tag of ``tags`` (inf: never passes).

    Parameters
    ----------
    source : path-like or mapping
        A JSON file of :func:`save_thresholds`, or ``{tag: threshold}``, or
        ``{tag: {"threshold": ...}}``.
    tags : sequence of str
        The model's tags; a threshold for a tag not among them is an error.

    Raises
    ------
    MissingFileError, DataError, ParameterError
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise MissingFileError(f"no thresholds file at {path}; make one with music-tagger calibrate")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise DataError(f"{path} is not a JSON thresholds file ({err})") from err
        source = data.get("thresholds") if isinstance(data, dict) else None
        if not isinstance(source, dict):
            raise DataError(f'{path} has no "thresholds" object; make it with music-tagger calibrate')
    if not isinstance(source, Mapping):
        raise ParameterError(f"thresholds must be a path or a mapping, got {type(source).__name__}")
    unknown = sorted(set(source) - set(tags))
    if unknown:
        raise ParameterError(f"thresholds for tags the model does not have: {', '.join(unknown)}")
    out = {t: float("inf") for t in tags}
    for t, v in source.items():
        out[t] = float(v["threshold"] if isinstance(v, Mapping) else v)
    return out
