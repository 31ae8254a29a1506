"""Training on accelerators: tf.distribute strategies and mixed precision, scoped.

:func:`music_tagger.training.loop.train` and :func:`~music_tagger.training.loop.finetune_unfreeze`
take ``distribute``, ``mixed_precision`` and ``jit_compile``; this module turns them
into TensorFlow and Keras settings without changing anything global for longer than
the model is built:

* ``distribute="mirrored"``: :class:`tf.distribute.MirroredStrategy` over every
  local GPU (on a machine without GPUs, over the logical CPU devices, which is how
  the tests run it); each batch is split across the replicas and the gradients
  summed, so ``batch_size`` stays the global batch. BatchNorm layers compute their
  batch statistics over the global batch (:func:`synchronize_batchnorm`), so every
  replica keeps the same moving statistics and a checkpoint is the model that was
  validated.
* ``distribute="multi-worker"``: :class:`tf.distribute.MultiWorkerMirroredStrategy`
  across the machines named in the ``TF_CONFIG`` environment variable (see
  docs/training.md); every worker runs the same command, and only the chief writes into the
  run folder (the others into ``<out>/worker-<index>``).
* ``distribute="auto"``: multi-worker when ``TF_CONFIG`` names more than one task,
  else mirrored.
* ``mixed_precision=True``: the ``mixed_float16`` policy while the model is built
  (float16 compute, float32 weights, loss scaling by Keras), with the output layer
  kept in float32 so that the sigmoid and the cross-entropy stay accurate.

Examples
--------
>>> from music_tagger.training.distribute import make_strategy, strategy_scope
>>> strategy = make_strategy("mirrored")                 # doctest: +SKIP
>>> strategy.num_replicas_in_sync                         # doctest: +SKIP
8
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

from ..errors import ParameterError

__all__ = [
    "STRATEGIES",
    "is_chief",
    "keep_output_float32",
    "make_strategy",
    "mixed_precision_scope",
    "run_dir",
    "strategy_scope",
    "synchronize_batchnorm",
]

#: Values of ``distribute`` (None: no strategy, TensorFlow's default device).
STRATEGIES = ("auto", "mirrored", "multi-worker")


def _tf_config() -> dict[str, Any]:
    text = os.environ.get("TF_CONFIG", "")
    if not text:
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ParameterError(f"TF_CONFIG is not JSON ({err}): {text[:80]!r}") from None


def _n_tasks(config: dict[str, Any]) -> int:
    return sum(len(v) for k, v in config.get("cluster", {}).items() if k in ("chief", "worker"))


def make_strategy(kind: str | None):
    """The ``tf.distribute.Strategy`` for ``kind``, or None for no strategy.

    Parameters
    ----------
    kind : {None, "auto", "mirrored", "multi-worker"}
        See the module docstring.

    Returns
    -------
    tf.distribute.Strategy or None

    Raises
    ------
    music_tagger.errors.ParameterError
        An unknown ``kind``, or ``"multi-worker"`` without a ``TF_CONFIG`` cluster.

    Examples
    --------
    >>> make_strategy(None) is None
    True
    """
    if kind is None:
        return None
    if kind not in STRATEGIES:
        raise ParameterError(f"distribute must be one of {STRATEGIES} or None, got {kind!r}")
    import tensorflow as tf

    config = _tf_config()
    if kind == "auto":
        kind = "multi-worker" if _n_tasks(config) > 1 else "mirrored"
    if kind == "multi-worker":
        if not _n_tasks(config):
            raise ParameterError(
                "distribute='multi-worker' needs the TF_CONFIG environment variable "
                'naming the cluster and this task, e.g. {"cluster": {"worker": '
                '["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}'
            )
        return _multi_worker_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])


def _multi_worker_strategy():
    """``MultiWorkerMirroredStrategy`` whose ``reduce`` also takes nested values.

    Two gaps between Keras 3.15's ``fit`` and this strategy, each of which failed
    a two-worker run: ``fit`` starts by averaging the first distributed batch, an
    ``(x, y)`` tuple, with ``strategy.reduce``, whose collective version takes one
    value at a time ("Attempt to convert a value (PerReplica...)"); and it
    averages the per-replica losses, scalars, over ``axis=0`` ("Invalid reduction
    dimension 0 for input with 0 dimensions").
    """
    import tensorflow as tf

    class MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis):
            if isinstance(value, (tuple, list)):  # not into PerReplica's components
                return type(value)(self.reduce(reduce_op, v, axis) for v in value)
            if axis is not None and self.experimental_local_results(value)[0].shape.rank == 0:
                axis = None  # a scalar per replica (the loss) has no axis 0 to reduce
            return super().reduce(reduce_op, value, axis)

    return MultiWorkerMirroredStrategy()


def strategy_scope(strategy) -> contextlib.AbstractContextManager:
    """``strategy.scope()``, or a scope that does nothing for None."""
    return contextlib.nullcontext() if strategy is None else strategy.scope()


def is_chief() -> bool:
    """Whether this process writes the run's files: True unless ``TF_CONFIG`` names
    it as a worker other than the chief (the ``chief`` task, else worker 0).

    Examples
    --------
    >>> is_chief()     # no TF_CONFIG: a single process
    True
    """
    config = _tf_config()
    task = config.get("task", {})
    kind, index = task.get("type", "chief"), int(task.get("index", 0))
    if kind == "chief":
        return True
    return kind == "worker" and index == 0 and "chief" not in config.get("cluster", {})


def run_dir(out_dir: str | os.PathLike) -> Path:
    """Where this process writes a run: ``out_dir`` for the chief, else
    ``<out_dir>/worker-<index>`` (so that workers never write the same file).

    Examples
    --------
    >>> run_dir("runs/crnn").as_posix()
    'runs/crnn'
    """
    if is_chief():
        return Path(out_dir)
    return Path(out_dir) / f"worker-{int(_tf_config()['task']['index'])}"


@contextlib.contextmanager
def mixed_precision_scope(enabled: bool) -> Iterator[None]:
    """Keras' global dtype policy set to ``mixed_float16`` inside, restored after.

    Examples
    --------
    >>> import keras
    >>> with mixed_precision_scope(True):
    ...     keras.config.dtype_policy().name
    'mixed_float16'
    >>> keras.config.dtype_policy().name
    'float32'
    """
    if not enabled:
        yield
        return
    import keras

    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def keep_output_float32(model):
    """Compute ``model``'s last layer (the sigmoid outputs) in float32; returns ``model``.

    Under ``mixed_float16`` a sigmoid in float16 rounds scores near 0 and 1 (its
    step near 1 is 2**-11), which the cross-entropy then magnifies; Keras'
    guidance is to keep the output layer in float32. The layer's policy is saved
    with the model, so a resumed run keeps it.
    """
    model.layers[-1].dtype_policy = "float32"
    return model


def synchronize_batchnorm(model, strategy):
    """Make ``model``'s BatchNorm layers use the statistics of the global batch.

    Unsynchronised, each replica normalises by its own share of the batch and
    updates its own copy of the moving statistics (Keras creates them without an
    aggregation), so the copies drift apart and a saved model holds only the first
    replica's, which is not the model that was validated. Synchronised, all
    replicas see the same statistics: training matches one device with the whole
    batch (up to dropout masks and rounding). Does nothing without a strategy of
    several replicas; returns ``model``.
    """
    import keras

    if strategy is not None and strategy.num_replicas_in_sync > 1:
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.synchronized = True
    return model
