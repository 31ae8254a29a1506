"""The paper's study as a resumable grid: every structure at every parameter budget.

Choi et al. (2016) trained k1c2, k2c1, k2c2 and the CRNN at 0.1, 0.25, 0.5, 1 and
3 million parameters and compared their test ROC-AUC against the number of
parameters and the training time. :func:`run_experiment` trains each configuration
of such a grid with :func:`music_tagger.training.loop.train` (the paper's protocol),
scores its best model on the test store, and collects one results table.

The output folder holds one run folder per configuration (``<arch>-<budget>M``,
e.g. ``k2c2-0.25M``, see :func:`music_tagger.training.loop.train` for its content) plus

* ``<run>/result.json``: the configuration's row of the table, written last, so a
  run folder with it is finished and is skipped when the grid is run again;
* ``results.csv`` / ``results.json``: the table (see :data:`GRID_COLUMNS`), rewritten
  after every configuration.

An interrupted grid loses at most the epoch in progress: run it again and the
unfinished configuration resumes from its last epoch, finished ones are skipped.

The configurations are independent, so the grid can also run as separate jobs (one
per GPU or machine, sharing the output folder): :func:`select` splits it
(``job``/``jobs`` or ``only``), each job writes its runs' ``result.json``, and
:func:`merge_results` assembles the table.

Examples
--------
>>> from music_tagger.training.experiment import run_experiment
>>> rows = run_experiment("features", "runs", archs=["k2c2", "crnn"],
...                       budgets=[100_000, 250_000])            # doctest: +SKIP
>>> [(r["arch"], r["budget"], round(r["test_roc_auc"], 3)) for r in rows]  # doctest: +SKIP
[('k2c2', 100000, 0.861), ('k2c2', 250000, 0.87), ('crnn', 100000, 0.872), ...]
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..datasets import cache
from ..errors import MissingFileError, ParameterError
from ..models import architectures
from ..models.architectures import ARCHS, BUDGET_SIZES
from ..util.files import atomic_path, write_text
from . import loop
from .evaluation import evaluate_model

__all__ = [
    "GRID_COLUMNS", "Config", "grid", "grid_files", "merge_results", "read_grid_results", "run_experiment",
    "select", "write_grid_results",
]  # fmt: skip

#: Columns of ``results.csv`` before the per-tag test ROC-AUCs (``auc:<tag>``).
#: ``params``: exact trainable count on the store's input; ``best_val_roc_auc`` at
#: ``best_epoch``; ``test_*``: macro means of the best model on the test store;
#: ``epochs``: epochs trained; ``train_seconds``: their total training time;
#: ``seconds_per_sample``: ``train_seconds / (epochs * n_train)``.
GRID_COLUMNS = (
    "arch", "budget", "widths", "params", "best_val_roc_auc", "best_epoch",
    "test_roc_auc", "test_pr_auc", "epochs", "train_seconds", "seconds_per_sample",
    "n_train", "n_test",
)  # fmt: skip
_TAG_PREFIX = "auc:"


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


def grid(archs: Sequence[str], budgets: Sequence[int], width_scale: float = 1.0) -> list[Config]:
    """The configurations of ``archs`` x ``budgets``, structure by structure.

    Parameters
    ----------
    archs : sequence of str
        Structures of :data:`music_tagger.models.architectures.STRUCTURES`.
    budgets : sequence of int
        Budgets of :data:`music_tagger.models.architectures.BUDGETS` (trainable parameters).
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


