"""Training on synthetic MTT-layout data: the AUC reached, resuming after SIGKILL,
fine-tuning the MSD CRNN."""
import json
import random
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import run_killed_in_epoch, start_python

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
    model_path = train(
        stores, tmp_path, n_params=100_000, epochs=12, batch_size=8, patience=3, verbose=0
    )
    seconds = time.perf_counter() - start
    # the run seeded itself and gave the caller's random streams back untouched
    assert random.getstate() == python_state
    assert repr(np.random.get_state()) == repr(numpy_state)
    history = json.loads((tmp_path / "history.json").read_text())
    results = evaluate_model(model_path, cache.store_path(stores, "test"), out=tmp_path / "test")
    print(f"\ntrained {len(history)} epochs in {seconds:.0f} s; test ROC-AUC "
          f"{results['roc_auc_macro']:.3f}, best val {max(h['val_roc_auc'] for h in history):.3f}")
    assert results["roc_auc_macro"] >= 0.85
    assert (tmp_path / "test.json").exists() and (tmp_path / "test.csv").exists()
    assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))
    assert np.all(np.diff([h["train_seconds"] for h in history]) > 0)
    assert json.loads((tmp_path / "tags.json").read_text()) == cache.load_store(
        cache.store_path(stores, "test")
    ).tags


_RUNNER = """
import sys
from music_tagger.training.loop import train
train(sys.argv[1], sys.argv[2], widths=(4, 8, 8, 8, 4), epochs=3, batch_size=16,
      patience=99, seed=1, resume=True, verbose=0)
"""


def test_run_killed_mid_epoch_resumes_to_the_same_end(stores, tmp_path):
    from music_tagger.training.evaluation import load_model

    killed, whole = tmp_path / "killed", tmp_path / "whole"
    run_killed_in_epoch(_RUNNER, stores, killed, run_dir=killed)  # SIGKILL inside epoch 2
    for runs in ([start_python(_RUNNER, stores, killed)], [start_python(_RUNNER, stores, whole)]):
        for p in runs:
            assert p.wait(timeout=300) == 0, p.stderr.read()

    a = json.loads((killed / "history.json").read_text())
    b = json.loads((whole / "history.json").read_text())
    assert [h["epoch"] for h in a] == [h["epoch"] for h in b] == [1, 2, 3]
    # seeded shuffling and dropout, restored optimizer state: the same run
    np.testing.assert_allclose([h["loss"] for h in a], [h["loss"] for h in b], rtol=1e-4)
    state = json.loads((killed / "state.json").read_text())
    assert state["epochs_done"] == 3 and not any(killed.rglob("*tmp*"))
    for path in [killed / "model.keras", *(killed / "checkpoints").iterdir()]:
        load_model(path)  # nothing corrupt


def test_resume_guards(stores, tmp_path):
    from music_tagger.training.loop import train

    state = {"config": {"kind": "train"}, "epochs_done": 1, "best_auc": 0.5, "best_epoch": 1,
             "wait": 0, "stopped_early": False, "train_seconds": 1.0, "checkpoint": None, "history": []}
    (tmp_path / "state.json").write_text(json.dumps(state))
    with pytest.raises(FileExistsError, match="resume"):
        train(stores, tmp_path, widths=(4, 4, 4, 4, 4), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="other settings"):
        train(stores, tmp_path, widths=(4, 4, 4, 4, 4), epochs=1, resume=True, verbose=0)
    # a state.json that is not one of ours is one line, not a KeyError later
    (tmp_path / "state.json").write_text(json.dumps({"config": {"kind": "train"}}))
    with pytest.raises(ValueError, match="is not a run state of music_tagger"):
        train(stores, tmp_path, widths=(4, 4, 4, 4, 4), epochs=1, resume=True, verbose=0)


def test_finetune_refuses_short_frames(stores, tmp_path):
    from music_tagger.training.loop import finetune

    with pytest.raises(ValueError, match="frames: 128, expected 1366"):
        finetune(stores, tmp_path)
