"""A floor for the development set: per-tag logistic regression on MFCC statistics.

Checks that a set made by ``benchmarks/make_devset.py`` loads with
:func:`music_tagger.datasets.mtt.read_mtt` (listed split and folder split agree), that
:func:`music_tagger.audio.compute_melgram` reads its clips, and that its labels are
learnable without any network: the mean and standard deviation of 20 MFCCs per clip
(librosa, 22.05 kHz), standardised on train, one ``LogisticRegression`` per tag with
``C`` chosen on validation ROC-AUC, scored on test with :func:`music_tagger.evaluate`.
A transfer recipe that does not beat this floor has learnt nothing from the MSD.

Examples
--------
::

    PYTHONPATH=. nice -n 5 python benchmarks/devset_baseline.py /work/devset
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def mfcc_stats(path: str, sr: int = 22050, n_mfcc: int = 20) -> np.ndarray:
    """Mean and standard deviation over time of ``n_mfcc`` MFCCs, shape (2 n_mfcc,)."""
    import librosa

    y, _ = librosa.load(path, sr=sr)
    m = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc)
    return np.concatenate([m.mean(axis=1), m.std(axis=1)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Load a make_devset.py set and score per-tag logistic regression "
        "on MFCC statistics (C chosen on valid, ROC-AUC/PR-AUC on test)."
    )
    parser.add_argument("root", help="the set (annotations_final.csv, split/, 0..f)")
    parser.add_argument("--melgrams", type=int, default=3, help="clips passed through compute_melgram as a check")
    args = parser.parse_args(argv)

    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from music_tagger.audio import compute_melgram
    from music_tagger.datasets.mtt import read_mtt
    from music_tagger.training.evaluation import evaluate

    data = read_mtt(args.root, top_n=None, split=f"{args.root}/split")
    by_folder = read_mtt(args.root, top_n=None)
    if by_folder.paths != data.paths or not np.array_equal(by_folder.split, data.split):
        print("error: the folder split differs from split/", file=sys.stderr)
        return 1
    for path in data.paths[: args.melgrams]:
        x = compute_melgram(path)
        print(f"compute_melgram({path}): {x.shape} {x.dtype}")

    started = time.time()
    features = np.array([mfcc_stats(p) for p in data.paths])
    print(f"MFCC statistics of {len(features)} clips: {time.time() - started:.0f} s")
    part = {s: data.split == s for s in ("train", "valid", "test")}
    scaler = StandardScaler().fit(features[part["train"]])
    x = {s: scaler.transform(features[m]) for s, m in part.items()}
    y = {s: data.y[m].astype(int) for s, m in part.items()}
    scores = np.zeros(y["test"].shape)
    for j, tag in enumerate(data.tags):
        fits = [LogisticRegression(C=c, max_iter=2000).fit(x["train"], y["train"][:, j]) for c in (0.01, 0.1, 1.0)]
        valid = [evaluate(y["valid"][:, [j]], f.decision_function(x["valid"])[:, None])["roc_auc_macro"] for f in fits]
        scores[:, j] = fits[int(np.argmax(valid))].decision_function(x["test"])
    result = evaluate(y["test"], scores, data.tags)
    for row in result["per_tag"]:
        print(
            f"{row['tag']:<10} test ROC-AUC {row['roc_auc']:.3f}  PR-AUC {row['pr_auc']:.3f}"
            f"  positives {row['n_positive']}"
        )
    print(f"macro test ROC-AUC {result['roc_auc_macro']:.3f}, PR-AUC {result['pr_auc_macro']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
