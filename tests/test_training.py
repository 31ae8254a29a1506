"""Training on synthetic MTT-layout data: the AUC a small CRNN reaches (resuming after
SIGKILL: tests/test_training_resume.py)."""

import json
import random
import time
from pathlib import Path

import numpy as np
import pytest

from music_tagger.datasets import cache

#: trains networks or prepares stores: left out of the contributor's `-m "not slow"` run
pytestmark = pytest.mark.slow

FRAMES = 128  # the 3 s clips fit; (96, 128) inputs train fast


@pytest.fixture(scope="module")
def stores(synthetic_stores) -> Path:
    """300 synthetic 3 s clips in the MagnaTagATune layout (180 train, 45 valid, 75 test)."""
    return synthetic_stores(300, frames=FRAMES, splits=("train", "valid", "test"))


def test_small_crnn_reaches_auc_085(stores, tmp_path):
    from music_tagger.training.evaluation import evaluate_model
    from music_tagger.training.loop import train

    python_state, numpy_state = random.getstate(), np.random.get_state()
    start = time.perf_counter()
    model_path = train(stores, tmp_path, n_params=100_000, epochs=12, batch_size=8, patience=3, verbose=0)
    seconds = time.perf_counter() - start
    # the run seeded itself and gave the caller's random streams back untouched
    assert random.getstate() == python_state
    assert repr(np.random.get_state()) == repr(numpy_state)
    history = json.loads((tmp_path / "history.json").read_text())
    results = evaluate_model(model_path, cache.store_path(stores, "test"), out=tmp_path / "test")
    print(
        f"\ntrained {len(history)} epochs in {seconds:.0f} s; test ROC-AUC "
        f"{results['roc_auc_macro']:.3f}, best val {max(h['val_roc_auc'] for h in history):.3f}"
    )
    assert results["roc_auc_macro"] >= 0.85
    assert (tmp_path / "test.json").exists() and (tmp_path / "test.csv").exists()
    assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))
    assert np.all(np.diff([h["train_seconds"] for h in history]) > 0)
    assert json.loads((tmp_path / "tags.json").read_text()) == cache.load_store(cache.store_path(stores, "test")).tags
