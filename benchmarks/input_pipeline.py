"""Speed of the training input against a CRNN training step, side by side in one run.

Writes a feature store of generated 29.12 s clips (1366 frames) twice: in the layout
written before issue 12 (one HDF5 chunk per clip) and in today's (contiguous). Then
measures, in clips/s at ``--batch`` (default 64), whole epochs as training reads
them (a new ``tf.data`` pipeline per epoch, shuffled by ``(seed, epoch)``, or in
order as validation reads them):

* ``old``: the reader before issue 12 (``training.make_dataset`` at commit 622deeb,
  copied below as the baseline): a Python generator that reads each batch through
  h5py fancy indexing from a file reopened every batch;
* ``new``: :func:`music_tagger.datasets.store.make_dataset`, positioned reads in parallel
  ``tf.data`` calls, on the old layout and on the contiguous one;

all from the page cache (each store is read once before), with each configuration
measured ``--repeats`` times in turn (the median is shown) because the machine may
be shared. Then the same store evicted from the page cache
(``posix_fadvise(DONTNEED)``): the new reader in order and block-shuffled, against a
plain sequential read of the file, i.e. the disk's rate. Last, the CRNN (the released
model's widths) training step alone, on a batch already in memory, and the ratio of
reader rate to step rate.

Usage::

    python benchmarks/input_pipeline.py                      # 256 clips, batch 64
    python benchmarks/input_pipeline.py --clips 512 --repeats 5 --step-batch 16
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import h5py  # noqa: E402
import numpy as np  # noqa: E402

from music_tagger.datasets import cache, store

N_MELS, FRAMES, N_TAGS = 96, 1366, 50


def write_store(path: Path, n: int, chunked: bool, seed: int = 0) -> Path:
    """A store of ``n`` generated clips (the format of :func:`music_tagger.datasets.cache.prepare`)."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        data = f.create_dataset(
            "melgrams", (n, N_MELS, FRAMES), np.float32,
            chunks=(1, N_MELS, FRAMES) if chunked else None,
        )  # fmt: skip
        for start in range(0, n, 32):
            k = min(32, n - start)
            data[start : start + k] = rng.normal(-40, 20, (k, N_MELS, FRAMES)).astype(np.float32)
        f.create_dataset("y", data=(rng.random((n, N_TAGS)) < 0.1).astype(np.uint8))
        ids = [f"clip{i}" for i in range(n)]
        f.create_dataset("ids", data=ids, dtype=h5py.string_dtype())
        f.create_dataset("paths", data=ids, dtype=h5py.string_dtype())
        f.attrs.update(
            tags=json.dumps([f"tag{i}" for i in range(N_TAGS)]),
            settings=json.dumps(cache.preprocessing_settings(FRAMES)),
            failures="[]", split="train", format_version=cache.FORMAT_VERSION,
        )  # fmt: skip
    return path


