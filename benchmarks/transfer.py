"""Transfer from the MSD weights, side by side on one data set (issue 10).

Rows, each over ``--seeds`` (mean +- half the range, test macro ROC-AUC and PR-AUC,
wall seconds per run; the one forward pass per clip that the probes and the
two-stage fine-tunes share is computed first and timed apart):

* ``finetune two-stage`` (the default of ``music-tagger finetune``), from both
  BatchNorm readings (``variance`` = as published, ``std_keras106`` = as trained);
* ``finetune unfreeze`` (the former recipe), from both readings;
* ``scratch``: the same CRNN from random weights, with the unfreeze recipe's epoch
  budget and early stopping (both keep their best-validation epoch);
* ``probe top``: logistic regression per tag on the 32-d last GRU state;
* ``probe multi``: the same on the 480-d multi-level features;
  both from both readings (deterministic: the spread is 0 by construction);
* ``probe compact``: the same on the 160-d feature of the compact convnet (Choi et
  al. 2017), from the clips' audio files (29 s centre crops at 12 kHz, the stores'
  resampler);
* ``probe MFCC``: the same on Choi 2017's baseline, the mean and variance over time of
  20 MFCCs and their first and second differences (120-d, librosa at 22.05 kHz).

Each extractor's clips per second are printed in the same run (the CRNN's from the
prepared spectrograms, the compact convnet's and the MFCCs' from the audio files).

Then the measurements behind the diagnosis of the former recipe: how far each
BatchNorm layer's mini-batch statistics are from the stored ones (what the
layers switch to once unfrozen), and the training loss after the frozen epoch
against the loss of a constant prediction.

The data set is in the MagnaTagATune layout; the spectrograms are computed once
(``music-tagger prepare``) into ``<work>/stores``, and the activations once per
reading into ``<work>/cache`` (``music_tagger.training.activations.cache_activations``: the
multi-level features, equal to ``music_tagger.features``, which is checked on a few
clips, and the GRUs' input); every finished run folder is kept, so running again
skips what is done.

``--train-fraction F`` keeps a share of the train clips (whole pieces, when the set
has ``benchmarks/make_devset.py``'s ``clips.tsv``), to measure transfer with less data.
``--cv`` also scores the probes in a 5-fold cross-validation over all clips grouped by
piece, with 25-100% of each fold's train pieces (:func:`grouped_cv`): on a set with few
test pieces it is a much tighter estimate than the one fixed test split.

Usage::

    nice -n 5 python benchmarks/transfer.py /work/devset --split-lists /work/devset/split \\
        --work runs/transfer-bench --seeds 0,1,2 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

READINGS = ("variance", "std_keras106")


def _stores(args) -> Path:
    from music_tagger.datasets import cache
    from music_tagger.datasets.mtt import read_mtt

    out = Path(args.work) / "stores"
    if not all(cache.store_path(out, s).exists() for s in ("train", "valid", "test")):
        dataset = read_mtt(args.data, top_n=args.top, split=args.split_lists)
        if args.train_fraction < 1:
            dataset = train_fraction(dataset, args.data, args.train_fraction, args.fraction_seed)
        cache.prepare(dataset, out, workers=args.workers)
    return out


def piece_names(data: str) -> dict[str, str]:
    """Clip path -> piece, from ``<data>/clips.tsv`` of ``benchmarks/make_devset.py`` (empty without it)."""
    import csv

    table = Path(data) / "clips.tsv"
    if not table.is_file():
        return {}
    with open(table, newline="", encoding="utf-8") as f:
        return {str(Path(data) / r["mp3_path"]): r["piece"] for r in csv.DictReader(f, delimiter="\t")}


def grouped_cv(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, shares=(1.0,), folds: int = 5, draws: int = 3
) -> dict[float, tuple[float, float]]:
    """Linear-probe macro ROC-AUC in a ``folds``-fold cross-validation grouped by ``groups``
    (pieces): fold k is tested, fold k+1 chooses C, the others train; with a share
    below 1, that share of the train groups is drawn ``draws`` times (seeded).

    Returns share -> (mean, standard error) over folds (and draws).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 3)); y = (x[:, :2] > 0).astype(int)
    >>> mean, se = grouped_cv(x, y, np.arange(200) // 4)[1.0]
    >>> mean > 0.95
    True
    """
    from music_tagger.embeddings.linear_probe import LinearProbe
    from music_tagger.training.evaluation import evaluate

    names = np.array(sorted(set(groups)))
    fold_of = dict(zip(np.random.default_rng(0).permutation(names), np.arange(len(names)) % folds))
    fold = np.array([fold_of[g] for g in groups])
    out = {}
    for share in shares:
        scores = []
        for k in range(folds):
            test, valid = fold == k, fold == (k + 1) % folds
            for draw in range(draws if share < 1 else 1):
                train = ~test & ~valid
                pool = np.array(sorted(set(groups[train])))
                kept = np.random.default_rng(draw).permutation(pool)[: max(1, round(share * len(pool)))]
                train &= np.isin(groups, kept)
                probe = LinearProbe().fit(x[train], y[train], x[valid], y[valid])
                scores.append(evaluate(y[test], probe.decision_function(x[test]))["roc_auc_macro"])
        out[share] = (float(np.mean(scores)), float(np.std(scores) / np.sqrt(len(scores))))
    return out


def train_fraction(dataset, data: str, fraction: float, seed: int = 0):
    """``dataset`` with only a share of its train clips, whole pieces where ``<data>/clips.tsv``
    (of ``benchmarks/make_devset.py``) names them: pieces in a seeded order, taken until
    ``fraction`` of the train clips is reached; valid and test are kept whole.

    Examples
    --------
    >>> from music_tagger.datasets.dataset import Dataset
    >>> ds = Dataset(paths=list("abcde"), y=np.eye(5, 2, dtype=int), tags=["x", "y"],
    ...              split=["train"] * 4 + ["test"], ids=list("abcde"))
    >>> kept = train_fraction(ds, "/nonexistent", 0.5)
    >>> int(sum(kept.split == "train")), int(sum(kept.split == "test"))
    (2, 1)
    """
    from music_tagger.datasets.dataset import Dataset

    piece = piece_names(data)
    train = np.flatnonzero(dataset.split == "train")
    group = [piece.get(dataset.paths[i], dataset.paths[i]) for i in train]
    names = sorted(set(group))
    kept, count = set(), 0
    for k in np.random.default_rng(seed).permutation(len(names)):
        if count >= fraction * len(train):
            break
        kept.add(names[k])
        count += group.count(names[k])
    keep = sorted(set(range(len(dataset))) - set(train) | {i for i, g in zip(train, group) if g in kept})
    return Dataset(
        paths=[dataset.paths[i] for i in keep],
        y=dataset.y[keep],
        tags=dataset.tags,
        split=dataset.split[keep],
        ids=[dataset.ids[i] for i in keep],
    )


def _features(stores: Path, work: Path, reading: str) -> tuple[dict, float]:
    """Multi-level features of every split, from the two-stage recipe's cache (one forward
    pass per clip, shared with the fine-tunes); checked against ``features()`` on 4 clips."""
    from music_tagger.datasets import cache
    from music_tagger.embeddings.extract import features
    from music_tagger.training.activations import cache_activations

    start = time.perf_counter()
    data = {}
    for split in ("train", "valid", "test"):
        path = cache.store_path(stores, split)
        x = cache_activations(path, work / "cache", bn_semantics=reading)["head"]
        data[split] = (x, cache.load_store(path).y)
    seconds = time.perf_counter() - start
    check = features(cache.read_melgrams(cache.store_path(stores, "test"), np.arange(4)),
                     level="multi", bn_semantics=reading)  # fmt: skip
    np.testing.assert_allclose(check, data["test"][0][:4], rtol=1e-4, atol=1e-4)
    return data, seconds


def mfcc_features(path: str, sr: int = 22050, n_mfcc: int = 20) -> np.ndarray:
    """Choi 2017's MFCC baseline: mean and variance of MFCCs, deltas and delta-deltas (120,)."""
    import librosa

    y, _ = librosa.load(path, sr=sr)
    m = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc)
    stacked = np.concatenate([m, librosa.feature.delta(m), librosa.feature.delta(m, order=2)])
    return np.concatenate([stacked.mean(axis=1), stacked.var(axis=1)])


