"""Helpers the tests share that are not fixtures: running Python in a subprocess with
this checkout importable, and a training process killed inside an epoch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def start_python(code: str, *args: object, stdout=subprocess.DEVNULL, env: dict | None = None) -> subprocess.Popen:
    """``python -c code args...`` with this checkout importable, TensorFlow quiet,
    no TF_CONFIG but the one in ``env`` (extra environment variables)."""
    environ = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    environ.update(TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        env=environ, stdout=stdout, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


#: Put before a training runner's code: with ``KILL_IN_EPOCH=N`` in its environment
#: the process SIGKILLs itself after the second batch of its N-th ``fit`` call (the
#: loops fit one epoch per call), so the kill lands inside that epoch whatever the
#: machine's load; without the variable it changes nothing.
SELF_KILL = """
import os, signal, keras
_kill_at, _fits, _fit = int(os.environ.get("KILL_IN_EPOCH", 0)), [], keras.Model.fit
class _Kill(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 1:
            os.kill(os.getpid(), signal.SIGKILL)
def _counted_fit(self, *args, callbacks=None, **kwargs):
    _fits.append(1)
    if len(_fits) == _kill_at:
        callbacks = [*(callbacks or []), _Kill()]
    return _fit(self, *args, callbacks=callbacks, **kwargs)
keras.Model.fit = _counted_fit
"""


def run_killed_in_epoch(
    code: str, *args: object, run_dir: Path, epoch: int = 2, stdout=subprocess.DEVNULL, timeout: float = 300
) -> subprocess.Popen:
    """Run ``SELF_KILL + code args...`` until it kills itself inside ``epoch``; checks
    that it died of SIGKILL with ``epoch - 1`` epochs committed in ``run_dir``."""
    proc = start_python(SELF_KILL + code, *args, stdout=stdout,
                        env={"KILL_IN_EPOCH": str(epoch)})  # fmt: skip
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"epoch {epoch} was not reached within {timeout:.0f} s")
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read()
    state = json.loads((run_dir / "state.json").read_text()) if epoch > 1 else None
    assert (state["epochs_done"] if state else 0) == epoch - 1
    return proc
