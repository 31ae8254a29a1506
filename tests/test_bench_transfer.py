"""``benchmarks/transfer.py --train-fraction``: whole pieces of the train split, seeded."""

import importlib.util
from pathlib import Path

import numpy as np

from music_tagger.datasets.dataset import Dataset

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "transfer.py"


def _module():
    spec = importlib.util.spec_from_file_location("bench_transfer", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_fraction_keeps_whole_pieces_and_the_other_splits(tmp_path):
    bt = _module()
    # 12 pieces of 1-4 train clips, plus valid and test clips
    rows, lines = [], ["clip_id\tpiece\tmp3_path"]
    rng = np.random.default_rng(0)
    for p in range(12):
        for k in range(int(rng.integers(1, 5))):
            rows.append((f"0/p{p}-{k}.ogg", f"src/p{p}", "train"))
    rows += [("c/v.ogg", "src/v", "valid"), ("d/t.ogg", "src/t", "test")]
    for i, (path, piece, _) in enumerate(rows):
        lines.append(f"{i}\t{piece}\t{path}")
    (tmp_path / "clips.tsv").write_text("\n".join(lines) + "\n")
    ds = Dataset(
        paths=[str(tmp_path / r[0]) for r in rows],
        y=np.ones((len(rows), 1), int),
        tags=["x"],
        split=[r[2] for r in rows],
        ids=[str(i) for i in range(len(rows))],
    )
    n_train = int(np.sum(ds.split == "train"))
    kept = bt.train_fraction(ds, str(tmp_path), 0.25, seed=3)
    assert kept.paths == bt.train_fraction(ds, str(tmp_path), 0.25, seed=3).paths
    assert kept.paths != bt.train_fraction(ds, str(tmp_path), 0.25, seed=4).paths
    train = [p for p, s in zip(kept.paths, kept.split) if s == "train"]
    pieces = {Path(p).name.split("-")[0] for p in train}
    # whole pieces: every clip of a kept piece is kept
    assert sorted(train) == sorted(
        str(tmp_path / r[0]) for r in rows if r[2] == "train" and r[1].split("/")[1] in pieces
    )
    assert 0.25 * n_train <= len(train) < 0.25 * n_train + 4  # stops once the share is reached
    assert [s for s in kept.split if s != "train"] == ["valid", "test"]


def test_grouped_cv_never_tests_on_a_train_piece():
    bt = _module()
    # 40 pieces of 5 clips; each piece has its own random labels and its own feature
    # direction, so only a piece seen in training can be recognised.
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(40), 5)
    x = np.eye(40)[groups] + 0.05 * rng.normal(size=(200, 40))
    y = rng.integers(0, 2, size=(40, 2))[groups]
    by_piece = bt.grouped_cv(x, y, groups, shares=(0.5, 1.0), draws=1)
    by_clip = bt.grouped_cv(x, y, np.arange(200))[1.0]
    assert by_clip[0] > 0.9  # pieces leak across folds: memorised
    assert abs(by_piece[1.0][0] - 0.5) < 0.15 and abs(by_piece[0.5][0] - 0.5) < 0.15  # they do not
    assert 0 < by_piece[1.0][1] < 0.1  # a standard error