def _audio_features(stores: Path, work: Path, kind: str) -> tuple[dict, float, int]:
    """``kind`` ("compact" or "mfcc") features of every split from the stores' audio files,
    kept in ``<work>/features-<kind>``; the seconds and clips of the computation (0 if cached)."""
    from music_tagger.datasets import cache
    from music_tagger.embeddings.extract import features

    folder = work / f"features-{kind}"
    folder.mkdir(parents=True, exist_ok=True)
    data, seconds, clips = {}, 0.0, 0
    for split in ("train", "valid", "test"):
        info = cache.load_store(cache.store_path(stores, split))
        path = folder / f"{split}.npy"
        if not path.exists():
            start = time.perf_counter()
            if kind == "compact":
                x = features(info.paths, arch="compact", resampler=info.settings["resampler"])
            else:
                x = np.array([mfcc_features(p) for p in info.paths], np.float32)
            seconds, clips = seconds + time.perf_counter() - start, clips + len(x)
            np.save(path, x)
        data[split] = (np.load(path), info.y)
    return data, seconds, clips


def _probe_row(data, level: str) -> tuple[dict, float]:
    from music_tagger.embeddings.linear_probe import LinearProbe
    from music_tagger.training.evaluation import evaluate

    pick = (lambda x: x[:, -32:]) if level == "top" else (lambda x: x)
    start = time.perf_counter()
    model = LinearProbe().fit(pick(data["train"][0]), data["train"][1],
                              pick(data["valid"][0]), data["valid"][1])  # fmt: skip
    results = evaluate(data["test"][1], model.decision_function(pick(data["test"][0])))
    return results, time.perf_counter() - start


