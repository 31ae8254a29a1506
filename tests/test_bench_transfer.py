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
    ds = Dataset(paths=[str(tmp_path / r[0]) for r in rows], y=np.ones((len(rows), 1), int),
                 tags=["x"], split=[r[2] for r in rows], ids=[str(i) for i in range(len(rows))])
    n_train = int(np.sum(ds.split == "train"))
    kept = bt.train_fraction(ds, str(tmp_path), 0.25, seed=3)
    assert kept.paths == bt.train_fraction(ds, str(tmp_path), 0.25, seed=3).paths
    assert kept.paths != bt.train_fraction(ds, str(tmp_path), 0.25, seed=4).paths
    train = [p for p, s in zip(kept.paths, kept.split) if s == "train"]
    pieces = {Path(p).name.split("-")[0] for p in train}
    # whole pieces: every clip of a kept piece is kept
    assert sorted(train) == sorted(str(tmp_path / r[0]) for r in rows
                                   if r[2] == "train" and r[1].split("/")[1] in pieces)
    assert 0.25 * n_train <= len(train) < 0.25 * n_train + 4  # stops once the share is reached
    assert [s for s in kept.split if s != "train"] == ["valid", "test"]
