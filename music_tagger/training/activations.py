"""The pretrained network split where fine-tuning starts, and its activations cached.

The two-stage fine-tune (:mod:`music_tagger.training.transfer`) runs the frozen part
of the network once per clip; :func:`cache_activations` keeps what it gives (the
head features and the input of the first trained layer) on disk, keyed by the
store and the settings, so that every later epoch and run reads them back.

Examples
--------
>>> from music_tagger.training.activations import cache_activations
>>> cache_activations("features/test.h5", "runs/cache")["head"].shape   # doctest: +SKIP
(100, 480)"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import cache
from ..embeddings import extract
from ..util.files import atomic_path
from ..vocabulary import BN_PUBLISHED

__all__ = ["cache_activations", "cached", "split_network"]


def split_network(weights, bn_semantics: str, head: str, stage2_from: str | None) -> dict[str, Any]:
    """The pretrained CRNN, the head's input tensor and the model whose outputs are cached."""
    import keras

    from ..models.builders import CRNN

    base = CRNN(weights=weights, include_top=False, bn_semantics=bn_semantics)
    names = [layer.name for layer in base.layers]
    start = None if stage2_from is None else names.index(stage2_from)
    pools = extract.pool_layers(base) if head == "multi" else []
    gaps = [extract.global_average(base.get_layer(p).output, f"gap_{p}") for p in pools]
    head_in = gaps + [base.output]
    merged = keras.layers.Concatenate(name="head_features")(head_in) if len(head_in) > 1 else head_in[0]
    # the cache: the head's features, and (for stage 2) the input of its first layer
    outputs = [merged] if start is None else [merged, base.layers[start - 1].output]
    return {
        "base": base,
        "start": start,
        "lower_pools": [p for p in pools if start is None or names.index(p) < start],
        "merged": merged,
        "cache_model": keras.Model(base.input, outputs),
    }


def cached(cache_model, store: cache.Store, cache_dir: Path, config: dict[str, Any]) -> dict[str, np.ndarray]:
    """The cached activations of a store's clips, computed (once) if missing."""
    key = f"{store.split}-{config['bn_semantics']}-{config['head']}-{config['stage2_from']}"
    path = Path(cache_dir) / f"{key}.npz"
    if path.is_file():
        with np.load(path) as data:
            if list(data["ids"]) == store.ids:  # the same clips, in the same order
                return {k: data[k] for k in data.files if k != "ids"}
    start = time.perf_counter()
    outs = extract.run_model(cache_model, str(store.path), batch_size=8,
                               progress=bool(config.get("verbose")), desc=f"cache {store.split}")  # fmt: skip
    data = {"head": outs[0]}
    if len(outs) > 1:
        data["below"] = outs[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, ids=np.asarray(store.ids), **data)
    if config.get("verbose"):
        print(f"cached {store.n} {store.split} clips in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return data


def cache_activations(
    store: str | os.PathLike,
    cache_dir: str | os.PathLike,
    *,
    bn_semantics: str = BN_PUBLISHED,
    head: str = "multi",
    stage2_from: str | None = "gru1",
    verbose: int = 0,
) -> dict[str, np.ndarray]:
    """Compute (or read) what the two-stage recipe caches for one store.

    :func:`finetune` with ``cache_dir`` reads the same files, so calling this first
    moves the one forward pass per clip out of the fine-tune (and lets benchmarks
    time it apart). With ``head="multi"`` the ``"head"`` array equals
    :func:`music_tagger.embeddings.extract.features` at ``level="multi"``.

    Returns
    -------
    dict
        ``"head"``: the head's input features ``(n, dims)``; ``"below"`` (unless
        ``stage2_from`` is None): the input of the first stage-2 layer.

    Examples
    --------
    >>> cache_activations("features/test.h5", "runs/cache")["head"].shape   # doctest: +SKIP
    (n_clips, 480)
    """
    net = split_network("msd", bn_semantics, head, stage2_from)
    config = {"bn_semantics": bn_semantics, "head": head, "stage2_from": stage2_from, "verbose": verbose}
    return cached(net["cache_model"], cache.load_store(store), Path(cache_dir), config)