def _timed_run(out: Path, fn) -> tuple[dict, float, Path]:
    """Run ``fn(out)`` unless ``out`` holds a finished run; test results and seconds."""
    from music_tagger.datasets import cache
    from music_tagger.training.evaluation import evaluate_model

    done = out / "bench.json"
    if done.exists():
        info = json.loads(done.read_text())
        return info["test"], info["seconds"], out
    if out.exists():
        shutil.rmtree(out)  # an unfinished run of an earlier invocation: start it again
    start = time.perf_counter()
    model_path = fn(out)
    seconds = time.perf_counter() - start
    results = evaluate_model(model_path, cache.store_path(fn.stores, "test"))
    done.write_text(json.dumps({"test": {k: results[k] for k in ("roc_auc_macro", "pr_auc_macro")},
                                "seconds": seconds}))  # fmt: skip
    return results, seconds, out


def _bn_statistics(stores: Path, reading: str, n: int = 16) -> list[tuple[str, float, float]]:
    """Per BatchNorm layer: median over channels of batch std / stored std and of
    |batch mean - stored mean| / stored std, over ``n`` train clips (BatchNorm's
    training-mode statistics versus those it uses in inference mode). Computed one
    layer and a few clips at a time, to stay small in memory."""
    import keras

    from music_tagger.datasets import cache
    from music_tagger.models.builders import CRNN

    model = CRNN(weights="msd", include_top=False, bn_semantics=reading)
    x = cache.read_melgrams(cache.store_path(stores, "train"), np.arange(n))[..., None]
    rows = []
    for layer in [la for la in model.layers if isinstance(la, keras.layers.BatchNormalization)]:
        probe = keras.Model(model.input, layer.input)
        axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
        sums = sq = count = 0.0
        for start in range(0, n, 4):
            h = np.asarray(probe(x[start : start + 4], training=False), np.float64)
            h = np.moveaxis(h, axis, -1).reshape(-1, h.shape[axis])
            sums, sq, count = sums + h.sum(axis=0), sq + (h**2).sum(axis=0), count + len(h)
        batch_mean = sums / count
        batch_var = np.maximum(sq / count - batch_mean**2, 0.0)
        mean, var = np.asarray(layer.moving_mean), np.asarray(layer.moving_variance)
        stored_std = np.sqrt(var + layer.epsilon)
        keep = var > 1e-5  # the padded time columns of bn_0_freq hold no statistics
        ratio = np.sqrt(batch_var + layer.epsilon) / stored_std
        shift = np.abs(batch_mean - mean) / stored_std
        rows.append((layer.name, float(np.median(ratio[keep])), float(np.median(shift[keep]))))
    return rows


