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

from ..errors import DataError, ParameterError
from ..util.checks import probability, read_json
from ..util.files import write_text

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
        No file; not a thresholds file (not JSON, no "thresholds"); a tag the model
        does not have, or a threshold that is not a number in [0, 1] (NaN, a
        string, null, a list).
    """
    where = "thresholds"
    if isinstance(source, (str, os.PathLike)):
        data = read_json(source, "thresholds file of music-tagger calibrate")
        where = os.fspath(source)
        source = data.get("thresholds")
        if not isinstance(source, dict):
            raise DataError(f'{where} has no "thresholds" object; make it with music-tagger calibrate')
    if not isinstance(source, Mapping):
        raise ParameterError(f"thresholds must be a path or a mapping, got {type(source).__name__}")
    unknown = sorted(map(str, set(source) - set(tags)))
    if unknown:
        raise ParameterError(f"thresholds for tags the model does not have: {', '.join(unknown)}")
    out = {t: float("inf") for t in tags}
    for t, v in source.items():
        if isinstance(v, Mapping):
            if "threshold" not in v:
                raise DataError(f'{where}: the entry of {t!r} has no "threshold"')
            v = v["threshold"]
        out[t] = probability(v, f"{where}: the threshold of {t!r}")
    return out
