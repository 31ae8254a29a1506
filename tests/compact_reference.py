"""An independent numpy computation of the compact convnet, straight from its HDF5 files.

Written from the original code (``compact_cnn/models.py`` of
keunwoochoi/music-auto_tagging-keras, kapre 0.0.3, Keras 1.2.1 on tensorflow) and
sharing nothing with ``music_tagger``: numpy and h5py only, float64 throughout. The
tests hold :func:`music_tagger.models.compact.CompactCNN` against it.

Each legacy choice is a keyword, so the tests can show what the wrong one changes:

- ``flip``: flip the conv kernels (what a theano file would need); the tensorflow
  files must not be flipped.
- ``bn``: ``"clip"`` (the statistics of the one clip, Keras 1 mode 2 as ``main.py`` ran
  it), ``"batch"`` (of the whole batch given), ``"running"`` (the stored statistics,
  mean 0 and "std" 1); ``bn_eps`` its epsilon, ``bn_std_eps`` divides by
  ``std + eps`` (the formula of Keras 1's docstring) instead of ``sqrt(var + eps)``.
- ``db_max``: ``"clip"`` (each clip's maximum), ``"batch"`` (kapre 0.0.3's maximum of
  the whole batch), ``None`` (decibels against power 1).
- ``pad``: ``"same"`` (tensorflow's SAME split of kapre's ``'same'`` STFT) or
  ``"center"`` (librosa's ``n_dft // 2`` on each side).
"""

from __future__ import annotations

import h5py
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

N_DFT, HOP = 512, 256
POOLS = ((2, 4), (3, 4), (2, 5), (2, 4), (4, 4))


def read_weights(path) -> tuple[list[np.ndarray], list[dict[str, np.ndarray]]]:
    """``([dft_real, dft_imag, filterbank], [block dicts])`` of a ``weights_layerN`` file."""
    with h5py.File(path, "r") as f:
        mel = [f["melgram"][f"{v}:0"][()] for v in ("Variable", "Variable_1", "Variable_2")]
        group = f["ConvBNEluDr"]
        blocks, i = [], 1
        while f"convolution2d_{i}_W:0" in group:
            block = {k: group[f"convolution2d_{i}_{k}:0"][()] for k in ("W", "b")}
            for k in ("gamma", "beta", "running_mean", "running_std"):
                block[k] = group[f"batchnormalization_{i}_{k}:0"][()]
            blocks.append(block)
            i += 1
    return mel, blocks


def melgrams(xs: np.ndarray, mel, *, pad: str = "same", db_max: str | None = "clip") -> np.ndarray:
    """Decibel mel spectrograms ``(batch, 96, frames)`` of raw audio ``(batch, n)``."""
    real, imag, fb = (np.asarray(m, np.float64) for m in mel)
    real, imag = real[:, 0, 0, :], imag[:, 0, 0, :]
    xs = np.atleast_2d(np.asarray(xs, np.float64))
    n = xs.shape[1]
    frames = -(-n // HOP)
    if pad == "same":
        total = max((frames - 1) * HOP + N_DFT - n, 0)
        before, after = total // 2, total - total // 2
    elif pad == "center":
        before = after = N_DFT // 2
    else:
        raise ValueError(pad)
    out = []
    for x in xs:
        windows = sliding_window_view(np.pad(x, (before, after)), N_DFT)[::HOP][:frames]
        power = (windows @ real) ** 2 + (windows @ imag) ** 2
        out.append(10 * np.log10(np.maximum(power @ fb, 1e-10)).T)
    out = np.stack(out)
    if db_max == "clip":
        out = np.maximum(out - out.max(axis=(1, 2), keepdims=True), -80.0)
    elif db_max == "batch":
        out = np.maximum(out - out.max(), -80.0)
    elif db_max is not None:
        raise ValueError(db_max)
    return out


def conv3x3(x: np.ndarray, w: np.ndarray, b: np.ndarray, flip: bool = False) -> np.ndarray:
    """'same' cross-correlation of ``(batch, in, h, w)`` maps with a Keras 1 th kernel."""
    w = np.asarray(w, np.float64)
    if flip:
        w = w[:, :, ::-1, ::-1]
    h, width = x.shape[2:]
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.broadcast_to(b[None, :, None, None], (len(x), len(b), h, width)).copy()
    for i in range(3):
        for j in range(3):  # out[b, o] += sum_c w[o, c, i, j] * x[b, c, y + i - 1, x + j - 1]
            out += np.einsum("oc,bchw->bohw", w[:, :, i, j], padded[:, :, i : i + h, j : j + width], optimize=True)
    return out


def batch_norm(x, block, *, bn: str = "clip", bn_eps: float = 1e-3, bn_std_eps: bool = False):
    """Keras 1.2 ``BatchNormalization(axis=1, mode=2)`` (and the wrong readings)."""
    if bn == "clip":
        mean, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    elif bn == "batch":
        mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    elif bn == "running":
        mean = block["running_mean"][None, :, None, None].astype(np.float64)
        var = block["running_std"][None, :, None, None].astype(np.float64)
    else:
        raise ValueError(bn)
    scale = np.sqrt(var) + bn_eps if bn_std_eps else np.sqrt(var + bn_eps)
    gamma = block["gamma"][None, :, None, None].astype(np.float64)
    beta = block["beta"][None, :, None, None].astype(np.float64)
    return (x - mean) / scale * gamma + beta


def max_pool(x: np.ndarray, pool: tuple[int, int]) -> np.ndarray:
    b, c, h, w = x.shape
    ph, pw = pool
    h2, w2 = h // ph, w // pw
    return x[:, :, : h2 * ph, : w2 * pw].reshape(b, c, h2, ph, w2, pw).max(axis=(3, 5))


def levels(
    xs, weights, upto: int = 4, *, flip=False, bn="clip", bn_eps=1e-3, bn_std_eps=False, db_max="clip", pad="same"
) -> list[np.ndarray]:
    """The features ``(batch, 32)`` of levels 0 to ``upto`` of raw 12 kHz audio ``(batch, n)``.

    ``weights`` is the output of :func:`read_weights`. Level N (the original's
    ``conv_until=N``) runs blocks 1 to N + 1 (conv 3x3, BatchNorm, ELU, max-pool) and
    averages the last maps (the original flattens after block 5, whose maps are
    1 x 1 for 29 s, which is the same).
    """
    mel, blocks = weights
    h = melgrams(xs, mel, pad=pad, db_max=db_max)[:, None]
    out = []
    for block, pool in zip(blocks[: upto + 1], POOLS):
        h = conv3x3(h, block["W"], block["b"].astype(np.float64), flip)
        h = batch_norm(h, block, bn=bn, bn_eps=bn_eps, bn_std_eps=bn_std_eps)
        h = np.where(h > 0, h, np.expm1(np.minimum(h, 0)))  # ELU, alpha 1
        h = max_pool(h, pool)
        out.append(h.mean(axis=(2, 3)))
    return out


def convnet_feature(xs, weights, **options) -> np.ndarray:
    """The 160-d feature ``(batch, 160)``: the five levels, block 1's first.

    (The original ``main.py`` concatenates them from block 5 down; the order changes
    no norm and no linear model.)
    """
    return np.concatenate(levels(xs, weights, 4, **options), axis=1)
