"""Training, resuming and fine-tuning on feature stores, with the paper's protocol.

Choi et al. (2016) trained with Adam (default parameters) on binary cross-entropy in
mini-batches, computed the validation ROC-AUC after every epoch, and stopped early
when it had not improved for a while, keeping the best weights. :func:`train` does
this for any structure of :func:`music_tagger.models.builders.build`;
:func:`finetune_unfreeze` starts from the MSD-pretrained CRNN instead.

A run writes into its output folder:

* ``model.keras``: the best model (by validation ROC-AUC), written when the run ends;
* ``tags.json``: the tags of its outputs, in order;
* ``history.csv`` / ``history.json``: per epoch the loss, validation ROC-AUC and
  PR-AUC, wall seconds, samples/s and the cumulative training time;
* ``state.json`` and ``checkpoints/epoch-NNN.keras``: everything needed to resume
  (the full model with its optimizer state, after the last and the best epoch).

Every file is written to a temporary name and renamed, and ``state.json`` only ever
points at a complete checkpoint, so a run killed at any moment (even by SIGKILL)
continues from its last completed epoch with ``resume=True``. Shuffling and dropout
are seeded from ``seed`` and the epoch, so runs are repeatable.

Examples
--------
>>> from music_tagger.training.evaluation import evaluate_model
>>> from music_tagger.training.loop import train
>>> model_path = train("features", "runs/crnn", arch="crnn", n_params=100_000)  # doctest: +SKIP
>>> evaluate_model(model_path, "features/test.h5")["roc_auc_macro"]            # doctest: +SKIP
0.87
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..datasets import cache
from ..datasets.store import make_dataset, steps_per_epoch
from ..errors import ParameterError
from ..models.loading import load_model
from ..tagging.metrics import evaluate
from ..util.checks import positive_int
from ..util.files import atomic_path, write_text
from ..vocabulary import BN_PUBLISHED
from . import distribute as dist
from . import runstate
from .evaluation import predict_store

__all__ = ["CONV_BLOCKS", "finetune_unfreeze", "train"]

#: Layers of the CRNN that :func:`finetune_unfreeze` freezes first: the input BatchNorm and
#: the four conv blocks.
CONV_BLOCKS = ("bn_0_freq",) + tuple(f"{k}{i}" for i in range(1, 5) for k in ("conv", "bn"))
_HISTORY_FIELDS = (
    "epoch", "loss", "val_roc_auc", "val_pr_auc", "seconds", "epoch_seconds",
    "samples_per_s", "train_seconds", "learning_rate", "frozen",
)  # fmt: skip


def _learning_rate(model) -> float:
    return float(np.asarray(model.optimizer.learning_rate))


def _fit(
    out_dir: str | os.PathLike,
    config: dict[str, Any],
    stores: tuple[cache.Store, cache.Store],
    build_model: Callable[[], Any],
    *,
    resume: bool,
    before_epoch: Callable[[Any, int], Any] | None = None,
) -> Path:
    """The epoch loop shared by :func:`train` and :func:`finetune_unfreeze`.

    ``build_model()`` returns a new compiled model; ``before_epoch(model, epoch)``
    may change it (e.g. unfreeze) before each epoch and returns the model to train.
    """
    out_dir = dist.run_dir(out_dir)
    (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    state = runstate.resume_state(out_dir, config, resume)
    with runstate.seeded_run():
        return _epochs(out_dir, config, state, stores, build_model, before_epoch)


def _epochs(
    out_dir: Path,
    config: dict[str, Any],
    state: dict[str, Any],
    stores: tuple[cache.Store, cache.Store],
    build_model: Callable[[], Any],
    before_epoch: Callable[[Any, int], Any] | None,
) -> Path:
    """The epochs of :func:`_fit`, inside :func:`~music_tagger.training.runstate.seeded_run`."""
    import keras

    train_store, valid_store = stores
    seed, batch_size, verbose = config["seed"], config["batch_size"], config["verbose"]
    strategy = dist.make_strategy(config["distribute"])
    with dist.strategy_scope(strategy):  # the model's variables on every replica
        if state["checkpoint"] is None:
            keras.utils.set_random_seed(seed)
            with dist.mixed_precision_scope(config["mixed_precision"]):
                model = build_model()
        else:
            # under the policy it was built with, so that the optimizer is restored
            # with its loss scaling (else Keras skips the optimizer's variables)
            with dist.mixed_precision_scope(config["mixed_precision"]):
                model = load_model(out_dir / state["checkpoint"])
            if config["jit_compile"] is not None:
                model.jit_compile = config["jit_compile"]
            if verbose:
                print(f"resuming {out_dir} after epoch {state['epochs_done']}", file=sys.stderr)
        dist.synchronize_batchnorm(model, strategy)

    while not runstate.finished(state):
        epoch = state["epochs_done"]
        if before_epoch is not None:
            model = before_epoch(model, epoch)
        keras.utils.set_random_seed(seed + epoch)
        runstate.reseed_layers(model, seed, epoch)
        start = time.perf_counter()
        fit = model.fit(
            make_dataset(
                train_store,
                batch_size,
                shuffle_seed=(seed, epoch),
                block=config["shuffle_block"],
                strategy=strategy,
            ),
            epochs=1,
            steps_per_epoch=steps_per_epoch(train_store.n, batch_size, strategy),
            shuffle=False,  # make_dataset already shuffles, seeded by (seed, epoch)
            verbose=verbose,
        )
        seconds = time.perf_counter() - start
        scores = predict_store(model, valid_store, batch_size, strategy=strategy)
        results = evaluate(valid_store.y, scores, valid_store.tags)
        auc = results["roc_auc_macro"]
        state["train_seconds"] += seconds
        state["history"].append({
            "epoch": epoch + 1,
            "loss": float(fit.history["loss"][-1]),
            "val_roc_auc": auc,
            "val_pr_auc": results["pr_auc_macro"],
            "seconds": seconds,
            "epoch_seconds": time.perf_counter() - start,
            "samples_per_s": train_store.n / seconds,
            "train_seconds": state["train_seconds"],
            "learning_rate": _learning_rate(model),
            "frozen": sum(not layer.trainable for layer in model.layers),
        })  # fmt: skip
        checkpoint = f"checkpoints/epoch-{epoch + 1:03d}.keras"
        with atomic_path(out_dir / checkpoint) as tmp:
            model.save(tmp)
        if state["best_auc"] is None or auc > state["best_auc"]:
            state.update(best_auc=auc, best_epoch=epoch + 1, wait=0)
        else:
            state["wait"] += 1
        state.update(
            epochs_done=epoch + 1,
            checkpoint=checkpoint,
            stopped_early=state["wait"] >= config["patience"],
        )
        runstate.commit(out_dir, state, _HISTORY_FIELDS)
        _remove_stale_checkpoints(out_dir, state)
        if verbose:
            print(
                f"epoch {epoch + 1}: loss {state['history'][-1]['loss']:.4f}, val ROC-AUC "
                f"{auc:.4f} (best {state['best_auc']:.4f} at epoch {state['best_epoch']}), "
                f"{seconds:.1f} s",
                file=sys.stderr,
            )

    best = out_dir / f"checkpoints/epoch-{state['best_epoch']:03d}.keras"
    with atomic_path(out_dir / "model.keras") as tmp:
        shutil.copyfile(best, tmp)
    write_text(out_dir / "tags.json", json.dumps(train_store.tags))
    return out_dir / "model.keras"


def _remove_stale_checkpoints(out_dir: Path, state: dict[str, Any]) -> None:
    """Keep the checkpoints of the last and the best epoch (and nothing half-written)."""
    keep = {Path(state["checkpoint"]).name, f"epoch-{state['best_epoch']:03d}.keras"}
    for path in (out_dir / "checkpoints").iterdir():
        if path.name not in keep:
            path.unlink()


def _compile(model, learning_rate: float, config: dict[str, Any]) -> None:
    """Adam and binary cross-entropy; under mixed precision Keras adds loss scaling."""
    import keras

    if config["mixed_precision"]:
        dist.keep_output_float32(model)
    runstate.compile_model(
        model, keras.optimizers.Adam(learning_rate),
        jit_compile="auto" if config["jit_compile"] is None else config["jit_compile"],
    )  # fmt: skip


def _accelerator_config(
    mixed_precision: bool, jit_compile: bool | None, distribute: str | None, shuffle_block: int
) -> dict[str, Any]:
    """The config entries of :func:`train` and :func:`finetune_unfreeze` for accelerators."""
    if distribute is not None and distribute not in dist.STRATEGIES:
        raise ParameterError(f"distribute must be one of {dist.STRATEGIES} or None, got {distribute!r}")
    positive_int(shuffle_block, "shuffle_block")
    return {
        "mixed_precision": bool(mixed_precision),
        "jit_compile": None if jit_compile is None else bool(jit_compile),
        "distribute": distribute,
        "shuffle_block": shuffle_block,
    }


def train(
    store_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    arch: str = "crnn",
    n_params: int | None = None,
    widths: Sequence[int] | None = None,
    epochs: int = 100,
    batch_size: int = 16,
    patience: int = 1,
    seed: int = 0,
    resume: bool = False,
    verbose: int = 1,
    mixed_precision: bool = False,
    jit_compile: bool | None = None,
    distribute: str | None = None,
    shuffle_block: int = 1,
) -> Path:
    """Train a structure from random weights on ``<store_dir>/train.h5``.

    Adam with default parameters, binary cross-entropy; after every epoch the macro
    ROC-AUC on ``<store_dir>/valid.h5`` decides early stopping; the best model is
    saved as ``<out_dir>/model.keras``.

    Parameters
    ----------
    store_dir : str or path-like
        Folder with the ``train.h5`` and ``valid.h5`` stores of :func:`music_tagger.datasets.cache.prepare`.
    out_dir : str or path-like
        Folder of the run (model, history, checkpoints).
    arch : {"crnn", "k2c2", "k1c2", "k2c1"}
    n_params : int, optional
        One of the paper's parameter budgets (e.g. 100_000), which picks the widths.
    widths : sequence of int, optional
        Explicit widths (see :func:`music_tagger.models.builders.build`).
    epochs : int
        Most epochs to train.
    batch_size : int
    patience : int
        Stop after this many epochs without a better validation ROC-AUC (paper: 1).
    seed : int
        Seeds the weights, the shuffling and dropout.
    resume : bool
        Continue the run in ``out_dir`` from its last completed epoch (starts one if
        there is none).
    verbose : int
        0: silent; 1: a progress bar per epoch and a summary line.
    mixed_precision : bool
        Compute in float16 with float32 weights and outputs (Keras' ``mixed_float16``
        policy and loss scaling; see :mod:`music_tagger.training.distribute`). Fast on GPUs
        with tensor cores; slow on CPUs.
    jit_compile : bool, optional
        Compile the train step with XLA (True), or not (False); None leaves it to
        Keras (XLA on GPUs, not on CPUs).
    distribute : {None, "auto", "mirrored", "multi-worker"}
        Train data-parallel with a ``tf.distribute`` strategy (see
        :func:`music_tagger.training.distribute.make_strategy`); ``batch_size`` is the
        global batch. May change when resuming.
    shuffle_block : int
        1: shuffle clips uniformly (default). ``b > 1``: shuffle runs of ``b``
        consecutive clips (see :func:`music_tagger.datasets.store.epoch_order`), for stores
        read from disk rather than from the page cache.

    Returns
    -------
    pathlib.Path
        ``<out_dir>/model.keras``.

    Raises
    ------
    FileExistsError
        ``out_dir`` holds a run and ``resume`` is False.
    ValueError
        Resuming with other settings, or inconsistent stores.

    Examples
    --------
    >>> train("features", "runs/crnn-100k", n_params=100_000, patience=3)  # doctest: +SKIP
    PosixPath('runs/crnn-100k/model.keras')
    """
    from ..models import builders as models  # Keras: imported when a model is built

    stores = runstate.load_stores(store_dir)
    config = runstate.run_config(
        "train", stores, epochs=epochs, batch_size=batch_size, patience=patience, seed=seed,
        verbose=verbose, arch=arch, n_params=n_params,
        widths=None if widths is None else [int(w) for w in widths],
        **_accelerator_config(mixed_precision, jit_compile, distribute, shuffle_block),
    )  # fmt: skip

    def build_model():
        model = models.build(
            arch, n_params=n_params, widths=widths, classes=len(stores[0].tags),
            input_shape=(stores[0].settings["n_mels"], stores[0].frames, 1),
        )  # fmt: skip
        _compile(model, 1e-3, config)
        return model

    return _fit(out_dir, config, stores, build_model, resume=resume)


def finetune_unfreeze(
    store_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    weights: str | None = "msd",
    epochs: int = 100,
    batch_size: int = 16,
    patience: int = 1,
    freeze_epochs: int = 1,
    learning_rate: float = 1e-3,
    unfreeze_learning_rate: float = 1e-4,
    seed: int = 0,
    resume: bool = False,
    check_preprocessing: bool = True,
    verbose: int = 1,
    mixed_precision: bool = False,
    jit_compile: bool | None = None,
    distribute: str | None = None,
    shuffle_block: int = 1,
    bn_semantics: str = BN_PUBLISHED,
) -> Path:
    """Fine-tune the MSD-pretrained CRNN to the tags of ``<store_dir>/train.h5``.

    The former recipe, kept as ``music_tagger.finetune(..., recipe="unfreeze")``
    for comparison; :func:`music_tagger.training.transfer.finetune` is the default.

    The CRNN without its output layer (:func:`music_tagger.models.builders.CRNN` with
    ``include_top=False``) gets a new sigmoid layer for the store's tags. For the
    first ``freeze_epochs`` epochs the input BatchNorm and the conv blocks
    (:data:`CONV_BLOCKS`) are frozen and the rest learns at ``learning_rate``; then
    everything learns at ``unfreeze_learning_rate``. Early stopping and outputs as
    in :func:`train`.

    The MSD weights only work on the preprocessing they were trained on (1366
    frames of power-4 log-mel; with other input, fine-tuning stalls near AUC 0.58),
    so stores prepared otherwise are refused.

    Parameters
    ----------
    store_dir, out_dir, epochs, batch_size, patience, seed, resume, verbose
        As for :func:`train`.
    mixed_precision, jit_compile, distribute, shuffle_block
        As for :func:`train`.
    weights : "msd", None or path
        Starting weights of the CRNN; None trains the same architecture from random
        weights (a baseline).
    freeze_epochs : int
        Epochs with the conv blocks frozen (0: train everything from the start, at
        ``learning_rate``).
    learning_rate : float
        Adam's learning rate while the conv blocks are frozen.
    unfreeze_learning_rate : float
        Adam's learning rate once everything is trained.
    check_preprocessing : bool
        Refuse stores whose preprocessing differs from the MSD weights'; False
        only warns.

    Returns
    -------
    pathlib.Path
        ``<out_dir>/model.keras``, the fine-tuned model (as :func:`train` writes it).

    Raises
    ------
    ValueError
        The store's preprocessing differs from what the MSD weights expect.

    Examples
    --------
    >>> finetune_unfreeze("features", "runs/finetune", freeze_epochs=2)   # doctest: +SKIP
    PosixPath('runs/finetune/model.keras')
    """
    stores = runstate.load_stores(store_dir)
    runstate.check_msd_preprocessing(stores[0].settings, strict=check_preprocessing)
    config = runstate.run_config(
        "finetune", stores, bn_semantics=bn_semantics, epochs=epochs, batch_size=batch_size, patience=patience,
        seed=seed, verbose=verbose, weights=None if weights is None else str(weights),
        freeze_epochs=int(freeze_epochs), learning_rate=float(learning_rate),
        unfreeze_learning_rate=float(unfreeze_learning_rate),
        **_accelerator_config(mixed_precision, jit_compile, distribute, shuffle_block),
    )  # fmt: skip

    def build_model():
        import keras

        from ..models.builders import CRNN

        base = CRNN(weights=weights, include_top=False, bn_semantics=bn_semantics)
        outputs = keras.layers.Dense(len(stores[0].tags), activation="sigmoid", name="output")(base.output)
        model = keras.Model(base.input, outputs, name="music_tagger_crnn_finetuned")
        for name in CONV_BLOCKS if freeze_epochs > 0 else ():
            model.get_layer(name).trainable = False
        _compile(model, learning_rate, config)
        return model

    def unfreeze(model, epoch: int):
        if freeze_epochs > 0 and epoch == freeze_epochs:
            for name in CONV_BLOCKS:
                model.get_layer(name).trainable = True
            _compile(model, unfreeze_learning_rate, config)
        return model

    return _fit(out_dir, config, stores, build_model, resume=resume, before_epoch=unfreeze)
