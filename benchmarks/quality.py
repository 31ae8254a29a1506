"""Tag quality on real music: today's tagger, its variants and musicnn, per tag, with intervals.

On the set of ``benchmarks/quality_set.py`` (real recordings and rendered MIDI, labels
fixed before any score), prints in one run:

1. per-tag ROC-AUC and PR-AUC, and the macro ROC-AUC over the tags each model has, of
   today's default tagger (``music_tagger.tag``: onnxruntime where installed), each
   configuration tried (the CRNN's as-trained BatchNorm reading, the CNN, CRNN + CNN
   averaged, the CRNN with the original code's 2016 resampler instead of the default
   soxr_hq, and ``faithful=True`` on TensorFlow: that resampler and the centre crop;
   the clips are one crop
   long, so the default's crops and the faithful centre crop read the same window) and
   musicnn's MSD and MagnaTagATune models (run in their own virtual
   environment, ``benchmarks/setup_musicnn.sh``), each macro with a 95 % bootstrap
   interval that resamples recordings (clips of one recording stay together), and the
   interval of each one's difference to musicnn's MSD model;
2. the teaching curve: each tag taught with :func:`music_tagger.teach` from k = 3, 5,
   10, 20 recordings per side (one clip of each; ``--seeds`` draws of which
   recordings), scored on the clips of every recording not drawn, beside musicnn's
   zero-shot ROC-AUC on the same held-out clips.

Scores are cached per configuration in ``SET/scores/`` and features in
``SET/features/`` (the per-file cache of ``music_tagger.embeddings.few_shot``), so
a second run only prints.

    python benchmarks/quality.py /work/data28/quality --musicnn-python /work/venv-musicnn/bin/python
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_set import TAGS, read_set  # noqa: E402

HERE = Path(__file__).resolve().parent
KS = (3, 5, 10, 20)


def tagger_scores(name: str, clips: list[str]) -> tuple[np.ndarray, list[str]]:
    """Scores ``(n_clips, 50)`` of one configuration of this package's taggers."""
    from music_tagger import tag

    if name == "crnn default":
        results = tag(clips, top_n=None)
    elif name == "crnn as-trained BN":
        from music_tagger import CRNN
        from music_tagger.vocabulary import BN_AS_TRAINED

        results = tag(clips, model=CRNN(weights="msd", bn_semantics=BN_AS_TRAINED), top_n=None, runtime="tf")
    elif name == "crnn kaiser_best_2016":
        results = tag(clips, top_n=None, resampler="kaiser_best_2016")
    elif name == "crnn faithful":
        results = tag(clips, top_n=None, faithful=True, runtime="tf")
    elif name == "cnn":
        results = tag(clips, model="cnn", top_n=None)
    else:
        raise ValueError(name)
    return _scores(results)


def musicnn_scores(model: str, clips: list[str], python: str, folder: Path) -> tuple[np.ndarray, list[str]]:
    """musicnn's scores, from a subprocess in its own environment."""
    listing = folder / f"{model}.files.txt"
    listing.write_text("".join(c + "\n" for c in clips))
    out = folder / f"{model}.raw.npz"
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
    subprocess.run([python, str(HERE / "quality_musicnn.py"), str(listing), str(out), "--model", model],
                   check=True, env=env)  # fmt: skip
    data = np.load(out)
    return data["scores"], [str(t) for t in data["labels"]]


def cached(name: str, clips: list[str], folder: Path, compute) -> tuple[np.ndarray, list[str]]:
    """``compute(new_clips)`` once per configuration for the clips not yet in ``folder/<name>.npz``."""
    path = folder / f"{name.replace(' ', '_')}.npz"
    known, labels = {}, None
    if path.exists():
        data = np.load(path)
        known, labels = dict(zip((str(c) for c in data["clips"]), data["scores"])), [str(t) for t in data["labels"]]
    new = [c for c in clips if c not in known]
    if not new:
        return np.stack([known[c] for c in clips]), labels
    scores, labels = compute(new)
    known.update(zip(new, scores))
    scores = np.stack([known[c] for c in clips])
    np.savez(str(path) + ".tmp.npz", scores=scores, labels=np.array(labels), clips=np.array(clips))
    os.replace(str(path) + ".tmp.npz", path)
    return scores, labels