def select(
    configs: Sequence[Config],
    *,
    job: int | None = None,
    jobs: int | None = None,
    only: Sequence[str] | None = None,
) -> list[Config]:
    """The configurations one job of a grid run in parallel trains.

    Parameters
    ----------
    configs : sequence of Config
        The whole grid (see :func:`grid`).
    job, jobs : int, optional
        Job ``job`` of ``jobs`` (0-based, e.g. ``$SLURM_ARRAY_TASK_ID``) takes every
        ``jobs``-th configuration from the ``job``-th on; ``jobs`` = number of
        configurations gives one configuration per job.
    only : sequence of str, optional
        Configuration names (``Config.name``, e.g. ``"crnn-0.1M"``) instead.

    Raises
    ------
    music_tagger.errors.ParameterError
        Both ``only`` and ``job``, a ``job`` outside ``0..jobs-1``, or an unknown name.

    Examples
    --------
    >>> configs = [Config("crnn", b, ()) for b in (100_000, 250_000, 500_000)]
    >>> [c.name for c in select(configs, job=1, jobs=2)]
    ['crnn-0.25M']
    >>> [c.name for c in select(configs, only=["crnn-0.5M"])]
    ['crnn-0.5M']
    """
    if only is not None:
        if job is not None or jobs is not None:
            raise ParameterError("give either only or job and jobs, not both")
        names = [c.name for c in configs]
        unknown = [name for name in only if name not in names]
        if unknown:
            raise ParameterError(f"no configuration {', '.join(unknown)} in the grid; it has {', '.join(names)}")
        return [c for c in configs if c.name in only]
    if job is None and jobs is None:
        return list(configs)
    if job is None or jobs is None or not 0 <= job < jobs:
        raise ParameterError(f"job must be in 0..jobs-1 and both given, got job={job}, jobs={jobs}")
    return list(configs[job::jobs])


def _exact_params(config: Config, store: cache.Store) -> int:
    from ..models.budgets import count_params  # Keras: imported when a model is built
    from ..models.builders import build

    model = build(
        config.arch, widths=config.widths, classes=len(store.tags),
        input_shape=(store.settings["n_mels"], store.frames, 1),
    )  # fmt: skip
    return count_params(model)[0]


def _none_if_nan(value: float) -> float | None:
    return None if math.isnan(value) else value


def _row(config: Config, run_dir: Path, store_dir: Path, settings: dict[str, Any]) -> dict[str, Any]:
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


