"""``benchmarks/quality.py``: bootstrap by recording, per-tag scores that skip unknown labels."""

import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def quality():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import quality

        yield quality
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_a_bootstrap_resample_draws_whole_recordings(quality):
    recordings = ["a", "a", "a", "b", "c", "c"]
    for rows in quality.bootstrap_rows(recordings, 50, seed=1):
        drawn = [recordings[i] for i in rows]
        for name in set(drawn):  # every drawn recording brings all of its clips, per draw
            assert drawn.count(name) % recordings.count(name) == 0
        assert len({recordings[i] for i in rows}) <= 3


def test_per_tag_leaves_out_unknown_labels_and_tags_the_model_lacks(quality):
    tags = quality.TAGS
    y = np.array([[1, 0, np.nan], [0, 1, np.nan], [1, np.nan, 1], [0, 0, 0]], float)
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.5], [0.4, 0.3]])
    table = quality.per_tag(scores, [tags[0].upper(), tags[1]], y)  # model labels in any case
    assert set(table) == {tags[0], tags[1]}
    assert table[tags[0]][0] == roc_auc_score([1, 0, 1, 0], [0.9, 0.2, 0.7, 0.4])
    assert table[tags[1]][0] == roc_auc_score([0, 1, 0], [0.1, 0.8, 0.3])
    assert quality.macro(table, [tags[0], tags[1]]) == pytest.approx((table[tags[0]][0] + table[tags[1]][0]) / 2)
    assert np.isnan(quality.macro(table, list(tags)))  # a tag without a score: no macro
