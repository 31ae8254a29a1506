"""The paper's study as a resumable grid: every structure at every parameter budget.

Choi et al. (2016) trained k1c2, k2c1, k2c2 and the CRNN at 0.1, 0.25, 0.5, 1 and
3 million parameters and compared their test ROC-AUC against the number of
parameters and the training time. :func:`run_experiment` trains each configuration
of such a grid with :func:`music_tagger.training.train` (the paper's protocol),
scores its best model on the test store, and collects one results table.

The output folder holds one run folder per configuration (``<arch>-<budget>M``,
e.g. ``k2c2-0.25M``, see :func:`music_tagger.training.train` for its content) plus

* ``<run>/result.json``: the configuration's row of the table, written last, so a
  run folder with it is finished and is skipped when the grid is run again;
* ``results.csv`` / ``results.json``: the table (see :data:`music_tagger.evaluation.GRID_COLUMNS`), rewritten
  after every configuration.

An interrupted grid loses at most the epoch in progress: run it again and the
unfinished configuration resumes from its last epoch, finished ones are skipped.

Examples
--------
>>> from music_tagger.experiment import run_experiment
>>> rows = run_experiment("features", "runs", archs=["k2c2", "crnn"],
...                       budgets=[100_000, 250_000])            # doctest: +SKIP
>>> [(r["arch"], r["budget"], round(r["test_roc_auc"], 3)) for r in rows]  # doctest: +SKIP
[('k2c2', 100000, 0.861), ('k2c2', 250000, 0.87), ('crnn', 100000, 0.872), ...]
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from . import architectures, cache, training
from ._atomic import write_text
from .architectures import ARCHS, BUDGET_SIZES
from .errors import ParameterError
from .evaluation import evaluate_model, write_grid_results

__all__ = ["Config", "grid", "run_experiment"]



@dataclass(frozen=True)
class Config:
    """One cell of the grid: a structure at a parameter budget, with its widths.

    Examples
    --------
    >>> Config("k2c2", 100_000, (20, 41, 41, 62, 83)).name
    'k2c2-0.1M'
    """

    arch: str
    budget: int
    widths: tuple[int, ...]

    @property
    def name(self) -> str:
        """The run folder's name, ``<arch>-<budget in millions>M``."""
        return f"{self.arch}-{self.budget / 1e6:g}M"


def grid(
    archs: Sequence[str], budgets: Sequence[int], width_scale: float = 1.0
) -> list[Config]:
    """The configurations of ``archs`` x ``budgets``, structure by structure.

    Parameters
    ----------
    archs : sequence of str
        Structures of :data:`music_tagger.architectures.STRUCTURES`.
    budgets : sequence of int
        Budgets of :data:`music_tagger.architectures.BUDGETS` (trainable parameters).
    width_scale : float
        Multiplies every width (rounded, at least 1): 1 is the paper's models;
        less gives small stand-ins for quick trials, whose exact parameter counts
        are then far below the budget that names them.

    Examples
    --------
    >>> [c.widths for c in grid(["crnn"], [100_000], width_scale=0.1)]
    [(3, 6, 6, 6, 3)]
    """
    if not width_scale > 0:
        raise ParameterError(f"width_scale must be positive, got {width_scale}")
    configs = []
    for arch in archs:
        for budget in budgets:
            widths = architectures.budget_widths(arch, budget)
            scaled = tuple(max(1, round(w * width_scale)) for w in widths)
            configs.append(Config(arch, budget, scaled))
    return configs


def _exact_params(config: Config, store: cache.Store) -> int:
    from . import models  # Keras: imported when a model is built

    model = models.build(
        config.arch, widths=config.widths, classes=len(store.tags),
        input_shape=(store.settings["n_mels"], store.frames, 1),
    )  # fmt: skip
    return models.count_params(model)[0]


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else value


def _row(
    config: Config, run_dir: Path, store_dir: Path, settings: dict[str, Any]
) -> dict[str, Any]:
    """Score a finished run on the test store and summarise it as a table row."""
    train_store = cache.load_store(cache.store_path(store_dir, "train"))
    history = json.loads((run_dir / "history.json").read_text())
    state = json.loads((run_dir / "state.json").read_text())
    test = evaluate_model(
        run_dir / "model.keras", cache.store_path(store_dir, "test"),
        batch_size=settings["batch_size"], out=run_dir / "test",
    )  # fmt: skip
    train_seconds = history[-1]["train_seconds"]
    return {
        "arch": config.arch,
        "budget": config.budget,
        "widths": list(config.widths),
        "params": _exact_params(config, train_store),
        "best_val_roc_auc": state["best_auc"],
        "best_epoch": state["best_epoch"],
        "test_roc_auc": test["roc_auc_macro"],
        "test_pr_auc": test["pr_auc_macro"],
        "epochs": len(history),
        "train_seconds": train_seconds,
        "seconds_per_sample": train_seconds / (len(history) * train_store.n),
        "n_train": train_store.n,
        "n_test": test["n_samples"],
        "per_tag": {r["tag"]: _none_if_nan(r["roc_auc"]) for r in test["per_tag"]},
        "settings": settings,
    }