def per_tag(scores: np.ndarray, labels: list[str], y: np.ndarray, rows: np.ndarray | None = None) -> dict:
    """``{tag: (roc_auc, pr_auc)}`` for the set's tags this model has, on ``rows``."""
    rows = np.arange(len(y)) if rows is None else rows
    lower = [t.lower() for t in labels]
    out = {}
    for j, tag in enumerate(TAGS):
        if tag not in lower:
            continue
        yy, ss = y[rows, j], scores[rows, lower.index(tag)]
        known = ~np.isnan(yy)
        if len(set(yy[known])) < 2:
            continue
        out[tag] = (roc_auc_score(yy[known], ss[known]), average_precision_score(yy[known], ss[known]))
    return out


def bootstrap_rows(recordings: list[str], n: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` resamples of the clip rows, drawing recordings with replacement."""
    rng = np.random.default_rng(seed)
    names = sorted(set(recordings))
    index = {name: np.flatnonzero(np.array(recordings) == name) for name in names}
    return [np.concatenate([index[names[i]] for i in rng.integers(0, len(names), len(names))]) for _ in range(n)]


def macro(table: dict, tags: list[str]) -> float:
    values = [table[t][0] for t in tags if t in table]
    return float(np.mean(values)) if len(values) == len(tags) else np.nan


def print_table(models: dict, y: np.ndarray, recordings: list[str], n_boot: int) -> None:
    samples = bootstrap_rows(recordings, n_boot)
    reference = "musicnn MSD"
    print(f"\n== ROC-AUC (PR-AUC) per tag, {len(y)} clips, {len(set(recordings))} recordings; "
          f"macro over each model's tags with a 95% interval over {n_boot} resamples of recordings")  # fmt: skip
    print(f"{'model':22s}" + "".join(f"{t:>16s}" for t in TAGS) + f"{'macro':>8s}  {'95% interval':>15s}  "
          f"{'minus ' + reference + ' (95%)':>28s}")  # fmt: skip
    for name, (scores, labels) in models.items():
        full = per_tag(scores, labels, y)
        tags = [t for t in TAGS if t in full]
        shared = [t for t in tags if t in per_tag(*models[reference], y)]
        boots = np.array([macro(per_tag(scores, labels, y, rows), tags) for rows in samples])
        diffs = np.array([macro(per_tag(scores, labels, y, rows), shared)
                          - macro(per_tag(*models[reference], y, rows), shared) for rows in samples])  # fmt: skip
        cells = "".join(f"{full[t][0]:8.3f} ({full[t][1]:.2f})" if t in full else f"{'-':>16s}" for t in TAGS)
        lo, hi = np.nanpercentile(boots, [2.5, 97.5])
        dlo, dhi = np.nanpercentile(diffs, [2.5, 97.5])
        delta = macro(full, shared) - macro(per_tag(*models[reference], y), shared)
        print(f"{name:22s}{cells}{macro(full, tags):8.3f}  [{lo:.3f}, {hi:.3f}]  "
              f"{delta:+.3f} [{dlo:+.3f}, {dhi:+.3f}] on {len(shared)}")  # fmt: skip


def teaching_curve(clips, recordings, y, musicnn, cache_dir: Path, seeds: int, C: float | None = None) -> None:
    from music_tagger import teach
    from music_tagger.embeddings.few_shot import cached_features

    x, read, failed = cached_features(clips, cache_dir=cache_dir, progress=True)
    if failed or read != clips:
        raise SystemExit(f"features failed for {len(failed)} clips, e.g. {failed[:1]}")
    recordings = np.array(recordings)
    print(
        f"\n== teaching curve{'' if C is None else f' (C={C:g})'}: ROC-AUC on held-out recordings, "
        f"mean (sd) over {seeds} draws; musicnn MSD zero-shot on the same clips"
    )
    print(f"{'tag':12s}" + "".join(f"{'k=' + str(k):>25s}" for k in KS))
    lower = [t.lower() for t in musicnn[1]]
    for j, tag in enumerate(TAGS):
        known = ~np.isnan(y[:, j])
        pos = sorted(set(recordings[known & (y[:, j] == 1)]))
        neg = sorted(set(recordings[known & (y[:, j] == 0)]))
        cells = []
        for k in KS:
            if len(pos) < k + 2 or len(neg) < k + 2:
                cells.append(f"n/a ({len(pos)} pos rec.)")
                continue
            taught, peer = [], []
            for seed in range(seeds):
                rng = np.random.default_rng(seed)
                p = rng.choice(pos, k, replace=False)
                n = rng.choice([r for r in neg if r not in p], k, replace=False)
                files = {side: [clips[rng.choice(np.flatnonzero((recordings == r) & known & (y[:, j] == v)))]
                                for r in chosen] for side, chosen, v in (("yes", p, 1), ("no", n, 0))}  # fmt: skip
                options = {} if C is None else {"C": C}
                probe = teach(f"taught {tag}", files["yes"], files["no"], cache_dir=cache_dir, **options)
                held = known & ~np.isin(recordings, np.concatenate([p, n]))
                taught.append(roc_auc_score(y[held, j], probe.predict_proba(x[held])[:, 0]))
                peer.append(roc_auc_score(y[held, j], musicnn[0][held, lower.index(tag)]))
            cells.append(f"{np.mean(taught):.3f} ({np.std(taught):.3f}) vs {np.mean(peer):.3f}")
        print(f"{tag:12s}" + "".join(f"{c:>25s}" for c in cells))


def full_tracks(folder: Path, n_boot: int) -> None:
    """Crop aggregation on whole recordings: the audio collections' files, one row each."""
    import glob

    from quality_set import AUDIO

    from music_tagger import tag

    tracks, y, names = [], [], []
    for collection, (pattern, labels) in AUDIO.items():
        for path in sorted(glob.glob(pattern)):
            tracks.append(path)
            names.append(path)
            y.append([np.nan if labels[t] is None else labels[t] for t in TAGS])
    y = np.array(y, float)
    runs = {"8 crops (default)": {}, "1 crop (centre)": {"crops": 1}, "faithful": {"faithful": True}}
    models = {}
    for name, options in runs.items():
        models[name] = cached(f"full {name}", tracks, folder / "scores",
                              lambda new, options=options: _scores(tag(new, top_n=None, **options)))  # fmt: skip
    samples = bootstrap_rows(names, n_boot)
    print(f"\n== crop aggregation on {len(tracks)} whole recordings (the audio collections): ROC-AUC, 95% interval")
    for name, (scores, labels) in models.items():
        for tag_name in per_tag(scores, labels, y):
            boots = [per_tag(scores, labels, y, rows).get(tag_name, (np.nan,))[0] for rows in samples]
            lo, hi = np.nanpercentile(boots, [2.5, 97.5])
            print(f"{name:22s}{tag_name:>12s}{per_tag(scores, labels, y)[tag_name][0]:8.3f}  [{lo:.3f}, {hi:.3f}]")


def _scores(results) -> tuple[np.ndarray, list[str]]:
    from music_tagger import TAGS as MSD

    bad = [r for r in results if r.error]
    if bad:
        raise SystemExit(f"{len(bad)} files failed, e.g. {bad[0].error}")
    return np.stack([r.scores for r in results]), list(MSD)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("set", help="the folder of quality_set.py (labels.tsv)")
    parser.add_argument("--musicnn-python", default="/work/venv-musicnn/bin/python",
                        help="python of setup_musicnn.sh's environment")  # fmt: skip
    parser.add_argument("--boot", type=int, default=1000, help="bootstrap resamples of recordings")
    parser.add_argument("--seeds", type=int, default=10, help="draws per k of the teaching curve")
    parser.add_argument("--full-tracks", action="store_true",
                        help="also compare crop aggregations on the audio collections' whole recordings")  # fmt: skip
    args = parser.parse_args()
    folder = Path(args.set)
    clips, recordings, y = read_set(folder)
    (folder / "scores").mkdir(exist_ok=True)
    print(f"{len(clips)} clips, {len(set(recordings))} recordings; tags {', '.join(TAGS)}")
    models = {}
    for name in ("crnn default", "cnn", "crnn as-trained BN", "crnn kaiser_best_2016", "crnn faithful"):
        models[name] = cached(name, clips, folder / "scores", lambda new, name=name: tagger_scores(name, new))
    models["crnn + cnn"] = ((models["crnn default"][0] + models["cnn"][0]) / 2, models["cnn"][1])
    models["crnn as-trained + cnn"] = ((models["crnn as-trained BN"][0] + models["cnn"][0]) / 2, models["cnn"][1])
    for model in ("MSD_musicnn", "MTT_musicnn"):
        name = f"musicnn {model[:3]}"
        models[name] = cached(name, clips, folder / "scores",
                              lambda new, model=model: musicnn_scores(model, new, args.musicnn_python, folder / "scores"))  # fmt: skip
    print_table(models, y, recordings, args.boot)
    teaching_curve(clips, recordings, y, models["musicnn MSD"], folder / "features", args.seeds)
    if args.full_tracks:
        full_tracks(folder, args.boot)


if __name__ == "__main__":
    main()
