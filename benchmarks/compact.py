"""The compact convnet's numbers for docs/compact.md: the published norm, each legacy choice, speed.

1. The 160-d feature of ``1100103.clip.npy`` by :func:`music_tagger.CompactCNN` (one model
   per ``conv_until``) and by the independent numpy computation of
   ``tests/compact_reference.py``: its L2 norm beside the published 9.916916, and the
   largest difference between the two per level.
2. For each legacy choice, what the wrong one does: the norm of the clip's 160-d
   feature, and the largest change of a feature of the clip it touches (a batch of
   the clip and a quiet passage of generated audio where the choice is about batches).
3. conv1 in float32 instead of float64: the largest error of each level against numpy.
4. Clips per second of the compact convnet (raw audio in) and of the CRNN's multi-level
   features (spectrograms in), batches of 8, this machine's CPU.

Usage::

    PYTHONPATH=. python benchmarks/compact.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import compact_reference as ref  # noqa: E402
import numpy as np  # noqa: E402

PUBLISHED_NORM = 9.916916


def _quiet(n: int, seed: int = 0) -> np.ndarray:
    """Quiet generated audio: soft tones, clicks and two seconds of silence."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 12000
    y = 0.005 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(2 * np.pi * 0.2 * t)) + 0.2 * (rng.random(n) < 2e-4)
    y[48000:72000] = 0.0
    return y.astype("float32")


def main() -> int:
    import keras

    from music_tagger import CompactCNN
    from music_tagger.registry import get_file

    clip = np.load(get_file("audio", "1100103"))
    weights = ref.read_weights(get_file("weights", "compact_msd_layer4"))
    expected = ref.levels(clip[None], weights)
    models = {n: CompactCNN(conv_until=n) for n in range(5)}
    ours = [keras.ops.convert_to_numpy(models[n](clip[None])) for n in range(5)]
    print(f"1. norm of the 160-d feature: CompactCNN {np.linalg.norm(np.concatenate(ours, 1)):.7f}, "
          f"numpy {np.linalg.norm(np.concatenate(expected, 1)):.7f}, published {PUBLISHED_NORM}")  # fmt: skip
    print("   max |CompactCNN - numpy| per level: "
          + ", ".join(f"{np.abs(o - e).max():.1e}" for o, e in zip(ours, expected)))  # fmt: skip

    print("2. wrong choices (norm of the clip's 160-d feature; max |change| of a feature of the clip touched)")
    pair = np.stack([clip, _quiet(len(clip))])
    faithful_pair = np.concatenate(ref.levels(pair, weights), axis=1)
    cases = [
        ("BatchNorm: statistics of the batch [clip, quiet]", dict(bn="batch"), 0),
        ("BatchNorm: the stored running statistics (0, 1)", dict(bn="running"), 0),
        ("BatchNorm: epsilon 1e-5 (Keras 1.1) instead of 1e-3", dict(bn_eps=1e-5), 0),
        ("BatchNorm: x / (std + eps) instead of / sqrt(var + eps)", dict(bn_std_eps=True), 0),
        ("decibels: maximum of the batch [clip, quiet]", dict(db_max="batch"), 1),
        ("decibels: against power 1, no maximum", dict(db_max=None), 0),
        ("conv kernels flipped (theano's convolution)", dict(flip=True), 0),
        ("STFT borders: librosa's 256 each side", dict(pad="center"), 0),
    ]
    for label, options, row in cases:
        wrong = np.concatenate(ref.levels(pair, weights, **options), axis=1)
        print(f"   {label:<58} norm {np.linalg.norm(wrong[0]):12.6f}   "
              f"max |change| {np.abs(wrong[row] - faithful_pair[row]).max():.3g}")  # fmt: skip

    faithful_levels = ref.levels(pair, weights)
    errors = []
    for n in range(5):  # the same graph with conv1 in float32
        f32 = keras.Model.from_config(_conv1_float32(models[n].get_config()))
        f32.set_weights(models[n].get_weights())
        errors.append(np.abs(keras.ops.convert_to_numpy(f32(pair)) - faithful_levels[n]).max())
    print("3. conv1 in float32: max |error| per level " + ", ".join(f"{e:.1e}" for e in errors))

    x8 = np.stack([clip] * 8)
    from music_tagger.embeddings.extract import feature_model

    for name, model, batch in (("compact 160-d", feature_model("compact", "multi"), x8),
                               ("crnn multi 480-d", feature_model("crnn", "multi"),
                                np.zeros((8, 96, 1366, 1), "float32"))):  # fmt: skip
        model.predict_on_batch(batch)
        start = time.perf_counter()
        for _ in range(3):
            model.predict_on_batch(batch)
        print(f"4. {name}: {24 / (time.perf_counter() - start):.1f} clips/s (batches of 8, CPU)")
    return 0


def _conv1_float32(config: dict) -> dict:
    for layer in config["layers"]:
        if layer["config"].get("name") == "conv1":
            layer["config"]["dtype"] = "float32"
    return config


if __name__ == "__main__":
    sys.exit(main())