def _finished_row(run_dir: Path, settings: dict[str, Any]) -> dict[str, Any] | None:
    """The stored row of a run finished with these settings, else None."""
    path = run_dir / "result.json"
    if not path.exists():
        return None
    row = json.loads(path.read_text())
    return row if row.get("settings") == settings else None


def run_experiment(
    store_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    archs: Sequence[str] = ARCHS,
    budgets: Sequence[int] = BUDGET_SIZES,
    *,
    width_scale: float = 1.0,
    epochs: int = 100,
    batch_size: int = 16,
    patience: int = 1,
    seed: int = 0,
    verbose: int = 1,
) -> list[dict[str, Any]]:
    """Train and test every configuration of ``archs`` x ``budgets``; resumable.

    Each configuration is trained on ``<store_dir>/train.h5`` with early stopping on
    ``valid.h5`` (:func:`music_tagger.training.train`) and its best model scored on
    ``test.h5``. The stores may hold any number of frames the structures accept
    (k1c2, k2c1 and k2c2 pool their time axis by 1280, so they need at least that
    many; the CRNN takes short clips too). Configurations finished with the same
    settings are skipped; an unfinished one resumes from its last epoch.

    Parameters
    ----------
    store_dir : str or path-like
        Folder of the ``train``/``valid``/``test`` stores of :func:`music_tagger.cache.prepare`.
    out_dir : str or path-like
        Folder of the run folders and the results table.
    archs : sequence of str
    budgets : sequence of int
        Trainable parameters, from :data:`music_tagger.architectures.BUDGET_SIZES`.
    width_scale : float
        See :func:`grid` (1: the paper's widths).
    epochs, batch_size, patience, seed
        Training settings (:func:`music_tagger.training.train`; the paper: patience 1).
    verbose : int
        0: silent; 1: one line per configuration on stderr; 2: also Keras' progress bars.

    Returns
    -------
    list of dict
        The rows of ``results.json``, in grid order: :data:`music_tagger.evaluation.GRID_COLUMNS`, ``per_tag``
        (tag -> test ROC-AUC) and ``settings``.

    Raises
    ------
    FileNotFoundError
        A store is missing.
    ValueError
        An unknown structure or budget, or a run folder started with other settings.

    Examples
    --------
    >>> rows = run_experiment("features", "runs", ["crnn"], [100_000])   # doctest: +SKIP
    >>> sorted(rows[0]["per_tag"])[:2]                                   # doctest: +SKIP
    ['00s', '60s']
    """
    store_dir, out_dir = Path(store_dir), Path(out_dir)
    for split in ("train", "valid", "test"):
        cache.load_store(cache.store_path(store_dir, split))  # fail before any training
    configs = grid(archs, budgets, width_scale)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, config in enumerate(configs, start=1):
        run_dir = out_dir / config.name
        settings = {
            "widths": list(config.widths), "epochs": int(epochs), "batch_size": int(batch_size),
            "patience": int(patience), "seed": int(seed),
        }  # fmt: skip
        row = _finished_row(run_dir, settings)
        prefix = f"[{i}/{len(configs)}] {config.name} widths {config.widths}"
        if row is not None:
            if verbose:
                print(f"{prefix}: finished before, skipped", file=sys.stderr)
        else:
            if verbose:
                print(f"{prefix}: training", file=sys.stderr)
            start = time.perf_counter()
            training.train(
                store_dir, run_dir, arch=config.arch, widths=config.widths, epochs=epochs,
                batch_size=batch_size, patience=patience, seed=seed, resume=True,
                verbose=max(0, verbose - 1),
            )  # fmt: skip
            row = _row(config, run_dir, store_dir, settings)
            write_text(run_dir / "result.json", json.dumps(row, indent=1))
            if verbose:
                print(
                    f"{prefix}: {row['params']} parameters, {row['epochs']} epochs, best val "
                    f"ROC-AUC {row['best_val_roc_auc']:.4f}, test {row['test_roc_auc']:.4f} "
                    f"({time.perf_counter() - start:.0f} s)",
                    file=sys.stderr,
                )
        rows.append(row)
        write_grid_results(rows, out_dir)
    return rows
