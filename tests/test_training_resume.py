"""Training killed with SIGKILL inside an epoch resumes to the same end; what resuming
refuses. In a file of its own, so that under ``-n 2`` it runs beside the long
training of tests/test_training.py."""

import json

import numpy as np
import pytest
from helpers import run_killed_in_epoch, start_python

#: trains networks or prepares stores: left out of the contributor's `-m "not slow"` run
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stores(synthetic_stores):
    """60 generated 3 s clips: 36 train (5 batches of 8), 9 valid."""
    return synthetic_stores(60)


_RUNNER = """
import sys
from music_tagger.training.loop import train
train(sys.argv[1], sys.argv[2], widths=(4, 8, 8, 8, 4), epochs=3, batch_size=8,
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

    state = {
        "config": {"kind": "train"},
        "epochs_done": 1,
        "best_auc": 0.5,
        "best_epoch": 1,
        "wait": 0,
        "stopped_early": False,
        "train_seconds": 1.0,
        "checkpoint": None,
        "history": [],
    }
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
    from music_tagger.training.loop import finetune_unfreeze

    with pytest.raises(ValueError, match="frames: 128, expected 1366"):
        finetune_unfreeze(stores, tmp_path)
