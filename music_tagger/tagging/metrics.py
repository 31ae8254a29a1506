"""Tagging metrics, Keras-free: ROC-AUC and PR-AUC per tag and averaged, and their files.

:func:`evaluate` computes the metrics from labels and scores; :func:`write_results`
writes one evaluation (JSON and a per-tag CSV, atomically); :func:`format_table`
prints it. Training, the linear probes and the benchmarks score with them.

The paper reports the ROC-AUC averaged over tags (macro); :func:`evaluate` also gives
the micro average, the per-tag ROC-AUC and average precision (PR-AUC) and the number
of positive examples per tag. A tag whose column holds a single class in ``y_true``
has no defined AUC: it is reported as NaN (``null`` in JSON), left out of the macro
means, and named in one warning.

Examples
--------
>>> import numpy as np
>>> from music_tagger.tagging.metrics import evaluate, format_table
>>> y_true = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
>>> y_score = np.array([[0.9, 0.2], [0.1, 0.8], [0.7, 0.4], [0.3, 0.1]])
>>> results = evaluate(y_true, y_score, tags=["rock", "jazz"])
>>> round(results["roc_auc_macro"], 3)
1.0
>>> print(format_table(results))  # doctest: +NORMALIZE_WHITESPACE
tag   ROC-AUC  PR-AUC  n_pos
rock    1.000   1.000      2
jazz    1.000   1.000      2
macro   1.000   1.000
"""

from __future__ import annotations

import csv
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from ..errors import ParameterError
from ..util import files as _atomic

__all__ = ["PER_TAG_FIELDS", "evaluate", "format_table", "write_results"]

PER_TAG_FIELDS = ("tag", "roc_auc", "pr_auc", "n_positive")


