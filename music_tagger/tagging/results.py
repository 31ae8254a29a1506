"""Scores into tags: :func:`decode_predictions` and the per-file :class:`TagResult`.

Examples
--------
>>> import numpy as np
>>> from music_tagger.tagging.results import decode_predictions
>>> decode_predictions(np.linspace(0, 1, 50)[None], top_n=1)[0][0][0]
'happy'"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..errors import ParameterError
from ..registry import TAGS
from ..util.checks import positive_int


def _default_tags() -> list[str]:
    return list(TAGS)


def decode_predictions(
    preds: Any, top_n: int | None = 5, tags: Sequence[str] | None = None
) -> list[list[tuple[str, float]]]:
    """The ``top_n`` best tags of each row of a score array, best first.

    Parameters
    ----------
    preds : array-like, shape (n_samples, n_tags)
        Scores, e.g. ``model.predict(x)`` of a tagger (one row per clip).
    top_n : int or None
        How many tags per row (at most ``n_tags``; a larger value gives all of
        them). None gives all tags, sorted.
    tags : sequence of str, optional
        The name of each column; None (default) means :data:`music_tagger.TAGS`, the
        50 MSD tags.

    Returns
    -------
    list of list of (str, float)
        One list per row, sorted by decreasing score; equal scores keep the column
        order. Scores are Python floats at full precision (round them only for
        display).

    Raises
    ------
    ValueError
        ``preds`` is not a 2-D numeric array, its number of columns differs from
        ``len(tags)``, it holds NaN, or ``top_n`` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> from music_tagger import decode_predictions
    >>> p = np.zeros((1, 50), np.float32); p[0, 9] = 0.75; p[0, 23] = 0.5
    >>> decode_predictions(p, top_n=2)
    [[('jazz', 0.75), ('instrumental', 0.5)]]
    """
    top_n = positive_int(top_n, "top_n", allow_none=True)
    tags = _default_tags() if tags is None else list(tags)
    if hasattr(preds, "numpy") and not isinstance(preds, np.ndarray):
        preds = preds.numpy()  # a backend tensor
    try:
        arr = np.asarray(preds, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ParameterError(f"preds must be a numeric array, got {type(preds).__name__} ({err})") from err
    if arr.ndim == 1:
        raise ParameterError(
            f"Expected a 2D array of shape (n_samples, {len(tags)}), got a 1D array of "
            f"shape {arr.shape} instead. Reshape it with preds[None, :] for a single "
            "clip."
        )
    if arr.ndim != 2:
        raise ParameterError(
            f"Expected a 2D array of shape (n_samples, {len(tags)}), got an array of shape {arr.shape} instead."
        )
    if arr.shape[1] != len(tags):
        raise ParameterError(
            f"preds has {arr.shape[1]} columns but {len(tags)} tags were given; "
            "pass tags= with one name per column (the MSD taggers have 50 outputs; "
            "an include_top=False model outputs features, not tag scores)."
        )
    if np.isnan(arr).any():
        raise ParameterError("preds contains NaN")
    k = len(tags) if top_n is None else min(top_n, len(tags))
    order = np.argsort(-arr, axis=1, kind="stable")[:, :k]
    return [[(tags[j], float(row[j])) for j in idx] for row, idx in zip(arr, order)]


# --------------------------------------------------------------------------- results


@dataclass
class TagResult:
    """The outcome of tagging one file.

    Attributes
    ----------
    path : str
        The file, as given or as found in a folder.
    scores : np.ndarray of float32, shape (n_tags,), or None
        Mean sigmoid score of each tag over the crops (the single centre crop in
        faithful mode), in the order of ``tags``; None when the file failed.
    top : list of (str, float)
        The ``top_n`` best tags, best first, at full precision; empty on failure.
    error : str or None
        Why the file could not be tagged, or None.
    n_crops : int
        Crops that were averaged (0 on failure; 1 for a track no longer than one
        crop, whatever was asked).
    tags : list of str
        Name of each entry of ``scores``.
    taggram : music_tagger.tagging.taggram.Taggram or None
        Every crop's scores with its start and end time, when asked for.
    passed : list of str or None
        With thresholds: the tags whose score reaches their threshold, best first.
    """

    path: str
    scores: np.ndarray | None
    top: list[tuple[str, float]]
    error: str | None = None
    n_crops: int = 0
    tags: list[str] = field(default_factory=_default_tags, repr=False)
    taggram: Any = field(default=None, repr=False)
    passed: list[str] | None = None

    @property
    def ok(self) -> bool:
        """True when the file was tagged."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``{"path", "tags": [[tag, score], ...], "error"}``.

        With thresholds, also ``"passed": [tag, ...]``; with a taggram, also
        ``"taggram": {"tags", "start", "end", "scores"}``.
        """
        d: dict[str, Any] = {
            "path": self.path,
            "tags": [[t, s] for t, s in self.top],
            "error": self.error,
        }
        if self.passed is not None:
            d["passed"] = list(self.passed)
        if self.taggram is not None:
            d["taggram"] = {"tags": list(self.taggram.tags), **self.taggram.to_dict()}
        return d
