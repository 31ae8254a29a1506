"""Parameter counts: what a network costs, widths for a budget, the table of all 20.

Examples
--------
>>> from music_tagger.models.budgets import count_params
>>> from music_tagger.models import build
>>> count_params(build("crnn"))                     # doctest: +SKIP
(396786, 400562)"""

from __future__ import annotations

import functools
import math

import keras

from ..errors import ParameterError
from . import architectures
from .builders import build


def count_params(model: keras.Model) -> tuple[int, int]:
    """``(trainable, total)`` parameters; the budgets count trainable ones.

    The total adds the BatchNorm moving statistics (and any frozen weights).

    Examples
    --------
    >>> count_params(build("crnn"))                      # doctest: +SKIP
    (396786, 400562)
    """
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    return int(trainable), int(model.count_params())


def derive_widths(arch: str, n_params: int) -> tuple[int, ...]:
    """The widths under the paper's scaling rule whose trainable count is nearest ``n_params``.

    The rule is :data:`music_tagger.models.architectures.SCALING_RULE`; this is how the k1c2
    and k2c1 rows of :data:`music_tagger.models.architectures.BUDGETS` were obtained. The count
    grows with the scale factor, so doubling it brackets the budget and a bisection
    on ``log(scale)`` finds the two width tuples around it; the nearer one wins.

    Examples
    --------
    >>> derive_widths("k1c2", 100_000)                   # doctest: +SKIP
    (11, 23, 23, 34, 27, 27)
    """
    counts: dict[tuple[int, ...], int] = {}

    def trainable(scale: float) -> int:
        widths = architectures.scaled_widths(arch, scale)
        if widths not in counts:
            counts[widths] = count_params(build(arch, widths=widths))[0]
        return counts[widths]

    if n_params <= trainable(1e-3):
        raise ParameterError(f"n_params={n_params} is below the smallest {arch}")
    low, high = 1e-3, 1.0
    while trainable(high) < n_params:  # bracket without building huge models
        low, high = high, 2 * high
    for _ in range(40):
        mid = math.sqrt(low * high)
        low, high = (mid, high) if trainable(mid) < n_params else (low, mid)
    candidates = (architectures.scaled_widths(arch, low), architectures.scaled_widths(arch, high))
    return min(candidates, key=lambda w: abs(counts[w] - n_params))


@functools.lru_cache(maxsize=1)
def _table() -> tuple[tuple, ...]:
    rows = []
    for arch in architectures.ARCHS:
        for budget, widths in sorted(architectures.BUDGETS[arch].items()):
            trainable, total = count_params(build(arch, widths=widths))
            rows.append((arch, budget, widths, trainable, total, trainable / budget))
    return tuple(rows)


def table() -> list[dict]:
    """All 20 budget configurations with their exact parameter counts.

    Builds each model once per process (about 20 x 0.2 s) and caches the counts.

    Returns
    -------
    list of dict
        One per (structure, budget), with keys ``arch``, ``budget``, ``widths``,
        ``trainable``, ``total`` (with BatchNorm moving statistics) and ``ratio``
        (``trainable / budget``, within
        :data:`music_tagger.models.architectures.BUDGET_TOLERANCE` of 1).

    Examples
    --------
    >>> table()[0]                                       # doctest: +SKIP
    {'arch': 'k1c2', 'budget': 100000, 'widths': (11, 23, 23, 34, 27, 27), ...}
    """
    keys = ("arch", "budget", "widths", "trainable", "total", "ratio")
    return [dict(zip(keys, row)) for row in _table()]
