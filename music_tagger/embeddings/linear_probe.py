"""A linear probe: one logistic regression per tag on pretrained features.

The cheapest transfer there is, and the yardstick any fine-tune must beat: the
features of :mod:`music_tagger.embeddings.extract` are standardised (train mean and standard
deviation), one scikit-learn ``LogisticRegression`` (liblinear: on a few hundred
clips it is 10-100 times faster here than lbfgs) is fitted per tag on the train
split, and the inverse regularisation ``C`` (shared by the tags) is the one with the
best macro ROC-AUC on the validation split.

A fitted :class:`LinearProbe` is saved without pickle: ``probe.npz`` (coefficients,
intercepts, standardisation) and ``probe.json`` (tags, ``C``, and how the features
were computed), so :func:`load_probe` reads it back in any version and
:meth:`LinearProbe.tag` tags new audio files.

Examples
--------
>>> from music_tagger.embeddings.linear_probe import probe
>>> results = probe("feats", "runs/probe")                # doctest: +SKIP
>>> round(results["test"]["roc_auc_macro"], 3)             # doctest: +SKIP
0.861
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_array, check_is_fitted

from ..audio import KAISER_BEST_2016
from ..errors import DataError, MissingFileError, ParameterError
from ..tagging.metrics import evaluate, write_results
from ..util.checks import load_arrays, positive_float, read_json
from ..util.files import atomic_path, check_outputs, write_text

__all__ = ["DEFAULT_CS", "LinearProbe", "load_probe", "probe", "tag_with_probe"]

#: Inverse regularisation strengths tried on the validation split.
DEFAULT_CS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 1.0, 10.0)


def _check_labels(y: Any, n: int) -> np.ndarray:
    y = check_array(y, ensure_2d=True, dtype=None)
    if len(y) != n:
        raise ParameterError(f"{n} feature rows but {len(y)} label rows")
    if not np.isin(y, (0, 1)).all():
        raise ParameterError("labels must be 0 or 1 (an (n_samples, n_tags) indicator matrix)")
    return y.astype(np.uint8)


class LinearProbe(ClassifierMixin, BaseEstimator):
    """Per-tag logistic regression on standardised features, ``C`` chosen on validation.

    Parameters
    ----------
    Cs : sequence of float
        Candidate inverse regularisation strengths. With one value, or without
        validation data in :meth:`fit`, the first is used.
    max_iter : int
        liblinear iterations per fit.
    tags : sequence of str, optional
        Names of the label columns (for :meth:`tag` and the results).
    feature_meta : dict, optional
        How the features were computed (``arch``, ``level``, ``bn_semantics``,
        ``crops``, ``resampler``), needed by :meth:`tag`.

    Attributes
    ----------
    coef_ : np.ndarray, shape (n_tags, n_features)
        On the standardised features.
    intercept_ : np.ndarray, shape (n_tags,)
    mean_, scale_ : np.ndarray, shape (n_features,)
        The standardisation.
    C_ : float
        The chosen inverse regularisation.
    validation_ : dict
        ``C`` -> validation macro ROC-AUC (empty without validation data).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(40, 3)); y = (x[:, :2] > 0).astype(int)
    >>> p = LinearProbe(Cs=[1.0]).fit(x, y)
    >>> p.predict_proba(x).shape
    (40, 2)
    """

    def __init__(
        self,
        Cs: Sequence[float] = DEFAULT_CS,
        max_iter: int = 2000,
        tags: Sequence[str] | None = None,
        feature_meta: dict | None = None,
    ):
        self.Cs = Cs
        self.max_iter = max_iter
        self.tags = tags
        self.feature_meta = feature_meta

    def _fit_one_c(self, x: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.linear_model import LogisticRegression

        coef = np.zeros((y.shape[1], x.shape[1]))
        intercept = np.zeros(y.shape[1])
        for j in range(y.shape[1]):
            positives = y[:, j].mean()
            if positives in (0.0, 1.0):  # nothing to learn: the constant prior
                warnings.warn(f"tag column {j} is constant in the training data", stacklevel=3)
                intercept[j] = 20.0 if positives else -20.0
                continue
            model = LogisticRegression(C=c, solver="liblinear", max_iter=self.max_iter, random_state=0).fit(x, y[:, j])
            coef[j], intercept[j] = model.coef_[0], model.intercept_[0]
        return coef, intercept

    def fit(self, X: Any, y: Any, X_valid: Any = None, y_valid: Any = None) -> "LinearProbe":
        """Fit on ``(X, y)``; choose ``C`` by macro ROC-AUC on ``(X_valid, y_valid)``.

        Parameters
        ----------
        X : array-like, shape (n, n_features)
        y : array-like, shape (n, n_tags), 0/1
        X_valid, y_valid : array-like, optional
            Validation data; without it, the first of ``Cs`` is used.

        Returns
        -------
        self
        """
        x = check_array(X, dtype=np.float64)
        y = _check_labels(y, len(x))
        cs = _check_cs(self.Cs)
        self.n_features_in_ = x.shape[1]
        self.mean_ = x.mean(axis=0)
        self.scale_ = x.std(axis=0)
        self.scale_[self.scale_ < 1e-12] = 1.0  # a constant feature stays 0
        z = (x - self.mean_) / self.scale_
        self.validation_ = {}
        best = None
        if X_valid is None or len(cs) == 1:
            chosen = cs[0]
        else:
            xv = self._standardise(X_valid)
            yv = _check_labels(y_valid, len(xv))
            for c in cs:
                coef, intercept = self._fit_one_c(z, y, c)
                auc = evaluate(yv, xv @ coef.T + intercept)["roc_auc_macro"]
                self.validation_[c] = auc
                if best is None or auc > best[0]:
                    best = (auc, c, coef, intercept)
            chosen = best[1]
        if best is None:
            self.coef_, self.intercept_ = self._fit_one_c(z, y, chosen)
        else:
            self.coef_, self.intercept_ = best[2], best[3]
        self.C_ = chosen
        return self

    def _standardise(self, X: Any) -> np.ndarray:
        x = check_array(X, dtype=np.float64)
        if x.shape[1] != self.n_features_in_:
            raise ParameterError(f"X has {x.shape[1]} features, but the probe was fitted on {self.n_features_in_}")
        return (x - self.mean_) / self.scale_

    def decision_function(self, X: Any) -> np.ndarray:
        """Per-tag logits, shape ``(n, n_tags)``."""
        check_is_fitted(self, "coef_")
        return self._standardise(X) @ self.coef_.T + self.intercept_

    def predict_proba(self, X: Any) -> np.ndarray:
        """Per-tag probabilities, shape ``(n, n_tags)`` (one column per tag, not per class)."""
        from scipy.special import expit  # no overflow warning for logits far below 0

        return expit(self.decision_function(X))

    def predict(self, X: Any) -> np.ndarray:
        """0/1 per tag, at probability 0.5."""
        return (self.predict_proba(X) >= 0.5).astype(np.uint8)

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``probe.npz`` and ``probe.json`` into ``folder`` (no pickle); returns the folder."""
        check_is_fitted(self, "coef_")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / "probe.npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, coef=self.coef_, intercept=self.intercept_, mean=self.mean_, scale=self.scale_)
        info = {
            "format": "music_tagger.linear_probe/1",
            "C": self.C_,
            "Cs": [float(c) for c in self.Cs],
            "max_iter": int(self.max_iter),
            "validation_roc_auc": {str(c): a for c, a in self.validation_.items()},
            "tags": None if self.tags is None else list(self.tags),
            "feature_meta": self.feature_meta,
        }
        write_text(folder / "probe.json", json.dumps(info, indent=1))
        return folder

    def _feature_options(self) -> dict[str, Any]:
        """How the training features were computed: the options of ``features``."""
        meta = self.feature_meta or {}
        missing = [k for k in ("arch", "level") if k not in meta]
        if missing:
            raise ParameterError(f"the probe does not know how its features were computed ({missing})")
        return dict(arch=meta["arch"], level=meta["level"], bn_semantics=meta.get("bn_semantics"),
                    crops=meta.get("crops", 1), resampler=meta.get("resampler", KAISER_BEST_2016))  # fmt: skip

    def tag(self, paths: Any, *, batch_size: int = 8, progress: bool = False) -> np.ndarray:
        """Probabilities of the tags for audio files, computing their features as in training.

        Returns
        -------
        np.ndarray, shape (n_files, n_tags)
        """
        from .extract import features

        x = features(paths, batch_size=batch_size, progress=progress, **self._feature_options())
        return self.predict_proba(x)

    def tag_files(
        self, paths: Any, *, batch_size: int = 8, progress: bool = False
    ) -> tuple[np.ndarray, list[str], list[tuple[str, str]]]:
        """:meth:`tag` of the files that can be read; the others are reported, not raised.

        Returns
        -------
        scores : np.ndarray, shape (n_read, n_tags)
        read : list of str
            The files scored, in order.
        failed : list of (str, str)
            ``(path, message)`` of each unreadable file.

        Examples
        --------
        >>> scores, read, failed = load_probe("runs/probe").tag_files(["a.mp3", "bad.mp3"])  # doctest: +SKIP
        """
        from .extract import file_features

        x, read, failed = file_features(paths, batch_size=batch_size, progress=progress, **self._feature_options())
        scores = self.predict_proba(x) if read else np.zeros((0, len(self.intercept_)), np.float64)
        return scores, read, failed


