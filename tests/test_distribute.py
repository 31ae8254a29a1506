"""Training under tf.distribute.MirroredStrategy on 2 logical CPU devices, killed and
resumed; strategy selection from TF_CONFIG."""

import json
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import run_killed_in_epoch, start_python

from music_tagger.datasets import cache
from music_tagger.training import distribute

#: trains networks or prepares stores: left out of the contributor's `-m "not slow"` run
pytestmark = pytest.mark.slow

# The CPU must be split before TensorFlow initialises: each run is its own process.
_RUNNER = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from music_tagger.training.distribute import make_strategy
from music_tagger.training.loop import train
print(json.dumps({"replicas": make_strategy("mirrored").num_replicas_in_sync}), flush=True)
train(sys.argv[1], sys.argv[2], widths=(4, 8, 8, 8, 4), epochs=2, batch_size=8,
      patience=99, seed=1, resume=True, verbose=0, distribute="mirrored")
"""


@pytest.fixture(scope="module")
def stores(synthetic_stores) -> Path:
    """60 generated 3 s clips: 36 train (the last batch of 8 has 4, 2 per replica), 9 valid."""
    return synthetic_stores(60)


def test_mirrored_run_killed_mid_training_resumes_to_the_same_end(stores, tmp_path):
    from music_tagger.training.evaluation import evaluate_model

    killed, whole = tmp_path / "killed", tmp_path / "whole"

    def run_to_the_end(p: subprocess.Popen) -> None:
        stdout, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert json.loads(stdout.splitlines()[0]) == {"replicas": 2}

    # the uninterrupted run goes side by side with the other two
    uninterrupted = start_python(_RUNNER, stores, whole, stdout=subprocess.PIPE)
    proc = run_killed_in_epoch(_RUNNER, stores, killed, run_dir=killed, stdout=subprocess.PIPE)
    assert json.loads(proc.stdout.readline()) == {"replicas": 2}  # SIGKILL inside epoch 2
    run_to_the_end(start_python(_RUNNER, stores, killed, stdout=subprocess.PIPE))
    run_to_the_end(uninterrupted)

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


_WORKER = """
import sys
from music_tagger.training.loop import train
train(sys.argv[1], sys.argv[2], widths=(4, 8, 8, 8, 4), epochs=1, batch_size=8,
      patience=99, seed=1, verbose=0, distribute="multi-worker")
"""


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_on_localhost_train_one_model(stores, tmp_path):
    """MultiWorkerMirroredStrategy across 2 processes (TF_CONFIG on 127.0.0.1)."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    workers = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        workers.append(start_python(_WORKER, stores, tmp_path, env={"TF_CONFIG": tf_config}))
    for p in workers:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    chief, other = tmp_path, tmp_path / "worker-1"
    assert (chief / "model.keras").exists() and (other / "model.keras").exists()
    a, b = (json.loads((d / "history.json").read_text()) for d in (chief, other))
    assert [h["loss"] for h in a] == [h["loss"] for h in b]  # one model, trained in step
    assert [h["val_roc_auc"] for h in a] == [h["val_roc_auc"] for h in b]


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
