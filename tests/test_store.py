"""The fast store reader: same clips as h5py in every layout, proper epoch orders,
conversion, and the same training batches as the h5py reader."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from music_tagger.datasets import cache, store
from music_tagger.errors import DataError, ParameterError

#: trains networks or prepares stores: left out of the contributor's `-m "not slow"` run
pytestmark = pytest.mark.slow

FRAMES = 128


@pytest.fixture(scope="module")
def stores(synthetic_stores) -> Path:
    """60 generated 3 s clips: 36 train, 9 valid."""
    return synthetic_stores(60)


def _rewrite(src: Path, dst: Path, **options) -> Path:
    """A copy of the store ``src`` with other HDF5 options for its spectrograms
    (``chunks=(1, 96, frames)``: the layout of stores written before issue 12)."""
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        for name in f:
            if name == "melgrams":
                g.create_dataset(name, data=f[name][:], **options)
            else:
                f.copy(f[name], g, name)
        g.attrs.update(f.attrs)
    return dst


def _old_layout(stores: Path, tmp_path: Path) -> Path:
    return _rewrite(cache.store_path(stores, "train"), tmp_path / "train.h5", chunks=(1, 96, FRAMES))


def test_new_stores_are_contiguous_and_read_as_h5py_does(stores, tmp_path):
    path = cache.store_path(stores, "train")
    clips = store.MelgramFile(path)
    assert clips.layout == "contiguous" and clips.shape == (36, 96, FRAMES)
    index = [7, 0, 35, 12]
    np.testing.assert_array_equal(clips.read(index), cache.read_melgrams(path, index))
    old = store.MelgramFile(_old_layout(stores, tmp_path))
    assert old.layout == "chunked"
    np.testing.assert_array_equal(old.read(index), cache.read_melgrams(path, index))
    with pytest.raises(IndexError):
        clips.read([36])


def test_compressed_store_falls_back_to_h5py(stores, tmp_path):
    path = _rewrite(cache.store_path(stores, "train"), tmp_path / "train.h5",
                    chunks=(1, 96, FRAMES), compression="gzip")  # fmt: skip
    with pytest.raises(DataError, match="convert-store"):
        store.MelgramFile(path)
    info = cache.load_store(path)
    ((x, y),) = store.make_dataset(info, 64).take(1)  # read through h5py
    np.testing.assert_array_equal(x.numpy()[..., 0], cache.read_melgrams(path))
    np.testing.assert_array_equal(y.numpy(), info.y)


def test_convert_store(stores, tmp_path):
    path = _old_layout(stores, tmp_path)
    before = cache.load_store(path)
    assert store.convert_store(path) is True
    assert store.MelgramFile(path).layout == "contiguous"
    after = cache.load_store(path)
    np.testing.assert_array_equal(after.y, before.y)
    assert (after.ids, after.tags, after.settings) == (before.ids, before.tags, before.settings)
    np.testing.assert_array_equal(cache.read_melgrams(path), cache.read_melgrams(cache.store_path(stores, "train")))
    assert store.convert_store(path) is False  # contiguous already
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.h5"]  # no temporary left


def test_a_leftover_of_a_killed_convert_store_is_skipped(stores, tmp_path, capsys):
    from music_tagger.cli import main

    path = _old_layout(stores, tmp_path)
    leftover = tmp_path / "tmp-train.h5"  # what a kill during the copy leaves: a cut HDF5 file
    leftover.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert store.store_files(tmp_path) == ([path], [leftover])
    assert main(["convert-store", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert out == f"{path}: converted\n" and f"{leftover}: skipped" in err
    assert store.MelgramFile(path).layout == "contiguous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.h5"]  # the conversion removed it
    assert main(["convert-store", str(tmp_path)]) == 0


def test_stores_in_expands_folders_and_keeps_named_files_in_order(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("a/valid.h5", "a/train.h5", "a/tmp-test.h5", "b.h5", "a/notes.txt"):
        (tmp_path / name).write_bytes(b"")
    found, leftovers = store.stores_in([tmp_path / "b.h5", tmp_path / "a"])
    assert found == [tmp_path / "b.h5", tmp_path / "a" / "train.h5", tmp_path / "a" / "valid.h5"]
    assert leftovers == [tmp_path / "a" / "tmp-test.h5"]


@pytest.mark.parametrize("block", [1, 3, 64])
def test_epoch_order_is_a_permutation(block):
    orders = [store.epoch_order(100, (0, epoch), block=block) for epoch in range(3)]
    for order in orders:
        assert sorted(order.tolist()) == list(range(100))
    assert not np.array_equal(orders[0], orders[1])
    np.testing.assert_array_equal(store.epoch_order(100, (0, 0), block=block), orders[0])
    if block == 1:  # the order training always used
        np.testing.assert_array_equal(orders[2], np.random.default_rng([0, 2]).permutation(100))
    else:  # a window of 16 runs' length touches at most 17 runs (a short run shifts them)
        runs = orders[0] // block
        for start in range(0, 100, 16 * block):
            assert len(set(runs[start : start + 16 * block].tolist())) <= 17
    with pytest.raises(ParameterError, match="block"):
        store.epoch_order(10, (0,), block=0)


def test_batch_bounds_share_every_batch_among_replicas():
    for n, batch, replicas in [(36, 8, 2), (37, 8, 2), (33, 8, 4), (8, 8, 2)]:
        bounds = store.batch_bounds(n, batch, replicas)
        assert bounds[0, 0] == 0 and bounds[-1, 1] == n
        np.testing.assert_array_equal(bounds[1:, 0], bounds[:-1, 1])  # contiguous, in order
        assert np.all(np.diff(bounds, axis=1) >= 1)  # no empty piece
        assert len(bounds) % replicas == 0
    with pytest.raises(ParameterError, match="replicas"):
        store.batch_bounds(1, 8, 2)


@pytest.mark.parametrize("layout", ["contiguous", "chunked"])
def test_same_batches_as_the_h5py_reader(stores, tmp_path, layout):
    """Training sees exactly the h5py reader's batches, epoch after epoch (a seeded
    run is deterministic given its batches: the resume tests show it)."""
    path = cache.store_path(stores, "train") if layout == "contiguous" else _old_layout(stores, tmp_path)
    info = cache.load_store(path)
    for epoch in (0, 1):
        new = list(store.make_dataset(info, 16, shuffle_seed=(3, epoch)))
        old = list(store.make_dataset(info, 16, shuffle_seed=(3, epoch), reader="h5py"))
        assert [len(x) for x, _ in new] == [16, 16, 4]
        for (xa, ya), (xb, yb) in zip(new, old, strict=True):
            np.testing.assert_array_equal(xa.numpy(), xb.numpy())
            np.testing.assert_array_equal(ya.numpy(), yb.numpy())
        order = store.epoch_order(info.n, (3, epoch))
        np.testing.assert_array_equal(np.concatenate([y for _, y in new]), info.y[order])