def tag_with_probe(probe: LinearProbe, paths: Any) -> tuple[np.ndarray, list[str], list[str], list[tuple[str, str]]]:
    """Score audio files with a probe, named: a taught tag beside the default tagger's 50 MSD tags.

    A probe of :func:`music_tagger.embeddings.few_shot.teach` (``feature_meta["taught"]``)
    is followed by the scores of :func:`music_tagger.tag` for the same files (NaN where
    the tagger fails on one); a probe without tag names gets ``tag_0``, ``tag_1``, ...
    Unreadable files are reported, not raised.

    Returns
    -------
    scores : np.ndarray, shape (n_read, n_tags)
    tags : list of str
        The name of each column.
    read : list of str
        The files scored, in order.
    failed : list of (str, str)
        ``(path, message)`` of each unreadable file.

    Examples
    --------
    >>> scores, tags, read, failed = tag_with_probe(load_probe("probes/chiptune"), ["a.mp3"])  # doctest: +SKIP
    >>> tags[:2]                                                                               # doctest: +SKIP
    ['chiptune', 'rock']
    """
    scores, read, failed = probe.tag_files(paths)
    tags = list(probe.tags or [f"tag_{j}" for j in range(scores.shape[1])])
    if (probe.feature_meta or {}).get("taught") and read:
        from ..registry import TAGS
        from ..tagging.tagger import tag

        msd = [r.scores if r.error is None else np.full(len(TAGS), np.nan) for r in tag(read, top_n=None)]
        scores, tags = np.hstack([scores, np.stack(msd)]), tags + list(TAGS)
    return scores, tags, read, failed