def _auc_with_batch_statistics(model_path: Path, store: Path, batch_size: int = 16) -> tuple[float, float]:
    """Validation ROC-AUC of a trained model with BatchNorm in inference mode, and with
    the same weights but every BatchNorm normalising by its mini-batch's statistics
    (what an unfrozen BatchNorm does during fit; dropout kept off)."""
    import keras

    from music_tagger.datasets import cache
    from music_tagger.training.evaluation import evaluate, load_model

    model = load_model(model_path, compile=False)
    info = cache.load_store(store)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dropout):
            layer.rate = 0.0
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = True  # a frozen BatchNorm ignores training=True
    scores = {}
    # inference mode first: a call with training=True also moves the stored statistics
    for training in (False, True):
        scores[training] = np.concatenate([
            np.asarray(model(cache.read_melgrams(info.path, np.arange(i, min(i + batch_size, info.n)))[..., None],
                             training=training))
            for i in range(0, info.n, batch_size)
        ])  # fmt: skip
    return tuple(evaluate(info.y, scores[t])["roc_auc_macro"] for t in (False, True))


def _fmt(values: list[float], digits: int = 3) -> str:
    values = np.asarray(values, float)
    half = (values.max() - values.min()) / 2 if len(values) > 1 else 0.0
    return f"{values.mean():.{digits}f} ± {half:.{digits}f}"


