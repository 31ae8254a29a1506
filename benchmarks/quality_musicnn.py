"""musicnn's tag scores of audio files, run in musicnn's own virtual environment.

Called by ``benchmarks/quality.py`` as a subprocess of the environment that
``benchmarks/setup_musicnn.sh`` makes; never imported by music_tagger.

    /work/venv-musicnn/bin/python benchmarks/quality_musicnn.py FILES.txt OUT.npz --model MSD_musicnn

Each file's scores are musicnn's taggram averaged over time, as ``musicnn.tagger.top_tags``
does: 3 s patches without overlap (``extractor(..., input_length=3, input_overlap=False)``).
Two changes from ``musicnn.extractor.extractor``, both made here at run time, nothing
in site-packages edited: the log-mel is kept in float32 (musicnn casts the mel power
to float16, which overflows to inf on loud music with today's numpy and librosa:
``log10(10000 * inf + 1)``), and the graph is built and restored once for all
files rather than once per file (same weights, same layers, same patches).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np


def log_mel_patches(path: str, n_frames: int) -> np.ndarray:
    """musicnn's ``batch_data`` with the mel power kept in float32: ``(patches, n_frames, 96)``."""
    import librosa
    from musicnn import configuration as config

    audio, sr = librosa.load(path, sr=config.SR)
    rep = librosa.feature.melspectrogram(y=audio, sr=sr, hop_length=config.FFT_HOP,
                                         n_fft=config.FFT_SIZE, n_mels=config.N_MELS).T  # fmt: skip
    rep = np.log10(10000 * rep.astype(np.float32) + 1)
    starts = range(0, rep.shape[0] - n_frames + 1, n_frames)
    return np.stack([rep[s : s + n_frames] for s in starts])


def scores(paths: list[str], model: str) -> tuple[np.ndarray, list[str]]:
    """Mean sigmoid taggram of each file with ``model``; returns ``(scores, labels)``."""
    import librosa
    import tensorflow as tf
    from musicnn import configuration as config
    from musicnn import models

    tf.compat.v1.disable_eager_execution()
    labels = config.MTT_LABELS if "MTT" in model else config.MSD_LABELS
    n_frames = librosa.time_to_frames(3, sr=config.SR, n_fft=config.FFT_SIZE, hop_length=config.FFT_HOP) + 1
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, n_frames, config.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        y = models.define_model(x, is_training, model, len(labels))[0]
        probabilities = tf.nn.sigmoid(y)
    session = tf.compat.v1.Session()
    session.run(tf.compat.v1.global_variables_initializer())
    tf.compat.v1.train.Saver().restore(session, os.path.join(os.path.dirname(models.__file__), model) + "/")
    out = np.zeros((len(paths), len(labels)), np.float32)
    for i, path in enumerate(paths):
        batch = log_mel_patches(path, n_frames)
        out[i] = session.run(probabilities, feed_dict={x: batch, is_training: False}).mean(axis=0)
        if i % 50 == 0:
            print(f"{model}: {i + 1}/{len(paths)}", file=sys.stderr, flush=True)
    return out, list(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", help="a text file with one audio path per line")
    parser.add_argument("out", help="npz written: scores (files x labels), labels")
    parser.add_argument("--model", default="MSD_musicnn", choices=("MSD_musicnn", "MTT_musicnn"))
    args = parser.parse_args()
    with open(args.files) as f:
        paths = [line.rstrip("\n") for line in f if line.strip()]
    values, labels = scores(paths, args.model)
    tmp = args.out + ".tmp.npz"
    np.savez(tmp, scores=values, labels=np.array(labels))
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