def old_make_dataset(store_info: cache.Store, batch_size: int, shuffle_seed=None):
    """The reader before issue 12 (``training.make_dataset`` at 622deeb), verbatim."""
    import tensorflow as tf

    order = np.arange(store_info.n)
    if shuffle_seed is not None:
        order = np.random.default_rng(list(shuffle_seed)).permutation(store_info.n)

    def batches():
        for start in range(0, store_info.n, batch_size):
            index = order[start : start + batch_size]
            x = cache.read_melgrams(store_info.path, index)
            yield x[..., None], store_info.y[index].astype(np.float32)

    signature = (
        tf.TensorSpec((None, store_info.settings["n_mels"], store_info.frames, 1), tf.float32),
        tf.TensorSpec((None, len(store_info.tags)), tf.float32),
    )
    n_batches = -(-store_info.n // batch_size)
    dataset = tf.data.Dataset.from_generator(batches, output_signature=signature)
    return dataset.apply(tf.data.experimental.assert_cardinality(n_batches)).prefetch(2)


def clips_per_second(make, info: cache.Store, shuffled: bool, min_seconds: float) -> float:
    """Whole epochs (a new pipeline each, as in training) for at least ``min_seconds``."""
    clips, epoch, start = 0, 0, time.perf_counter()
    while True:
        for x, _ in make(info, (0, epoch) if shuffled else None):
            clips += int(x.shape[0])
        epoch += 1
        seconds = time.perf_counter() - start
        if seconds >= min_seconds:
            return clips / seconds


def evict(path: Path) -> None:
    """Drop ``path`` from the page cache (its pages are clean, so no root needed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def sequential_mb_per_s(path: Path, block: int = 8 << 20) -> float:
    """A plain read of the whole file in 8 MiB requests, from wherever it is."""
    buf = bytearray(block)
    total, start = 0, time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            total += n
    return total / (time.perf_counter() - start) / 1e6


def crnn_step_clips_per_second(batch: int, steps: int) -> float:
    """Training steps of the CRNN (released widths) on one batch held in memory."""
    import keras

    from music_tagger.models import builders as models

    model = models.build("crnn", classes=N_TAGS, input_shape=(N_MELS, FRAMES, 1))
    model.compile(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.normal(-40, 20, (batch, N_MELS, FRAMES, 1)).astype(np.float32)
    y = (rng.random((batch, N_TAGS)) < 0.1).astype(np.float32)
    model.train_on_batch(x, y)  # trace and build
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return batch * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=256, help="clips in the generated store (>= 255)")
    parser.add_argument("--batch", type=int, default=64, help="reader batch size")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per reader configuration")
    parser.add_argument("--min-seconds", type=float, default=1.0, help="least time per measurement")
    parser.add_argument("--block", type=int, default=64, help="clips per run of the block-shuffled cold read")
    parser.add_argument("--step-batch", type=int, default=16, help="batch of the CRNN training step")
    parser.add_argument("--steps", type=int, default=3, help="timed CRNN training steps")
    parser.add_argument("--dir", default=None, help="where to write the stores (default: a temporary folder)")
    args = parser.parse_args()

    print(f"load average before: {os.getloadavg()[0]:.2f}, CPUs: {os.cpu_count()}")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        old_path = write_store(Path(tmp) / "old-layout.h5", args.clips, chunked=True)
        new_path = write_store(Path(tmp) / "contiguous.h5", args.clips, chunked=False)
        old_info, new_info = cache.load_store(old_path), cache.load_store(new_path)
        size_mb = os.path.getsize(new_path) / 1e6
        print(f"store: {args.clips} clips of {N_MELS} x {FRAMES} float32 ({size_mb:.0f} MB), batch {args.batch}")
        batch = args.batch
        readers = {
            "old reader, old layout (h5py per row, reopened per batch)":
                (old_info, lambda s, seed: old_make_dataset(s, batch, seed)),
            "new reader, old layout (chunk per clip, no conversion)":
                (old_info, lambda s, seed: store.make_dataset(s, batch, seed)),
            "new reader, contiguous layout":
                (new_info, lambda s, seed: store.make_dataset(s, batch, seed)),
        }  # fmt: skip
        for path in (old_path, new_path):
            sequential_mb_per_s(path)  # into the page cache
        rates = {(name, shuffled): [] for name in readers for shuffled in (True, False)}
        for _ in range(args.repeats):
            for (name, shuffled), values in rates.items():
                info, make = readers[name]
                values.append(clips_per_second(make, info, shuffled, args.min_seconds))
        median = {key: statistics.median(values) for key, values in rates.items()}
        print(f"\npage-cached, clips/s (median of {args.repeats}; all runs in brackets)")
        print(f"{'reader':58s} {'shuffled':>9s} {'in order':>9s}")
        for name in readers:
            cells = [f"{median[name, s]:9.0f}" for s in (True, False)]
            print(f"{name:58s} {cells[0]} {cells[1]}")
            print(
                f"{'':58s} " + " ".join("[" + ",".join(f"{v:.0f}" for v in rates[name, s]) + "]" for s in (True, False))
            )
        base = median[next(iter(readers)), True]
        for name in list(readers)[1:]:
            print(f"shuffled speed-up, {name}: {median[name, True] / base:.1f}x")

        print("\nnot in the page cache (evicted before each read)")
        evict(new_path)
        disk = sequential_mb_per_s(new_path)
        print(
            f"plain sequential read of the file: {disk:7.0f} MB/s = {disk * 1e6 / (size_mb * 1e6 / args.clips):6.0f} clips/s"
        )
        for label, seed, block in (("new reader, in order", None, 1),
                                   (f"new reader, shuffled in runs of {args.block}", (0, 0), args.block),
                                   ("new reader, shuffled clip by clip", (0, 0), 1)):  # fmt: skip
            evict(new_path)
            start = time.perf_counter()
            clips = sum(int(x.shape[0]) for x, _ in store.make_dataset(new_info, batch, seed, block=block))
            rate = clips / (time.perf_counter() - start)
            print(f"{label:45s} {rate * size_mb / args.clips:7.0f} MB/s = {rate:6.0f} clips/s")

    step = crnn_step_clips_per_second(args.step_batch, args.steps)
    print(f"\nCRNN (released widths) training step alone, batch {args.step_batch}: {step:.1f} clips/s")
    print(
        f"page-cached shuffled reader / training step: old {base / step:.0f}x, "
        f"new {median['new reader, contiguous layout', True] / step:.0f}x"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
