"""Training under tf.distribute.MirroredStrategy on 2 logical CPU devices, killed and
resumed; strategy selection from TF_CONFIG."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from music_tagger import cache, distribute
from music_tagger.data import read_mtt
from music_tagger.synth import TAGS, make_mtt_like

ROOT = Path(__file__).resolve().parent.parent

# The CPU must be split before TensorFlow initialises: each run is its own process.
_RUNNER = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from music_tagger.distribute import make_strategy
from music_tagger.training import train
print(json.dumps({"replicas": make_strategy("mirrored").num_replicas_in_sync}), flush=True)
train(sys.argv[1], sys.argv[2], widths=(4, 8, 8, 8, 4), epochs=2, batch_size=8,
      patience=99, seed=1, resume=True, verbose=0, distribute="mirrored")
"""


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> Path:
    """Stores of 60 synthetic 3 s clips (37 train, 9 valid): the last batch of 8 has 5."""
    root = make_mtt_like(tmp_path_factory.mktemp("mtt"), n_clips=60, seed=0)
    out = tmp_path_factory.mktemp("features")
    cache.prepare(read_mtt(root, top_n=len(TAGS)), out, splits=("train", "valid"),
                  frames=128, workers=2, progress=False)  # fmt: skip
    return out


def _run(store_dir: Path, out: Path) -> subprocess.Popen:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    env.pop("TF_CONFIG", None)
    return subprocess.Popen(
        [sys.executable, "-c", _RUNNER, str(store_dir), str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.mark.slow
def test_mirrored_run_killed_mid_training_resumes_to_the_same_end(stores, tmp_path):
    from music_tagger.training import evaluate_model

    killed, whole = tmp_path / "killed", tmp_path / "whole"
    proc = _run(stores, killed)
    while not (killed / "state.json").exists():  # the first epoch is committed
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads(proc.stdout.readline()) == {"replicas": 2}
    assert json.loads((killed / "state.json").read_text())["epochs_done"] < 2
    runs = [_run(stores, killed), _run(stores, whole)]
    for p in runs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert json.loads(out.splitlines()[0]) == {"replicas": 2}

    a = json.loads((killed / "history.json").read_text())
    b = json.loads((whole / "history.json").read_text())
    assert [h["epoch"] for h in a] == [h["epoch"] for h in b] == [1, 2]
    assert all(np.isfinite(h["loss"]) for h in a)
    np.testing.assert_allclose([h["loss"] for h in a], [h["loss"] for h in b], rtol=1e-4)
    state = json.loads((killed / "state.json").read_text())
    assert state["epochs_done"] == 2 and state["config"]["distribute"] == "mirrored"
    assert not any(killed.rglob("*tmp*"))
    # the validation scores gathered from the 2 replicas are in the store's order:
    # the best model, scored without a strategy, gets the AUC the run recorded
    valid = evaluate_model(killed / "model.keras", cache.store_path(stores, "valid"), batch_size=8)
    assert valid["roc_auc_macro"] == pytest.approx(state["best_auc"], abs=1e-6)


def test_strategy_choice(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert distribute.make_strategy(None) is None
    assert distribute.is_chief() and distribute.run_dir("runs").as_posix() == "runs"
    with pytest.raises(ValueError, match="TF_CONFIG"):
        distribute.make_strategy("multi-worker")
    with pytest.raises(ValueError, match="distribute must be"):
        distribute.make_strategy("horovod")
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 1}}))
    assert not distribute.is_chief()
    assert distribute.run_dir("runs").as_posix() == "runs/worker-1"
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": "worker", "index": 0}}))
    assert distribute.is_chief()
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="not JSON"):
        distribute.is_chief()
