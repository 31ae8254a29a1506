"""Running the taggers with onnxruntime: no TensorFlow, no Keras.

:class:`OnnxModel` wraps an ``onnxruntime.InferenceSession`` in the one method the
tagging pipeline calls, ``predict_on_batch(x) -> scores`` (a Keras model has the
same), so :func:`music_tagger.tag` runs unchanged with ``runtime="onnx"``.
:func:`pretrained` gives the MSD taggers: their ONNX file is built from the
original weights on first use (:func:`music_tagger.deploy.onnx_graph.msd_graph`,
no TensorFlow) and kept in the cache folder of the weights,
``<KERAS_HOME or ~/.keras>/music_tagger/onnx/`` (:func:`music_tagger.registry.cache_folder`), named by the weights' sha256 and
the graph version, so a new version of either builds a new file.

Examples
--------
>>> from music_tagger.deploy.runtime import pretrained
>>> model = pretrained("crnn")                           # doctest: +SKIP
>>> model.predict_on_batch(x[None, ..., None]).shape    # doctest: +SKIP
(1, 50)
"""
from __future__ import annotations

import os
from functools import lru_cache, partial
from pathlib import Path

import numpy as np

from ..errors import ParameterError, WeightsError
from ..registry import cache_folder, get_file, registry
from ..util.checks import one_of, positive_int
from ..vocabulary import EXPORT_INPUTS

#: Bump when the graphs change, so that cached files are rebuilt.
GRAPH_VERSION = 2
#: The pretrained taggers by name, and the registry key of their weights.
MSD_WEIGHTS = {"crnn": "crnn_msd_theano", "cnn": "cnn_msd_theano"}


def check_onnxruntime() -> None:
    """ParameterError with the install line when onnxruntime is missing."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ParameterError(
            "the onnx runtime needs onnxruntime: pip install 'music_tagger[onnx]'"
        ) from None


class OnnxModel:
    """A network in an ONNX file, run by onnxruntime on the CPU.

    Parameters
    ----------
    model : path-like or bytes
        An ``.onnx`` file or its bytes, with one float32 input and one output.
    threads : int, optional
        Threads of onnxruntime's intra-op pool (default: its own choice, the
        physical cores).
    max_batch : int, optional
        At most this many rows per session run (a larger batch runs in parts).
        Default: the whole batch.

    Attributes
    ----------
    input_name, output_name : str
    input_shape, output_shape : tuple
        As Keras writes them, None for a free dimension.

    Examples
    --------
    >>> m = OnnxModel("crnn.onnx")                      # doctest: +SKIP
    >>> m.input_shape, m.output_shape                   # doctest: +SKIP
    ((None, 96, 1366, 1), (None, 50))
    """

    def __init__(self, model: str | os.PathLike | bytes, *, threads: int | None = None,
                 max_batch: int | None = None) -> None:
        check_onnxruntime()
        self.max_batch = None if max_batch is None else positive_int(max_batch, "max_batch")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # threads that wait without spinning: as fast per crop (86.7 vs 105.2 ms at
        # batch 1 on a shared machine) and 0.2 CPU s less for a cold one-file run
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        source = model if isinstance(model, bytes) else os.fspath(model)
        try:
            self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime's own classes: InvalidProtobuf, NoSuchFile, ...
            if not type(err).__module__.startswith("onnxruntime"):
                raise
            what = "the model bytes" if isinstance(model, bytes) else source
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise WeightsError(f"{what}: onnxruntime cannot load it ({reason})") from None
        (inp,), (out,) = self.session.get_inputs(), self.session.get_outputs()
        self.input_name, self.output_name = inp.name, out.name
        self.input_shape = tuple(d if isinstance(d, int) else None for d in inp.shape)
        self.output_shape = tuple(d if isinstance(d, int) else None for d in out.shape)

    def predict_on_batch(self, x) -> np.ndarray:
        """The scores of one batch: ``x`` of the input's shape, float32."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        step = self.max_batch or max(1, len(x))
        parts = [self.session.run([self.output_name], {self.input_name: x[i : i + step]})[0]
                 for i in range(0, max(1, len(x)), step)]  # fmt: skip
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    predict = predict_on_batch

    def __call__(self, x) -> np.ndarray:
        return self.predict_on_batch(x)


def cached_onnx(name: str, input: str = "melgram") -> Path:
    """The ONNX file of a pretrained tagger, built from its weights if not cached.

    Parameters
    ----------
    name : {"crnn", "cnn"}
    input : {"melgram", "audio"}
        What the graph takes (see :func:`music_tagger.deploy.export`).

    Returns
    -------
    pathlib.Path
        ``<cache>/onnx/<name>-<sha256 of the weights>-<input>-g<GRAPH_VERSION>.onnx``.

    Examples
    --------
    >>> cached_onnx("crnn").name                      # doctest: +SKIP
    'crnn-783d8198...-melgram-g2.onnx'
    """
    path = _cache_path(name, input)
    if not path.is_file():
        _write_cached(path, _graph_bytes(name, input))
    return path


def _cache_path(name: str, input: str) -> Path:
    """Where :func:`cached_onnx` keeps the graph of ``name`` and ``input`` (checked)."""
    key = MSD_WEIGHTS.get(str(name).lower())
    if key is None:
        raise ParameterError(f"model must be 'crnn' or 'cnn', got {name!r}")
    sha = registry()["weights"][key]["sha256"]
    one_of(input, "input", EXPORT_INPUTS)
    return cache_folder() / "onnx" / f"{name.lower()}-{sha}-{input}-g{GRAPH_VERSION}.onnx"


def _graph_bytes(name: str, input: str) -> bytes:
    """The serialised ONNX model of the pretrained tagger ``name`` (checked name)."""
    from .onnx_graph import msd_graph

    key = MSD_WEIGHTS[name.lower()]
    return msd_graph(name.lower(), get_file("weights", key), input=input).SerializeToString()


def _write_cached(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` under a name of its own, renamed when complete:
    concurrent first uses never see a partial file (nor clash on one temporary name,
    as :func:`music_tagger.util.files.atomic_path` would), and a damaged file is
    replaced whole."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"tmp-{path.stem}-", suffix=".onnx")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@lru_cache(maxsize=4)
def pretrained(name: str = "crnn", threads: int | None = None, input: str = "melgram") -> OnnxModel:
    """The pretrained tagger ``name`` run by onnxruntime, once per process.

    ``input="audio"`` gives the graph with the front end inside: it takes each
    crop's ``(349440,)`` samples at 12 kHz.

    Examples
    --------
    >>> pretrained("crnn").output_shape                  # doctest: +SKIP
    (None, 50)
    """
    check_onnxruntime()
    # one crop per session run: as fast per crop as batches of 8 (docs/deploy.md), and
    # an eighth of the memory (the CRNN's first conv maps are 35 MB a crop), which
    # also saves a cold run the kernel's time to map it (0.5 -> 0.1 CPU s for 8 crops)
    session = partial(OnnxModel, threads=threads, max_batch=1)
    path = _cache_path(name, input)
    if path.is_file():
        try:
            return session(path)
        except WeightsError:
            pass  # written whole (renamed into place), so damaged since: built again below
    data = _graph_bytes(name, input)
    try:
        _write_cached(path, data)
    except PermissionError:
        pass  # a cache folder this user cannot write: the graph runs from memory
    return session(data)
