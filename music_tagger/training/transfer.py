"""Fine-tuning the MSD-pretrained CRNN: a two-stage recipe that can only improve on its head.

The recipe of :func:`music_tagger.training.loop.finetune_unfreeze` (``recipe="unfreeze"`` here)
trains a new output layer for one epoch beside frozen conv blocks, then everything
at 1e-4. On a small set of real music it ends below a linear read-out of the same
network and below training from scratch; docs/transfer.md gives the
measured causes (a handful of Adam steps is far too few for a new head, and once
unfrozen the BatchNorm layers switch to the statistics of each mini-batch, which are
not what the MSD weights were trained with).

The default ``recipe="two-stage"``:

1. **Cache.** Each clip of the train and valid stores goes once through the frozen
   network; kept are the input of the first layer stage 2 trains (by default the
   ``(15, 128)`` sequence entering the GRUs), the global average of every conv
   block's output and the last GRU state.
2. **Stage 1: head.** A new sigmoid layer (behind a fixed standardisation) learns
   the tags from the head features (``head="multi"``: the multi-level feature of
   :mod:`music_tagger.embeddings.extract`, 480 dims; ``head="top"``: the 32-dim GRU state)
   with Adam until the validation ROC-AUC has not improved for ``head_patience``
   epochs; its best epoch is kept. Seconds, since nothing but the head is computed.
3. **Stage 2: upper layers.** From ``stage2_from`` (default ``"gru1"``) up, the
   layers are trained on the cached activations at the low ``learning_rate``, with
   every BatchNorm among them in inference mode (``trainable=False``: its stored
   statistics are used and never updated). Epoch 0 is stage 1's model, and the
   best epoch by validation ROC-AUC is kept, so stage 2 never ends below stage 1 on
   validation.

The run folder holds what :func:`music_tagger.training.loop.train` writes (``model.keras``
is the whole network, melgram in, tags out; ``tags.json``; ``history.csv``/``.json``
with a ``stage`` column; ``state.json``), plus ``cache/`` (the activations) and
``checkpoints/``. ``resume=True`` continues an interrupted run from its last
completed stage-2 epoch, with the optimizer state, as if it had not stopped.

Examples
--------
>>> from music_tagger import finetune
>>> finetune("features", "runs/ft")                              # doctest: +SKIP
PosixPath('runs/ft/model.keras')
>>> finetune("features", "runs/ft-as-trained", bn_semantics="std_keras106")  # doctest: +SKIP
>>> finetune("features", "runs/old", recipe="unfreeze")          # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..embeddings import extract
from ..errors import ParameterError
from ..tagging.metrics import evaluate
from ..util.checks import one_of, positive_int
from ..util.files import atomic_path, write_text
from ..vocabulary import BN_PUBLISHED, HEAD_FITS, HEADS, RECIPES, STAGE2_FROM
from . import loop, runstate
from .activations import cached, split_network

__all__ = ["HEADS", "HEAD_FITS", "RECIPES", "STAGE2_FROM", "finetune"]

_FIELDS = (
    "stage", "epoch", "loss", "val_roc_auc", "val_pr_auc", "seconds", "train_seconds",
    "learning_rate", "C", "trainable",
)  # fmt: skip


def finetune(
    store_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    recipe: str = "two-stage",
    weights: str | None = "msd",
    bn_semantics: str = BN_PUBLISHED,
    head: str = "multi",
    head_fit: str = "logistic",
    head_learning_rate: float | None = None,
    head_epochs: int = 300,
    head_patience: int = 20,
    stage2_from: str | None = "gru1",
    learning_rate: float | None = None,
    epochs: int = 30,
    patience: int = 5,
    batch_size: int = 16,
    freeze_epochs: int = 1,
    seed: int = 0,
    resume: bool = False,
    check_preprocessing: bool = True,
    cache_dir: str | os.PathLike | None = None,
    verbose: int = 1,
    **accelerator: Any,
) -> Path:
    """Fine-tune the MSD-pretrained CRNN to the tags of ``<store_dir>/train.h5``.

    Parameters
    ----------
    store_dir : str or path-like
        Folder with ``train.h5`` and ``valid.h5`` of :func:`music_tagger.datasets.cache.prepare`,
        with its default preprocessing (1366 frames).
    out_dir : str or path-like
        Folder of the run.
    recipe : {"two-stage", "unfreeze"}
        ``"two-stage"`` (default, see the module docstring) or the former recipe of
        :func:`music_tagger.training.loop.finetune_unfreeze` (``freeze_epochs`` epochs with frozen
        conv blocks at ``head_learning_rate``, then everything at ``learning_rate``;
        BatchNorm in training mode).
    weights : "msd", None or path
        Starting weights (None: random, a baseline; only with ``recipe="unfreeze"``).
    bn_semantics : {"variance", "std_keras106"}
        How to read the MSD BatchNorm statistics (see :func:`music_tagger.models.builders.CRNN`):
        as published (default) or as trained.
    head : {"multi", "top"}
        Two-stage: the head's input, the multi-level feature or the last GRU state.
    head_fit : {"logistic", "adam"}
        Two-stage: how stage 1 fits the head. ``"logistic"`` (default): the linear
        probe of :mod:`music_tagger.embeddings.linear_probe` (per-tag logistic regression to
        convergence, the regularisation with the best validation ROC-AUC), so stage 1
        *is* the linear read-out. ``"adam"``: Adam at ``head_learning_rate`` until
        the validation ROC-AUC has not improved for ``head_patience`` epochs.
    head_learning_rate : float, optional
        Adam's rate for the new head (default 1e-3): ``head_fit="adam"``, and the
        unfreeze recipe's frozen epochs.
    head_epochs, head_patience : int
        Two-stage with ``head_fit="adam"``: most epochs of stage 1, and its early
        stopping (validation ROC-AUC).
    stage2_from : {"gru1", "gru2", "conv4"} or None
        Two-stage: the lowest layer stage 2 trains; None skips stage 2.
    learning_rate : float, optional
        Adam's rate for stage 2 (default 1e-4), or for the unfrozen network in the
        unfreeze recipe (default 1e-4).
    epochs, patience : int
        Most epochs of stage 2 (the unfreeze recipe: of the run) and its early stopping.
    batch_size : int
    freeze_epochs : int
        Unfreeze recipe only: epochs with the conv blocks frozen.
    seed : int
        Seeds the head's initialisation, the shuffling and dropout.
    resume : bool
        Continue the run in ``out_dir`` (starts one if there is none).
    check_preprocessing : bool
        Refuse stores not prepared as the MSD weights expect; False only warns.
    cache_dir : str or path-like, optional
        Two-stage: where the cached activations live (default ``<out_dir>/cache``).
        Runs on the same stores with the same ``bn_semantics``, ``head`` and
        ``stage2_from`` (e.g. other seeds) can share one folder and compute them once.
    verbose : int
        0: silent; 1: one line per stage-2 epoch and a summary per stage.
    **accelerator
        Unfreeze recipe only: ``mixed_precision``, ``jit_compile``, ``distribute``,
        ``shuffle_block`` of :func:`music_tagger.training.loop.finetune_unfreeze`. The two-stage
        recipe trains small layers on cached activations and takes none of them.

    Returns
    -------
    pathlib.Path
        ``<out_dir>/model.keras``: melgram ``(None, 96, 1366, 1)`` in, tags out.

    Raises
    ------
    ValueError
        Bad options, stores prepared otherwise, or resuming with other settings.
    FileExistsError
        ``out_dir`` holds a run and ``resume`` is False.

    Examples
    --------
    >>> finetune("features", "runs/ft", stage2_from=None)   # stage 1 only  # doctest: +SKIP
    PosixPath('runs/ft/model.keras')
    """
    one_of(recipe, "recipe", RECIPES)
    head_lr = 1e-3 if head_learning_rate is None else float(head_learning_rate)
    lr = 1e-4 if learning_rate is None else float(learning_rate)
    if recipe == "unfreeze":
        return loop.finetune_unfreeze(
            store_dir, out_dir, weights=weights, epochs=epochs, batch_size=batch_size,
            patience=patience, freeze_epochs=freeze_epochs, learning_rate=head_lr,
            unfreeze_learning_rate=lr, seed=seed, resume=resume,
            check_preprocessing=check_preprocessing, verbose=verbose,
            bn_semantics=bn_semantics, **accelerator,
        )  # fmt: skip
    if weights is None:
        raise ParameterError("the two-stage recipe starts from pretrained weights; weights=None "
                         "(from scratch) needs recipe='unfreeze' or music_tagger.train")  # fmt: skip
    one_of(head, "head", HEADS)
    one_of(head_fit, "head_fit", HEAD_FITS)
    one_of(stage2_from, "stage2_from", STAGE2_FROM, allow_none=True)
    for name, value in (
        ("head_epochs", head_epochs),
        ("head_patience", head_patience),
        ("epochs", epochs),
        ("patience", patience),
        ("batch_size", batch_size),
    ):
        positive_int(value, name)  # fmt: skip
    stores = runstate.load_stores(store_dir)
    runstate.check_msd_preprocessing(stores[0].settings, strict=check_preprocessing)
    config = {
        **runstate.ACCELERATOR_DEFAULTS,  # what resuming fills in for runs without them
        "kind": "finetune-two-stage",
        "weights": str(weights),
        "bn_semantics": bn_semantics,
        "head": head,
        "head_fit": head_fit,
        "head_learning_rate": head_lr,
        "head_epochs": int(head_epochs),
        "head_patience": int(head_patience),
        "stage2_from": stage2_from,
        "learning_rate": lr,
        "epochs": int(epochs),
        "patience": int(patience),
        "batch_size": int(batch_size),
        "seed": int(seed),
        "verbose": int(verbose),
        "tags": stores[0].tags,
        "settings": stores[0].settings,
    }
    cache_dir = Path(out_dir) / "cache" if cache_dir is None else Path(cache_dir)
    with runstate.seeded_run():  # the run seeds the global states; the caller's come back
        return _TwoStage(Path(out_dir), config, stores, resume, cache_dir).run()


class _TwoStage:
    """One two-stage run: the network with shared layers, the cache, both stages."""

    def __init__(self, out_dir: Path, config: dict[str, Any], stores, resume: bool, cache_dir: Path):
        import keras

        self.out_dir, self.config, self.stores, self.cache_dir = out_dir, config, stores, cache_dir
        (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        self.state = runstate.resume_state(out_dir, config, resume)
        self.state.setdefault("stage1", None)
        self.log = (lambda msg: print(msg, file=sys.stderr)) if config["verbose"] else (lambda msg: None)

        keras.utils.set_random_seed(config["seed"])
        net = split_network(config["weights"], config["bn_semantics"], config["head"], config["stage2_from"])
        self.base, self.start, self.lower_pools = net["base"], net["start"], net["lower_pools"]
        self.merged, self.cache_model = net["merged"], net["cache_model"]
        self.head_dims = int(self.merged.shape[-1])
        self.norm = self.output = self.model = None  # the head: built on the cached train features

    def _build_head(self, train_head: np.ndarray) -> None:
        """The new head (a fixed standardisation by the train statistics, then a sigmoid
        layer) and the whole network, melgram to tags."""
        import keras

        std = train_head.astype(np.float64).std(axis=0)
        std[std < 1e-12] = 1.0  # a constant feature stays 0 (as in LinearProbe)
        self.norm = keras.layers.Normalization(
            mean=train_head.astype(np.float64).mean(axis=0), variance=std**2, name="head_norm"
        )
        self.output = keras.layers.Dense(len(self.config["tags"]), activation="sigmoid", name="output")
        self.model = keras.Model(self.base.input, self.output(self.norm(self.merged)),
                                 name="music_tagger_crnn_finetuned")  # fmt: skip

    def _cache(self, store) -> dict[str, np.ndarray]:
        return cached(self.cache_model, store, self.cache_dir, self.config)

    def _split_head(self, head: np.ndarray) -> list[np.ndarray]:
        """The stage-2 inputs besides the cached activations: the lower blocks' averages."""
        dims = sum(self.base.get_layer(p).output.shape[-1] for p in self.lower_pools)
        return [head[:, :dims]] if dims else []

    # ------------------------------------------------------------------ stages
    def _auc(self, model, inputs, y) -> dict[str, Any]:
        scores = np.asarray(model(inputs, training=False))
        return evaluate(y, scores, self.config["tags"])

    def _stage1(self, train: dict, valid: dict) -> None:
        start = time.perf_counter()
        if self.config["head_fit"] == "logistic":
            best, history = self._fit_head_logistic(train, valid)
        else:
            best, history = self._fit_head_adam(train, valid)
        self._save_weights("stage1", self.output.get_weights())
        self.state["stage1"] = {"best_auc": best, "epochs": len(history),
                                "seconds": time.perf_counter() - start}  # fmt: skip
        self.state["history"] = history
        self._commit()
        self.log(f"stage 1 (head, {self.config['head_fit']}): best val ROC-AUC {best:.4f}, "
                 f"{self.state['stage1']['seconds']:.1f} s")  # fmt: skip

    def _fit_head_logistic(self, train: dict, valid: dict) -> tuple[float, list[dict]]:
        """The head as the linear probe: logistic regression per tag, C by validation."""
        from ..embeddings.linear_probe import LinearProbe

        start = time.perf_counter()
        y_train, y_valid = (s.y for s in self.stores)
        probe = LinearProbe().fit(train["head"], y_train, valid["head"], y_valid)
        # the same standardisation as self.norm, so the Dense layer takes the coefficients
        self.output.set_weights([probe.coef_.T.astype(np.float32), probe.intercept_.astype(np.float32)])
        history = []
        for i, (c, auc) in enumerate(probe.validation_.items(), 1):
            row = self._row(1, i, None, {"roc_auc_macro": auc, "pr_auc_macro": None}, start, None, ["output"])
            history.append(dict(row, C=c))
            start = time.perf_counter()
        return probe.validation_[probe.C_], history

    def _fit_head_adam(self, train: dict, valid: dict) -> tuple[float, list[dict]]:
        import keras

        cfg, run = self.config, self
        y_train, y_valid = (s.y.astype(np.float32) for s in self.stores)
        inputs = keras.Input((self.head_dims,), name="head_features")
        head = keras.Model(inputs, self.output(self.norm(inputs)))
        runstate.compile_model(head, keras.optimizers.Adam(cfg["head_learning_rate"]))
        history: list[dict] = []
        best: dict[str, Any] = {"auc": None, "weights": None, "wait": 0}

        class BestByValidationAUC(keras.callbacks.Callback):
            """After each epoch: validation ROC-AUC, keep the best weights, stop when stale."""

            def on_epoch_begin(self, epoch, logs=None):
                self.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                scores = np.asarray(head(valid["head"], training=False))
                results = evaluate(y_valid, scores, cfg["tags"])
                history.append(run._row(1, epoch + 1, logs["loss"], results, self.start,
                                        cfg["head_learning_rate"], ["output"]))  # fmt: skip
                if best["auc"] is None or results["roc_auc_macro"] > best["auc"]:
                    best.update(auc=results["roc_auc_macro"], weights=head.get_weights(), wait=0)
                else:
                    best["wait"] += 1
                    self.model.stop_training = best["wait"] >= cfg["head_patience"]

        keras.utils.set_random_seed(cfg["seed"])
        head.fit(train["head"], y_train, batch_size=cfg["batch_size"], epochs=cfg["head_epochs"],
                 shuffle=True, verbose=0, callbacks=[BestByValidationAUC()])  # fmt: skip
        head.set_weights(best["weights"])
        return best["auc"], history

    def _upper_model(self):
        """Cached activations (and lower averages) in, tags out, sharing the trained layers."""
        import keras

        below = self.base.layers[self.start - 1].output
        x = seq_in = keras.Input(tuple(below.shape[1:]), name="cached")
        lower_dims = sum(self.base.get_layer(p).output.shape[-1] for p in self.lower_pools)
        inputs = [seq_in]
        taps = []
        if lower_dims:
            lower_in = keras.Input((lower_dims,), name="lower_averages")
            inputs.append(lower_in)
            taps.append(lower_in)
        trained = []
        for layer in self.base.layers[self.start :]:
            x = layer(x)
            if layer.weights:
                trained.append(layer.name)
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False  # inference mode: the stored statistics, never updated
            if self.config["head"] == "multi" and layer.name in extract.pool_layers(self.base):
                taps.append(extract.global_average(x, f"stage2_gap_{layer.name}"))
        merged = keras.layers.Concatenate()(taps + [x]) if taps else x
        model = keras.Model(inputs, self.output(self.norm(merged)))
        for layer in self.base.layers[: self.start]:
            layer.trainable = False
        return model, trained + ["output"]

    def _stage2(self, train: dict, valid: dict) -> None:
        import keras

        cfg, state = self.config, self.state
        y_train, y_valid = (s.y.astype(np.float32) for s in self.stores)
        model, trained = self._upper_model()
        x_train = [train["below"]] + self._split_head(train["head"])
        x_valid = [valid["below"]] + self._split_head(valid["head"])
        optimizer = keras.optimizers.Adam(cfg["learning_rate"])
        runstate.compile_model(model, optimizer)
        if state.get("stage2_epochs") is None:  # epoch 0: stage 1's model
            results = self._auc(model, x_valid, y_valid)
            state.update(stage2_epochs=0, best_auc=results["roc_auc_macro"], best_epoch=0, wait=0)
            state["history"].append(self._row(2, 0, None, results, time.perf_counter(),
                                              cfg["learning_rate"], trained))  # fmt: skip
            self._save_weights("stage2-best", model.get_weights())
            self._commit()
        else:
            saved = self._load_weights("stage2-last")
            model.set_weights(saved["weights"])
            for variable, value in zip(optimizer.variables, saved["optimizer"]):
                variable.assign(value)
            self.log(f"resuming {self.out_dir} after stage-2 epoch {state['stage2_epochs']}")
        while state["stage2_epochs"] < cfg["epochs"] and state["wait"] < cfg["patience"]:
            epoch = state["stage2_epochs"] + 1
            keras.utils.set_random_seed(cfg["seed"] + epoch)
            runstate.reseed_layers(model, cfg["seed"], epoch)
            order = np.random.default_rng([cfg["seed"], 2, epoch]).permutation(len(y_train))
            start = time.perf_counter()
            fit = model.fit([x[order] for x in x_train], y_train[order], batch_size=cfg["batch_size"],
                            epochs=1, shuffle=False, verbose=0)  # fmt: skip
            results = self._auc(model, x_valid, y_valid)
            auc = results["roc_auc_macro"]
            state["history"].append(self._row(2, epoch, fit.history["loss"][-1], results, start,
                                              cfg["learning_rate"], trained))  # fmt: skip
            if auc > state["best_auc"]:
                state.update(best_auc=auc, best_epoch=epoch, wait=0)
                self._save_weights("stage2-best", model.get_weights())
            else:
                state["wait"] += 1
            self._save_weights("stage2-last", model.get_weights(),
                               [np.asarray(v) for v in optimizer.variables])  # fmt: skip
            state["stage2_epochs"] = epoch
            self._commit()
            self.log(f"stage 2 epoch {epoch}: loss {fit.history['loss'][-1]:.4f}, val ROC-AUC "
                     f"{auc:.4f} (best {state['best_auc']:.4f} at epoch {state['best_epoch']})")  # fmt: skip
        model.set_weights(self._load_weights("stage2-best")["weights"])

    # ------------------------------------------------------------------ bookkeeping
    def _row(self, stage, epoch, loss, results, start, lr, trained) -> dict[str, Any]:
        seconds = time.perf_counter() - start
        self.state["train_seconds"] += seconds
        return {
            "stage": stage, "epoch": epoch, "loss": None if loss is None else float(loss),
            "val_roc_auc": results["roc_auc_macro"], "val_pr_auc": results["pr_auc_macro"],
            "seconds": seconds, "train_seconds": self.state["train_seconds"],
            "learning_rate": lr, "C": None, "trainable": " ".join(trained),
        }  # fmt: skip

    def _save_weights(self, name: str, weights: list, optimizer: list | None = None) -> None:
        arrays = {f"w{i}": w for i, w in enumerate(weights)}
        arrays.update({f"o{i}": v for i, v in enumerate(optimizer or [])})
        with atomic_path(self.out_dir / "checkpoints" / f"{name}.npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)

    def _load_weights(self, name: str) -> dict[str, list[np.ndarray]]:
        with np.load(self.out_dir / "checkpoints" / f"{name}.npz") as data:
            count = lambda prefix: sum(k.startswith(prefix) for k in data.files)  # noqa: E731
            return {
                "weights": [data[f"w{i}"] for i in range(count("w"))],
                "optimizer": [data[f"o{i}"] for i in range(count("o"))],
            }

    def _commit(self) -> None:
        runstate.commit(self.out_dir, self.state, _FIELDS)

    def run(self) -> Path:
        train_store, valid_store = self.stores
        train, valid = self._cache(train_store), self._cache(valid_store)
        self._build_head(train["head"])
        if self.state["stage1"] is None:
            self._stage1(train, valid)
        else:
            self.output.set_weights(self._load_weights("stage1")["weights"])
        if self.start is not None:
            self._stage2(train, valid)
        with atomic_path(self.out_dir / "model.keras") as tmp:
            self.model.save(tmp)
        write_text(self.out_dir / "tags.json", json.dumps(self.config["tags"]))
        return self.out_dir / "model.keras"
