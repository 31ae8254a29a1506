"""Fast reading of feature stores: positioned reads, seeded epoch orders, tf.data batches.

A store of :func:`music_tagger.datasets.cache.prepare` keeps its spectrograms uncompressed in
HDF5, either in one contiguous block (stores written since the contiguous layout) or in one chunk
per clip (earlier stores). Either way every clip is one run of
``96 * frames * 4`` bytes at a known place in the file, so :class:`MelgramFile`
reads a clip with a single ``os.pread`` straight into the batch: no HDF5 selection
machinery, no file reopened per batch, and the GIL is released while the kernel
copies, so several batches are read in parallel. A store whose layout cannot be read
this way (compressed, or chunked otherwise) is read through h5py, or converted once
with :func:`convert_store` (``music-tagger convert-store``).

:func:`make_dataset` turns a store into a ``tf.data.Dataset`` of batches in an
order of :func:`epoch_order`: a seeded permutation (every clip once per epoch),
optionally block-wise, so that a store larger than the page cache is read in long
runs rather than clip by clip.

Examples
--------
>>> from music_tagger.datasets import cache
>>> from music_tagger.datasets.store import make_dataset
>>> ds = make_dataset(cache.load_store("features/train.h5"), 64, shuffle_seed=(0, 0))  # doctest: +SKIP
>>> x, y = next(iter(ds)); x.shape                                                    # doctest: +SKIP
TensorShape([64, 96, 1366, 1])
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Iterator, Sequence

import h5py
import numpy as np

from ..errors import DataError, ParameterError
from ..util.checks import open_h5, positive_int
from ..util.files import atomic_path, is_temporary
from . import cache

__all__ = [
    "READERS", "MelgramFile", "batch_bounds", "convert_store", "epoch_order", "iter_batches",
    "make_dataset", "steps_per_epoch", "store_files", "stores_in",
]  # fmt: skip

#: ``make_dataset(reader=...)``: "auto" reads by positioned reads where the layout
#: allows and through h5py otherwise; "h5py" always through h5py (the reader before
#: the contiguous layout, kept for stores that cannot be read otherwise and as the baseline).
READERS = ("auto", "h5py")


def _clip_offsets(data: h5py.Dataset) -> np.ndarray | None:
    """Byte offset of each clip in the file, or None when clips are not plain runs."""
    n = data.shape[0]
    if data.dtype != np.dtype("<f4"):
        return None
    clip_bytes = int(np.prod(data.shape[1:])) * 4
    if data.chunks is None:
        offset = data.id.get_offset()
        if offset is None:  # never written (an empty store)
            return np.zeros(0, np.int64) if n == 0 else None
        return offset + clip_bytes * np.arange(n, dtype=np.int64)
    filtered = data.compression or data.shuffle or data.fletcher32 or data.scaleoffset
    if data.chunks != (1,) + data.shape[1:] or filtered:
        return None
    offsets = np.full(n, -1, np.int64)
    for k in range(data.id.get_num_chunks()):
        info = data.id.get_chunk_info(k)
        if info.filter_mask == 0 and info.size == clip_bytes:
            offsets[info.chunk_offset[0]] = info.byte_offset
    return None if (offsets < 0).any() else offsets


class MelgramFile:
    """The spectrograms of a store, read clip by clip with positioned reads.

    Parameters
    ----------
    path : str or path-like
        A store of :func:`music_tagger.datasets.cache.prepare`.

    Attributes
    ----------
    path : pathlib.Path
    shape : tuple of int
        ``(n, n_mels, frames)``.
    layout : {"contiguous", "chunked"}
        Where the clips lie: one block (stores since the contiguous layout) or one HDF5 chunk
        per clip (earlier stores); both are read the same way.

    Raises
    ------
    music_tagger.errors.DataError
        The store's spectrograms are not plain float32 runs (e.g. compressed):
        read them with ``reader="h5py"`` or convert the store (:func:`convert_store`).

    Examples
    --------
    >>> clips = MelgramFile("features/train.h5")     # doctest: +SKIP
    >>> clips.read([5, 2]).shape                      # doctest: +SKIP
    (2, 96, 1366)
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        with open_h5(self.path) as f:
            data = f["melgrams"]
            self.shape = tuple(int(s) for s in data.shape)
            self.layout = "contiguous" if data.chunks is None else "chunked"
            offsets = _clip_offsets(data)
        if offsets is None:
            raise DataError(
                f"{self.path}: the spectrograms are not stored as plain float32 clips; "
                "read it with reader='h5py' or convert it with music-tagger convert-store"
            )
        self._offsets = offsets
        self._fd = os.open(self.path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, index: Sequence[int] | np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The clips at ``index``, in the order given.

        Parameters
        ----------
        index : sequence of int
        out : np.ndarray, optional
            Where to write them: float32, C-contiguous, ``len(index)`` rows of
            ``n_mels * frames`` values (e.g. shape ``(k, n_mels, frames, 1)``).

        Returns
        -------
        np.ndarray, shape (len(index), n_mels, frames), float32
            Or ``out``.
        """
        index = np.asarray(index, dtype=np.int64)
        if out is None:
            out = np.empty((len(index),) + self.shape[1:], np.float32)
        if len(index) and (index.min() < 0 or index.max() >= len(self)):
            raise IndexError(f"clip index out of range 0..{len(self) - 1}")
        rows = out.reshape(len(index), -1)
        for row, i in zip(rows, index):
            view = memoryview(row).cast("B")
            if os.preadv(self._fd, [view], int(self._offsets[i])) != view.nbytes:
                raise OSError(f"{self.path} is shorter than its index says (truncated?)")
        return out


def epoch_order(n: int, seed: Sequence[int] | None = None, *, block: int = 1) -> np.ndarray:
    """The order in which one epoch visits ``n`` clips: a permutation of ``range(n)``.

    Parameters
    ----------
    n : int
    seed : sequence of int, optional
        Seeds of this epoch's order (e.g. ``(seed, epoch)``); None: ``0 .. n-1``.
    block : int
        1: a uniform random permutation (what training always used). ``b > 1``:
        runs of ``b`` consecutive clips, taken in random order, and shuffled inside
        windows of 16 runs; for stores larger than memory, so that reads stay long.

    Returns
    -------
    np.ndarray, shape (n,), int64

    Examples
    --------
    >>> epoch_order(5).tolist()
    [0, 1, 2, 3, 4]
    >>> sorted(epoch_order(10, (0, 1), block=3).tolist()) == list(range(10))
    True
    """
    block = positive_int(block, "block")
    if seed is None:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(list(seed))
    if block == 1:
        return rng.permutation(n).astype(np.int64)
    starts = rng.permutation(np.arange(0, n, block))
    order = np.concatenate([np.arange(s, min(s + block, n)) for s in starts] or [np.zeros(0, int)])
    window = 16 * block
    for start in range(0, n, window):
        rng.shuffle(order[start : start + window])
    return order.astype(np.int64)


def batch_bounds(n: int, batch_size: int, replicas: int = 1) -> np.ndarray:
    """Where each (per-replica) batch starts and stops in an epoch's order.

    Batches of ``batch_size`` (the last one shorter), each cut into ``replicas``
    pieces whose sizes differ by at most one. With several replicas, a last batch of
    fewer than ``replicas`` clips is joined to the one before, so that no replica
    ever gets an empty piece (which BatchNorm cannot take) and no clip is dropped.

    Returns
    -------
    np.ndarray, shape (steps * replicas, 2), int64
        ``[start, stop)`` of each piece, step by step, replica by replica.

    Examples
    --------
    >>> batch_bounds(5, 2).tolist()
    [[0, 2], [2, 4], [4, 5]]
    >>> batch_bounds(9, 4, replicas=2).tolist()
    [[0, 2], [2, 4], [4, 6], [6, 9]]
    """
    if n < replicas:
        raise ParameterError(f"{n} clips cannot be shared among {replicas} replicas")
    starts = list(range(0, n, batch_size))
    if replicas > 1 and len(starts) > 1 and n - starts[-1] < replicas:
        starts.pop()
    stops = starts[1:] + [n]
    cuts = [
        start + (stop - start) * r // replicas for start, stop in zip(starts, stops) for r in range(replicas + 1)
    ]  # each batch's replicas + 1 cut points, the first and last the batch's ends
    cuts = np.array(cuts, dtype=np.int64).reshape(len(starts), replicas + 1)
    return np.stack([cuts[:, :-1], cuts[:, 1:]], axis=-1).reshape(-1, 2)


def steps_per_epoch(n: int, batch_size: int, strategy=None) -> int | None:
    """Steps of an epoch of :func:`make_dataset` under ``strategy``, for ``model.fit``
    and ``model.predict`` (Keras cannot count a distributed dataset); None without
    a strategy of several replicas (Keras counts a plain dataset itself).

    Examples
    --------
    >>> steps_per_epoch(100, 16) is None
    True
    """
    if strategy is None or strategy.num_replicas_in_sync == 1:
        return None
    replicas = strategy.num_replicas_in_sync
    return len(batch_bounds(n, batch_size, replicas)) // replicas


def _batch_reader(store: cache.Store, order: np.ndarray, reader: str):
    """A function ``(start, stop) -> (x[..., None], y)`` of the clips ``order[start:stop]``."""
    labels = np.asarray(store.y, np.float32)
    clips = None
    if reader == "auto":
        try:
            clips = MelgramFile(store.path)
        except DataError:  # a layout only h5py reads
            pass

    def read(bounds: np.ndarray):
        index = order[bounds[0] : bounds[1]]
        if clips is None:
            return cache.read_melgrams(store.path, index)[..., None], labels[index]
        x = np.empty((len(index), store.settings["n_mels"], store.frames, 1), np.float32)
        return clips.read(index, out=x), labels[index]

    return read


def _dataset(store: cache.Store, order: np.ndarray, bounds: np.ndarray, reader: str):
    import tensorflow as tf

    read = _batch_reader(store, order, reader)
    x_shape = (None, store.settings["n_mels"], store.frames, 1)
    y_shape = (None, len(store.tags))

    def load(piece):
        x, y = tf.numpy_function(read, [piece], (tf.float32, tf.float32), stateful=False)
        return tf.ensure_shape(x, x_shape), tf.ensure_shape(y, y_shape)

    dataset = tf.data.Dataset.from_tensor_slices(bounds)
    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(2)


def make_dataset(
    store: cache.Store,
    batch_size: int,
    shuffle_seed: Sequence[int] | None = None,
    *,
    block: int = 1,
    reader: str = "auto",
    strategy=None,
):
    """A ``tf.data.Dataset`` of ``(melgrams[..., None], labels)`` batches from a store.

    The batches follow :func:`epoch_order` and are read by parallel calls of
    :meth:`MelgramFile.read` (deterministic: always the same batches in the same
    order), two batches ahead of training.

    Parameters
    ----------
    store : music_tagger.datasets.cache.Store
    batch_size : int
        Clips per batch (under a strategy: per step, over all replicas).
    shuffle_seed : sequence of int, optional
        Seeds of this pass's random order (e.g. ``(seed, epoch)``); None keeps the
        store's order.
    block : int
        See :func:`epoch_order` (1: uniform shuffling).
    reader : {"auto", "h5py"}
        See :data:`READERS`.
    strategy : tf.distribute.Strategy, optional
        With more than one replica: a distributed dataset in which every step
        shares one batch of the same order among the replicas (see
        :func:`batch_bounds`); each worker of a multi-worker strategy reads only
        its replicas' pieces.

    Examples
    --------
    >>> ds = make_dataset(cache.load_store("features/valid.h5"), 16)   # doctest: +SKIP
    >>> x, y = next(iter(ds)); x.shape, y.shape                        # doctest: +SKIP
    (TensorShape([16, 96, 1366, 1]), TensorShape([16, 50]))
    """
    if reader not in READERS:
        raise ParameterError(f"reader must be one of {READERS}, got {reader!r}")
    order = epoch_order(store.n, shuffle_seed, block=block)
    if strategy is None or strategy.num_replicas_in_sync == 1:
        return _dataset(store, order, batch_bounds(store.n, batch_size), reader)
    replicas = strategy.num_replicas_in_sync
    bounds = batch_bounds(store.n, batch_size, replicas).reshape(-1, replicas, 2)

    def worker_dataset(context):
        local = replicas // context.num_input_pipelines
        first = context.input_pipeline_id * local
        return _dataset(store, order, bounds[:, first : first + local].reshape(-1, 2), reader)

    return strategy.distribute_datasets_from_function(worker_dataset)


def iter_batches(
    store: str | os.PathLike, batch_size: int, *, frames: int | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The spectrograms of a store in order, ``batch_size`` clips at a time, for inference.

    The one batch loop of every store that a network scores outside training
    (features, activations, calibration); training reads through :func:`make_dataset`.
    The store and ``frames`` are checked when it is called, before the first batch.

    Parameters
    ----------
    store : path-like
    batch_size : int
    frames : int, optional
        The frames per clip the network takes: another store is refused up front.

    Yields
    ------
    melgrams : np.ndarray, shape (n, 96, frames), float32
    index : np.ndarray of int64, shape (n,)
        The clips' rows in the store.

    Raises
    ------
    ParameterError
        The store holds another number of frames than ``frames``.

    Examples
    --------
    >>> for x, index in iter_batches("features/test.h5", 8, frames=1366):  # doctest: +SKIP
    ...     print(x.shape, index[0])
    (8, 96, 1366) 0
    """
    batch_size = positive_int(batch_size, "batch_size")
    info = cache.load_store(store)
    if frames is not None and info.frames != frames:
        raise ParameterError(
            f"{store} holds {info.frames} frames per clip; the network takes {frames} (prepare without --frames)"
        )
    return _batches(info, batch_size)


def _batches(info: cache.Store, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    for start in range(0, info.n, batch_size):
        index = np.arange(start, min(start + batch_size, info.n))
        yield cache.read_melgrams(info.path, index), index


def store_files(folder: str | os.PathLike) -> tuple[list[Path], list[Path]]:
    """The stores of ``folder`` (``*.h5``, sorted), and the unfinished writes left out.

    A run killed while writing a store (``prepare`` finishing a split,
    :func:`convert_store`) leaves a ``tmp-<name>.h5`` beside it, cut short; it is no
    store, and the next write of that store removes it.

    Returns
    -------
    stores, leftovers : list of pathlib.Path

    Examples
    --------
    >>> stores, leftovers = store_files("features")     # doctest: +SKIP
    >>> [p.name for p in stores], [p.name for p in leftovers]  # doctest: +SKIP
    (['train.h5', 'valid.h5'], ['tmp-test.h5'])
    """
    found = sorted(Path(folder).glob("*.h5"))
    return [p for p in found if not is_temporary(p)], [p for p in found if is_temporary(p)]


def stores_in(items: Sequence[str | os.PathLike]) -> tuple[list[Path], list[Path]]:
    """The stores that ``items`` name: each folder's (:func:`store_files`), and each other item itself.

    Returns
    -------
    stores, leftovers : list of pathlib.Path
        The stores in order, and the unfinished writes found in the folders (left out).

    Examples
    --------
    >>> stores, leftovers = stores_in(["features", "old/train.h5"])   # doctest: +SKIP
    >>> [p.as_posix() for p in stores]                                 # doctest: +SKIP
    ['features/test.h5', 'features/train.h5', 'features/valid.h5', 'old/train.h5']
    """
    stores, leftovers = [], []
    for item in map(Path, items):
        found, left = store_files(item) if item.is_dir() else ([item], [])
        stores += found
        leftovers += left
    return stores, leftovers


def convert_store(path: str | os.PathLike, *, block: int = 64) -> bool:
    """Rewrite a store with its spectrograms in one contiguous block, atomically.

    Stores written before the contiguous layout keep one HDF5 chunk per clip, and are read as
    fast from the page cache; a contiguous block is one sequential run on disk
    (HDF5 may scatter chunks) and is what :func:`music_tagger.datasets.cache.prepare` writes
    now. Compressed stores, which only h5py reads, become readable the fast way. The rewrite goes
    to a temporary file that replaces the store only when complete.

    Parameters
    ----------
    path : str or path-like
        A store of :func:`music_tagger.datasets.cache.prepare`.
    block : int
        Clips copied at a time.

    Returns
    -------
    bool
        True if the store was rewritten, False if it was contiguous already.

    Examples
    --------
    >>> convert_store("features/train.h5")     # doctest: +SKIP
    True
    """
    path = Path(path)
    cache.load_store(path)  # a store of this format, or a clear error
    with h5py.File(path, "r") as src:
        if src["melgrams"].chunks is None:
            return False
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as dst:
            data = src["melgrams"]
            out = dst.create_dataset("melgrams", data.shape, np.float32)
            for start in range(0, data.shape[0], block):
                out[start : start + block] = data[start : start + block]
            for name in src:
                if name != "melgrams":
                    src.copy(src[name], dst, name)
            dst.attrs.update(src.attrs)
    return True