def _check_cs(Cs: Any) -> list[float]:
    """``Cs`` as floats if it is a non-empty sequence of finite positive numbers, else ParameterError."""
    values = list(Cs) if hasattr(Cs, "__iter__") and not isinstance(Cs, (str, bytes)) else []
    if not values:
        raise ParameterError(f"Cs must be a non-empty sequence of positive numbers, got {Cs!r}")
    return [positive_float(c, "each of Cs") for c in values]


def load_probe(folder: str | os.PathLike) -> LinearProbe:
    """Read a probe written by :meth:`LinearProbe.save`.

    Examples
    --------
    >>> load_probe("runs/probe").tag(["song.mp3"])            # doctest: +SKIP
    array([[0.91, 0.02, ...]])
    """
    folder = Path(folder)
    if not (folder / "probe.json").is_file():
        raise MissingFileError(f"no probe in {folder} (expected probe.json and probe.npz)")
    info = read_json(folder / "probe.json", "linear probe description (probe.json)")
    if info.get("format") != "music_tagger.linear_probe/1":
        raise DataError(f"{folder / 'probe.json'} is not a music_tagger linear probe")
    arrays = load_arrays(folder / "probe.npz", "linear probe", ["coef", "intercept", "mean", "scale"])
    try:
        model = LinearProbe(Cs=info["Cs"], max_iter=info["max_iter"], tags=info["tags"],
                            feature_meta=info["feature_meta"])  # fmt: skip
        model.coef_, model.intercept_ = arrays["coef"], arrays["intercept"]
        model.mean_, model.scale_ = arrays["mean"], arrays["scale"]
        model.n_features_in_ = model.coef_.shape[1]
        model.C_ = info["C"]
        model.validation_ = {float(c): a for c, a in info["validation_roc_auc"].items()}
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise DataError(f"{folder} holds a damaged linear probe ({type(err).__name__}: {err}); fit it again") from None
    return model