def _print_cv(probed: dict[str, dict], info: dict, data: str) -> None:
    """The probes in a 5-fold cross-validation over all clips, grouped by piece, with a
    learning curve over the share of each fold's train pieces."""
    piece = piece_names(data)
    paths = [p for s in ("train", "valid", "test") for p in info[s].paths]
    groups = np.array([piece.get(p, p) for p in paths])
    shares = (0.25, 0.5, 0.75, 1.0)
    print(
        f"\nLinear probes, 5-fold cross-validation over all {len(paths)} clips grouped by piece "
        f"({len(set(groups))} groups; fold k tests, fold k+1 chooses C), macro ROC-AUC (mean ± "
        "standard error), by the share of each fold's train pieces used (3 draws below 100%)\n"
    )
    print("| features | " + " | ".join(f"{s:.0%} of train pieces" for s in shares) + " |")
    print("| --- |" + " --- |" * len(shares))
    for name, split_data in probed.items():
        x = np.concatenate([split_data[s][0] for s in ("train", "valid", "test")])
        y = np.concatenate([split_data[s][1] for s in ("train", "valid", "test")])
        cv = grouped_cv(x, y, groups, shares)
        print(f"| {name} | " + " | ".join(f"{cv[s][0]:.3f} ± {cv[s][1]:.3f}" for s in shares) + " |", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", help="data set in the MagnaTagATune layout")
    p.add_argument("--split-lists", default=None, help="folder of train/valid/test lists")
    p.add_argument("--top", type=int, default=None, help="most frequent tags kept (default: all)")
    p.add_argument("--work", default="runs/transfer-bench", help="folder of stores, features and runs")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument(
        "--epochs",
        type=int,
        default=3,
        help="epoch budget of the unfreeze recipe and scratch, and of a two-stage row held to it",
    )
    p.add_argument("--patience", type=int, default=3, help="early stopping of unfreeze and scratch")
    p.add_argument(
        "--methods",
        default="two-stage,unfreeze,scratch,probe,compact,mfcc",
        help="comma-separated subset of two-stage,unfreeze,scratch,probe,compact,mfcc",
    )
    p.add_argument(
        "--unfreeze-readings",
        default="variance,std_keras106",
        help="BatchNorm readings run with the (slow) unfreeze recipe",
    )
    p.add_argument(
        "--slow-seeds", default=None, help="seeds of the unfreeze recipe (whole network trained; default: --seeds)"
    )
    p.add_argument("--scratch-seeds", default=None, help="seeds of scratch (default: --seeds)")
    p.add_argument(
        "--train-fraction",
        type=float,
        default=1.0,
        help="keep this share of the train clips (whole pieces when the set has a "
        "clips.tsv); use its own --work folder",
    )
    p.add_argument("--fraction-seed", type=int, default=0, help="seed of --train-fraction's draw")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--cv",
        action="store_true",
        help="also score the probes in a 5-fold cross-validation grouped by piece (clips.tsv), "
        "with a learning curve over the share of train pieces: tighter than one test split",
    )
    p.add_argument("--no-diagnosis", action="store_true", help="print the table only")
    args = p.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    slow_seeds = seeds if args.slow_seeds is None else [int(s) for s in args.slow_seeds.split(",")]
    scratch_seeds = seeds if args.scratch_seeds is None else [int(s) for s in args.scratch_seeds.split(",")]
    methods = set(args.methods.split(","))
    work = Path(args.work)

    from music_tagger.datasets import cache
    from music_tagger.training.loop import train
    from music_tagger.training.transfer import finetune

    t0 = time.perf_counter()
    stores = _stores(args)
    info = {s: cache.load_store(cache.store_path(stores, s)) for s in ("train", "valid", "test")}
    print(
        f"data: {args.data}; {len(info['train'].tags)} tags; train/valid/test "
        f"{info['train'].n}/{info['valid'].n}/{info['test'].n} clips "
        f"(prepared in {time.perf_counter() - t0:.0f} s, or cached)",
        flush=True,
    )

    rows: list[tuple[str, str, list, list, list]] = []  # method, reading, roc, pr, seconds
    probed: dict[str, dict] = {}  # the probes' features, for --cv

    def add(method, reading, results_seconds):
        rows.append((method, reading, [r["roc_auc_macro"] for r, _ in results_seconds],
                     [r["pr_auc_macro"] for r, _ in results_seconds],
                     [s for _, s in results_seconds]))  # fmt: skip
        last = rows[-1]
        print(f"  {method:<22} {reading:<13} ROC-AUC {_fmt(last[2])}  PR-AUC {_fmt(last[3])}  "
              f"{np.mean(last[4]):.0f} s", flush=True)  # fmt: skip

    for reading in READINGS:  # the one forward pass per clip and reading, timed apart
        data, seconds = _features(stores, work, reading)
        forward = sum(info[s].n for s in info)
        print(f"forward pass, {reading}: {seconds:.0f} s for {forward} clips, {forward / seconds:.1f} "
              "clips/s (a rerun only reads the cache)", flush=True)  # fmt: skip
        probed[f"probe multi, {reading}"] = data
        if "probe" in methods:
            for level in ("top", "multi"):
                results, seconds = _probe_row(data, level)
                add(f"probe {level} ({'32' if level == 'top' else data['train'][0].shape[1]}-d)",
                    reading, [(results, seconds)] * len(seeds))  # fmt: skip

    for kind in [k for k in ("compact", "mfcc") if k in methods]:  # Choi 2017's comparison
        data, seconds, clips = _audio_features(stores, work, kind)
        if clips:
            print(f"{kind} features: {clips} clips in {seconds:.0f} s ({clips / seconds:.1f} clips/s, "
                  "decoding included)", flush=True)  # fmt: skip
        results, seconds = _probe_row(data, "all")
        label = "probe compact (160-d)" if kind == "compact" else "probe MFCC (120-d)"
        probed[label] = data
        add(label, "per clip" if kind == "compact" else "-", [(results, seconds)] * len(seeds))

    def runner(fn):
        fn.stores = stores
        return fn

    if "two-stage" in methods:
        # the default (stage 2 up to 30 epochs on cached activations), and the same
        # recipe held to scratch's epoch budget, so the comparison is like for like
        for budget in (None, args.epochs):
            for reading in READINGS:
                results = []
                for seed in seeds:
                    limits = {} if budget is None else {"epochs": budget, "patience": args.patience}
                    fn = runner(lambda out, seed=seed, reading=reading, limits=limits: finetune(
                        stores, out, bn_semantics=reading, seed=seed, verbose=0,
                        cache_dir=work / "cache", **limits))  # fmt: skip
                    name = f"two-stage-{reading}-{seed}" if budget is None else f"two-stage-{budget}ep-{reading}-{seed}"
                    r, s, out = _timed_run(work / name, fn)
                    results.append((r, s))
                label = "finetune two-stage (default)" if budget is None else f"finetune two-stage ({budget} ep)"
                add(label, reading, results)

    unfreeze_readings = [r for r in args.unfreeze_readings.split(",") if r]
    if "unfreeze" in methods:
        for reading in unfreeze_readings:
            results = []
            for seed in slow_seeds:
                fn = runner(lambda out, seed=seed, reading=reading: finetune(
                    stores, out, recipe="unfreeze", bn_semantics=reading, seed=seed,
                    epochs=args.epochs, patience=args.patience, verbose=0))  # fmt: skip
                r, s, out = _timed_run(work / f"unfreeze-{reading}-{seed}", fn)
                results.append((r, s))
            add(f"finetune unfreeze ({args.epochs} ep)", reading, results)

    if "scratch" in methods:
        results = []
        for seed in scratch_seeds:
            fn = runner(lambda out, seed=seed: train(
                stores, out, arch="crnn", epochs=args.epochs, patience=args.patience,
                seed=seed, verbose=0))  # fmt: skip
            r, s, out = _timed_run(work / f"scratch-{seed}", fn)
            results.append((r, s))
        add(f"scratch CRNN ({args.epochs} ep, seeds {','.join(map(str, scratch_seeds))})", "-", results)

    print()
    print(f"Test macro ROC-AUC and PR-AUC over seeds {args.seeds} (mean ± half range), "
          f"wall seconds per run; {info['train'].n}/{info['valid'].n}/{info['test'].n} clips, "
          f"{len(info['train'].tags)} tags")  # fmt: skip
    print()
    print("| method | BN reading | test ROC-AUC | test PR-AUC | wall s |")
    print("| --- | --- | --- | --- | --- |")
    for method, reading, roc, pr, seconds in rows:
        print(f"| {method} | {reading} | {_fmt(roc)} | {_fmt(pr)} | {np.mean(seconds):.0f} |")

    if args.cv:
        _print_cv(probed, info, args.data)
    if args.no_diagnosis:
        print(f"\ntotal {time.perf_counter() - t0:.0f} s")
        return 0
    print("\nDiagnosis of the unfreeze recipe")
    n_train = info["train"].n
    prior = np.clip(info["train"].y.mean(axis=0), 1e-7, 1 - 1e-7)
    constant = float(np.mean(-(prior * np.log(prior) + (1 - prior) * np.log(1 - prior))))
    print(
        f"- a constant prediction (the train tag frequencies) has loss {constant:.4f}; "
        f"one frozen epoch is {-(-n_train // 16)} Adam steps for the new head"
    )
    for reading in unfreeze_readings if "unfreeze" in methods else []:
        for seed in slow_seeds:
            history = json.loads((work / f"unfreeze-{reading}-{seed}" / "history.json").read_text())
            print(
                f"  unfreeze {reading} seed {seed}: loss per epoch "
                + ", ".join(f"{h['loss']:.4f}" for h in history)
                + "; val ROC-AUC "
                + ", ".join(f"{h['val_roc_auc']:.3f}" for h in history)
            )
    if "two-stage" in methods:
        for reading in READINGS:
            inference, batch = _auc_with_batch_statistics(
                work / f"two-stage-{reading}-{seeds[0]}" / "model.keras", cache.store_path(stores, "valid")
            )
            print(f"- two-stage model ({reading}, seed {seeds[0]}), validation ROC-AUC with BatchNorm in "
                  f"inference mode {inference:.3f}; the same weights with mini-batch statistics "
                  f"(batches of 16, as fit uses) {batch:.3f}")  # fmt: skip
    for reading in READINGS:
        print(
            f"- BatchNorm mini-batch vs stored statistics, {reading} reading "
            "(median over channels of batch std / stored std, |batch mean - stored mean| / stored std):"
        )
        for name, ratio, shift in _bn_statistics(stores, reading):
            print(f"    {name:<10} std ratio {ratio:8.3f}   mean shift {shift:8.3f}")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