def _settings(config: Config, epochs: int, batch_size: int, patience: int, seed: int) -> dict[str, Any]:
    """What a finished run must have been trained with for its row to count."""
    return {
        "widths": list(config.widths), "epochs": int(epochs), "batch_size": int(batch_size),
        "patience": int(patience), "seed": int(seed),
    }  # fmt: skip


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
    job: int | None = None,
    jobs: int | None = None,
    only: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Train and test every configuration of ``archs`` x ``budgets``; resumable.

    Each configuration is trained on ``<store_dir>/train.h5`` with early stopping on
    ``valid.h5`` (:func:`music_tagger.training.loop.train`) and its best model scored on
    ``test.h5``. The stores may hold any number of frames the structures accept
    (k1c2, k2c1 and k2c2 pool their time axis by 1280, so they need at least that
    many; the CRNN takes short clips too). Configurations finished with the same
    settings are skipped; an unfinished one resumes from its last epoch.

    Parameters
    ----------
    store_dir : str or path-like
        Folder of the ``train``/``valid``/``test`` stores of :func:`music_tagger.datasets.cache.prepare`.
    out_dir : str or path-like
        Folder of the run folders and the results table.
    archs : sequence of str
    budgets : sequence of int
        Trainable parameters, from :data:`music_tagger.models.architectures.BUDGET_SIZES`.
    width_scale : float
        See :func:`grid` (1: the paper's widths).
    epochs, batch_size, patience, seed
        Training settings (:func:`music_tagger.training.loop.train`; the paper: patience 1).
    verbose : int
        0: silent; 1: one line per configuration on stderr; 2: also Keras' progress bars.
    job, jobs, only
        Train only some configurations (see :func:`select`), e.g. one per GPU or per
        machine; each writes its ``<run>/result.json`` and the table is left to
        :func:`merge_results`. Without them, the whole grid and its table.

    Returns
    -------
    list of dict
        The rows of the configurations trained (``results.json`` for a whole grid), in grid order: :data:`GRID_COLUMNS`, ``per_tag``
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
    whole = grid(archs, budgets, width_scale)
    configs = select(whole, job=job, jobs=jobs, only=only)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, config in enumerate(configs, start=1):
        run_dir = out_dir / config.name
        settings = _settings(config, epochs, batch_size, patience, seed)
        row = _finished_row(run_dir, settings)
        prefix = f"[{i}/{len(configs)}] {config.name} widths {config.widths}"
        if row is not None:
            if verbose:
                print(f"{prefix}: finished before, skipped", file=sys.stderr)
        else:
            if verbose:
                print(f"{prefix}: training", file=sys.stderr)
            start = time.perf_counter()
            loop.train(
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
        if len(configs) == len(whole):  # a part of the grid leaves the table to the merge
            write_grid_results(rows, out_dir)
    return rows


def merge_results(
    out_dir: str | os.PathLike,
    archs: Sequence[str] = ARCHS,
    budgets: Sequence[int] = BUDGET_SIZES,
    *,
    width_scale: float = 1.0,
    epochs: int = 100,
    batch_size: int = 16,
    patience: int = 1,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Collect the ``result.json`` of every configuration into the results table.

    The step after a grid run as independent jobs (:func:`run_experiment` with
    ``job``/``jobs`` or ``only``): the same arguments name the same grid and
    settings, so a run trained otherwise does not count.

    Returns
    -------
    list of dict
        The rows, in grid order (also written by
        :func:`write_grid_results`).

    Raises
    ------
    music_tagger.errors.MissingFileError
        Naming the configurations not finished (with these settings) yet.

    Examples
    --------
    >>> rows = merge_results("runs", ["crnn"], [100_000, 250_000])   # doctest: +SKIP
    >>> [r["budget"] for r in rows]                                   # doctest: +SKIP
    [100000, 250000]
    """
    out_dir = Path(out_dir)
    configs = grid(archs, budgets, width_scale)
    rows = {c.name: _finished_row(out_dir / c.name, _settings(c, epochs, batch_size, patience, seed)) for c in configs}
    missing = [name for name, row in rows.items() if row is None]
    if missing:
        raise MissingFileError(
            f"{len(missing)} of {len(configs)} configurations are not finished in {out_dir} "
            f"with these settings: {', '.join(missing)}"
        )
    merged = [rows[c.name] for c in configs]
    write_grid_results(merged, out_dir)
    return merged


def write_grid_results(rows: Sequence[dict[str, Any]], out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``results.json`` (rows as returned) and ``results.csv`` (flat) atomically.

    The CSV has :data:`GRID_COLUMNS` (``widths`` joined by ``x``), then one
    ``auc:<tag>`` column per tag with its test ROC-AUC (empty when undefined).

    Examples
    --------
    >>> write_grid_results(rows, "runs")                      # doctest: +SKIP
    (PosixPath('runs/results.json'), PosixPath('runs/results.csv'))
    """
    json_path, csv_path = grid_files([], out_dir)
    write_text(json_path, json.dumps(list(rows), indent=1))
    tags = list(dict.fromkeys(tag for row in rows for tag in row["per_tag"]))
    with atomic_path(csv_path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*GRID_COLUMNS, *(_TAG_PREFIX + tag for tag in tags)])
        for row in rows:
            flat = {**row, "widths": "x".join(str(w) for w in row["widths"])}
            aucs = [row["per_tag"].get(tag) for tag in tags]
            writer.writerow([flat[c] for c in GRID_COLUMNS] + ["" if a is None else repr(a) for a in aucs])
    return json_path, csv_path


def grid_files(rows: Sequence[dict[str, Any]], out_dir: str | os.PathLike, *, table: bool = True) -> list[Path]:
    """The files a grid run wrote in ``out_dir``: the results table, or each row's ``result.json``.

    :func:`run_experiment` of the whole grid and :func:`merge_results` write the table
    (``results.json`` and ``results.csv``, ``table=True``); a part of the grid (``job``
    and ``jobs``, or ``only``) writes only its configurations' ``result.json``.

    Examples
    --------
    >>> [p.as_posix() for p in grid_files([], "runs")]
    ['runs/results.json', 'runs/results.csv']
    >>> [p.as_posix() for p in grid_files([{"arch": "crnn", "budget": 100_000}], "runs", table=False)]
    ['runs/crnn-0.1M/result.json']
    """
    out_dir = Path(out_dir)
    if table:
        return [out_dir / "results.json", out_dir / "results.csv"]
    return [out_dir / Config(row["arch"], row["budget"], ()).name / "result.json" for row in rows]


def read_grid_results(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of a results table: ``results.json`` or the folder holding it.

    Raises
    ------
    MissingFileError
        No ``results.json`` there.

    Examples
    --------
    >>> rows = read_grid_results("runs")                      # doctest: +SKIP
    >>> rows[0]["arch"], rows[0]["budget"]               # doctest: +SKIP
    ('k1c2', 100000)
    """
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    if not path.is_file():
        raise MissingFileError(f"no results table at {path}; create it with music-tagger experiment")
    return json.loads(path.read_text())