def probe(
    features_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    Cs: Sequence[float] = DEFAULT_CS,
    splits: tuple[str, str, str] = ("train", "valid", "test"),
    overwrite: bool = False,
) -> dict[str, Any]:
    """Fit a :class:`LinearProbe` on the features of ``music-tagger features``, evaluate, save.

    Reads ``<features_dir>/<split>.npy`` (with labels, as written for prepared
    stores), fits on train, chooses ``C`` on valid, scores test with
    :func:`music_tagger.tagging.metrics.evaluate`, and writes the probe plus
    ``results-test.json`` / ``.csv`` into ``out_dir``; a probe already there is
    replaced only with ``overwrite`` (checked before fitting).

    Returns
    -------
    dict
        ``{"C": ..., "valid": {...}, "test": evaluate(...)}``.

    Examples
    --------
    >>> probe("feats/crnn-multi", "runs/probe")["test"]["roc_auc_macro"]   # doctest: +SKIP
    0.86
    """
    from .files import read_features

    _check_cs(Cs)  # before reading anything
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ParameterError(f"{os.fspath(out_dir)} is a file: the probe is saved in a folder")
    check_outputs(probe_files(out_dir, splits[2]), overwrite=overwrite)
    data = {}
    for split in splits:
        x, _, meta, y = read_features(Path(features_dir) / split)
        if y is None:
            raise ParameterError(f"{features_dir}/{split} has no labels; compute features of a prepared store")
        data[split] = (x, y, meta)
    train_meta = data[splits[0]][2]
    for split in splits[1:]:
        if data[split][2]["tags"] != train_meta["tags"]:
            raise ParameterError(f"the {split} features have other tags than the {splits[0]} features")
    keys = ("arch", "level", "bn_semantics", "crops", "resampler")
    model = LinearProbe(Cs=Cs, tags=train_meta["tags"],
                        feature_meta={k: train_meta.get(k) for k in keys})  # fmt: skip
    model.fit(data[splits[0]][0], data[splits[0]][1], data[splits[1]][0], data[splits[1]][1])
    model.save(out_dir)
    valid = evaluate(data[splits[1]][1], model.decision_function(data[splits[1]][0]), train_meta["tags"])
    test = evaluate(data[splits[2]][1], model.decision_function(data[splits[2]][0]), train_meta["tags"])
    write_results(test, Path(out_dir) / f"results-{splits[2]}")
    return {"C": model.C_, "valid": valid, "test": test}


def probe_files(out_dir: str | os.PathLike, split: str = "test") -> list[Path]:
    """The files :func:`probe` writes into ``out_dir`` (scoring ``split``).

    Examples
    --------
    >>> [p.name for p in probe_files("runs/probe")]
    ['probe.npz', 'probe.json', 'results-test.json', 'results-test.csv']
    """
    out = Path(out_dir)
    return [out / "probe.npz", out / "probe.json", out / f"results-{split}.json", out / f"results-{split}.csv"]