def _check_inputs(y_true: Any, y_score: Any, tags: Sequence[str] | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Validated ``(y_true, y_score, tags)``; raises ValueError naming the problem."""
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score)
    if y_true.ndim != 2 or y_score.ndim != 2:
        raise ParameterError(
            f"y_true and y_score must be 2-D (n_samples, n_tags); got shapes {y_true.shape} and {y_score.shape}"
        )
    if y_true.shape != y_score.shape:
        raise ParameterError(f"y_true and y_score must have the same shape; got {y_true.shape} and {y_score.shape}")
    if y_true.shape[0] < 2 or y_true.shape[1] < 1:
        raise ParameterError(f"need at least 2 samples and 1 tag; got shape {y_true.shape}")
    if not np.isin(y_true, (0, 1)).all():
        raise ParameterError("y_true must be binary with values in {0, 1}")
    if not np.issubdtype(y_score.dtype, np.number) or np.issubdtype(y_score.dtype, np.complexfloating):
        raise ParameterError(f"y_score must hold real numbers; got dtype {y_score.dtype}")
    if not np.isfinite(y_score).all():
        raise ParameterError("y_score must be finite (no NaN or inf)")
    n_tags = y_true.shape[1]
    if tags is None:
        tags = [f"tag_{i}" for i in range(n_tags)]
    tags = [str(t) for t in tags]
    if len(tags) != n_tags:
        raise ParameterError(f"got {len(tags)} tag names for {n_tags} columns (shape {y_true.shape})")
    return y_true.astype(np.int8), y_score.astype(np.float64), tags


def evaluate(y_true: Any, y_score: Any, tags: Sequence[str] | None = None) -> dict[str, Any]:
    """ROC-AUC and PR-AUC of multi-label tag scores, per tag and averaged.

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_tags)
        Ground truth, 0 or 1.
    y_score : array-like of shape (n_samples, n_tags)
        Finite scores (e.g. sigmoid outputs); higher means more likely.
    tags : sequence of str, optional
        One name per column; ``tag_0``, ``tag_1``, ... by default.

    Returns
    -------
    dict
        ``roc_auc_macro`` and ``pr_auc_macro``: means over the tags with a defined
        AUC; ``roc_auc_micro``: ROC-AUC of all (sample, tag) pairs pooled, as
        ``roc_auc_score(..., average="micro")``; ``n_samples``; ``per_tag``: a list
        of dicts with keys ``tag``, ``roc_auc``, ``pr_auc``, ``n_positive``, in
        column order. Undefined values are NaN.

    Raises
    ------
    ValueError
        If the arrays are not 2-D of equal shape, ``y_true`` is not binary,
        ``y_score`` is not finite, or ``len(tags)`` differs from the column count.

    Warns
    -----
    UserWarning
        Once, naming every tag whose ``y_true`` column holds a single class.

    Examples
    --------
    >>> r = evaluate([[1, 0], [0, 1], [1, 0]], [[0.8, 0.1], [0.2, 0.3], [0.6, 0.5]],
    ...              tags=["rock", "jazz"])
    >>> r["roc_auc_macro"]
    0.75
    >>> r["per_tag"][1]
    {'tag': 'jazz', 'roc_auc': 0.5, 'pr_auc': 0.5, 'n_positive': 1}
    """
    y_true, y_score, tags = _check_inputs(y_true, y_score, tags)
    per_tag = []
    undefined = []
    for j, tag in enumerate(tags):
        column = y_true[:, j]
        n_positive = int(column.sum())
        if 0 < n_positive < len(column):
            roc = float(roc_auc_score(column, y_score[:, j]))
            pr = float(average_precision_score(column, y_score[:, j]))
        else:
            roc = pr = math.nan
            undefined.append(tag)
        per_tag.append({"tag": tag, "roc_auc": roc, "pr_auc": pr, "n_positive": n_positive})
    if undefined:
        warnings.warn(
            f"ROC-AUC and PR-AUC undefined for {len(undefined)} tag(s) with a single "
            f"class in y_true, left out of the macro means: {', '.join(undefined)}",
            UserWarning,
            stacklevel=2,
        )
    n_pos_total = int(y_true.sum())
    micro = float(roc_auc_score(y_true, y_score, average="micro")) if 0 < n_pos_total < y_true.size else math.nan
    return {
        "roc_auc_macro": _nanmean([r["roc_auc"] for r in per_tag]),
        "pr_auc_macro": _nanmean([r["pr_auc"] for r in per_tag]),
        "roc_auc_micro": micro,
        "n_samples": int(y_true.shape[0]),
        "per_tag": per_tag,
    }


def _nanmean(values: list[float]) -> float:
    defined = [v for v in values if not math.isnan(v)]
    return float(np.mean(defined)) if defined else math.nan


def _nan_to_none(value: Any) -> Any:
    """A copy of nested dicts/lists with NaN floats replaced by None (JSON null)."""
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write_results(results: dict[str, Any], out: str | os.PathLike) -> tuple[Path, Path]:
    """Write the results of :func:`evaluate` as JSON (all) and CSV (per-tag table).

    Parameters
    ----------
    results : dict
        The output of :func:`evaluate`.
    out : str or path-like
        An existing folder, which receives ``results.json`` and ``results.csv``;
        otherwise a path prefix: ``out`` + ``.json`` and ``out`` + ``.csv``. Missing
        parent folders are created.

    Returns
    -------
    (json_path, csv_path) : tuple of pathlib.Path

    Raises
    ------
    ValueError
        If ``results`` lacks the ``per_tag`` list.

    Examples
    --------
    >>> results = evaluate([[1], [0]], [[0.9], [0.2]], tags=["rock"])
    >>> write_results(results, "runs/eval")           # doctest: +SKIP
    (PosixPath('runs/eval.json'), PosixPath('runs/eval.csv'))
    """
    if not isinstance(results, dict) or not isinstance(results.get("per_tag"), list):
        raise ParameterError("results must be the dict returned by evaluate()")
    out = Path(out)
    if out.is_dir():
        json_path, csv_path = out / "results.json", out / "results.csv"
    else:
        json_path = out.with_name(out.name + ".json")
        csv_path = out.with_name(out.name + ".csv")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    _atomic.write_text(json_path, json.dumps(_nan_to_none(results), indent=2, allow_nan=False))
    with _atomic.atomic_path(csv_path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=PER_TAG_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(results["per_tag"])
    return json_path, csv_path


def format_table(results: dict[str, Any]) -> str:
    """The per-tag table, best ROC-AUC first (undefined last), and the macro means.

    Parameters
    ----------
    results : dict
        The output of :func:`evaluate`.

    Returns
    -------
    str
        Lines of ``tag``, ``ROC-AUC``, ``PR-AUC`` and ``n_pos``; ``nan`` marks an
        undefined value.

    Examples
    --------
    >>> results = evaluate([[1, 0], [0, 1]], [[0.9, 0.4], [0.2, 0.6]], tags=["a", "b"])
    >>> print(format_table(results))  # doctest: +NORMALIZE_WHITESPACE
    tag   ROC-AUC  PR-AUC  n_pos
    a       1.000   1.000      1
    b       1.000   1.000      1
    macro   1.000   1.000
    """
    rows = sorted(
        results["per_tag"],
        key=lambda r: math.inf if math.isnan(r["roc_auc"]) else -r["roc_auc"],
    )
    width = max([len("macro")] + [len(r["tag"]) for r in rows])
    lines = [f"{'tag':<{width}}  ROC-AUC  PR-AUC  n_pos"]
    lines += [f"{r['tag']:<{width}}  {r['roc_auc']:7.3f}  {r['pr_auc']:6.3f}  {r['n_positive']:5d}" for r in rows]
    lines.append(f"{'macro':<{width}}  {results['roc_auc_macro']:7.3f}  {results['pr_auc_macro']:6.3f}")
    return "\n".join(lines)
