"""Running the taggers with onnxruntime: no TensorFlow, no Keras.

:class:`OnnxModel` wraps an ``onnxruntime.InferenceSession`` in the one method the
tagging pipeline calls, ``predict_on_batch(x) -> scores`` (a Keras model has the
same), so :func:`music_tagger.tag` runs unchanged with ``runtime="onnx"``.
:func:`pretrained` gives the MSD taggers: their ONNX file is built from the
original weights on first use (:func:`music_tagger.runtime.onnx_graph.msd_graph`,
no TensorFlow) and kept in the cache folder of the weights,
``<KERAS_HOME or ~/.keras>/music_tagger/onnx/`` (:func:`music_tagger.registry.cache_folder`), named by the weights' sha256 and
the graph version, so a new version of either builds a new file, with the sha256 of
its bytes beside it (``.sha256``), checked on every load: a file changed since is
built again. Where the cache cannot be written (a read-only home, a full disk, a
file in the way), the graph runs from memory, with one warning.

Examples
--------
>>> from music_tagger.runtime.sessions import pretrained
>>> model = pretrained("crnn")                           # doctest: +SKIP
>>> model.predict_on_batch(x[None, ..., None]).shape    # doctest: +SKIP
(1, 50)
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache, partial
from pathlib import Path

import numpy as np

from ..errors import MusicTaggerError, ParameterError, WeightsError
from ..registry import cache_folder, registry
from ..util.checks import one_of, positive_int, pretrained_name
from ..util.files import atomic_path, clean_stale
from ..vocabulary import EXPORT_INPUTS, MSD_NETWORKS

#: Bump when the graphs change, so that cached files are rebuilt.
GRAPH_VERSION = 3


def check_onnxruntime() -> None:
    """ParameterError with the install line when onnxruntime is missing, or with the
    reason when it is installed but cannot be imported (a broken install)."""
    try:
        import onnxruntime  # noqa: F401
    except ModuleNotFoundError as err:
        if err.name != "onnxruntime":
            raise _broken(err) from None
        raise ParameterError("the onnx runtime needs onnxruntime: pip install 'music_tagger[onnx]'") from None
    except Exception as err:  # a broken install: a missing library, a bad build...
        raise _broken(err) from None


def _broken(err: BaseException) -> ParameterError:
    return ParameterError(f"onnxruntime is installed but cannot be imported ({type(err).__name__}: {_reason(err)})")


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

    def __init__(
        self, model: str | os.PathLike | bytes, *, threads: int | None = None, max_batch: int | None = None
    ) -> None:
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

    A cached file is used only if its bytes match the digest written beside it
    (``<file>.sha256``); one that was changed, cut short or left without its
    digest is built again.

    Parameters
    ----------
    name : {"crnn", "cnn"}
    input : {"melgram", "audio"}
        What the graph takes (see :func:`music_tagger.deploy.export`).

    Returns
    -------
    pathlib.Path
        ``<cache>/onnx/<name>-<sha256 of the weights>-<input>-g<GRAPH_VERSION>.onnx``.

    Raises
    ------
    OSError or ParameterError
        The cache folder cannot be written, or something else is in the way
        (:func:`pretrained` runs the graph from memory instead).

    Examples
    --------
    >>> cached_onnx("crnn").name                      # doctest: +SKIP
    'crnn-783d8198...-melgram-g2.onnx'
    """
    path = _cache_path(name, input)
    if _read_cached(path) is None:
        _write_cached(path, _graph_bytes(name, input))
    return path


def _cache_path(name: str, input: str) -> Path:
    """Where :func:`cached_onnx` keeps the graph of ``name`` and ``input`` (checked)."""
    key = pretrained_name(name)
    sha = registry()["weights"][MSD_NETWORKS[key].weights["theano"]]["sha256"]
    one_of(input, "input", EXPORT_INPUTS)
    return cache_folder() / "onnx" / f"{key}-{sha}-{input}-g{GRAPH_VERSION}.onnx"


def _digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _read_cached(path: Path) -> bytes | None:
    """The cached graph's bytes if they match their digest, else None (to build it again).

    Temporaries of writers killed mid-write are removed on the way.
    """
    for stale in (path, _digest_path(path)):
        clean_stale(stale)
    try:
        data = path.read_bytes()
        expected = _digest_path(path).read_text(encoding="ascii").strip()
    except (OSError, ValueError):  # missing, a folder in the way, unreadable, not ASCII
        return None
    return data if hashlib.sha256(data).hexdigest() == expected else None


def _graph_bytes(name: str, input: str) -> bytes:
    """The serialised ONNX model of the pretrained tagger ``name`` (checked name)."""
    from .onnx_graph import msd_graph

    try:
        import onnx  # noqa: F401  (the graph is written with it)
    except Exception as err:  # missing, or installed but broken
        raise ParameterError(
            f"the onnx runtime builds its graph with the onnx package, which cannot be imported "
            f"({_reason(err)}): pip install 'music_tagger[onnx]'"
        ) from None
    return msd_graph(name, input=input).SerializeToString()


def _write_cached(path: Path, data: bytes) -> None:
    """Write ``data`` and then its digest, each renamed into place when complete
    (:func:`music_tagger.util.files.atomic_path`): concurrent first uses never see a
    partial file, and a reader that finds the new graph beside the old digest
    builds it again."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    with atomic_path(_digest_path(path)) as tmp:
        tmp.write_text(hashlib.sha256(data).hexdigest() + "\n", encoding="ascii")


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
    data = _read_cached(path)
    if data is not None:
        try:
            return session(data)
        except WeightsError:
            pass  # its digest matches, but it does not load (another onnxruntime?): built again
    data = _graph_bytes(name, input)
    try:
        _write_cached(path, data)
    except (OSError, MusicTaggerError) as err:  # read-only, full, a file in the way...
        _warn_once(f"the onnx graph cannot be cached in {path.parent} ({_reason(err)}); it runs from memory")
    return session(data)


def _reason(err: BaseException) -> str:
    """One line of ``err``: an OSError's reason and the file it concerns."""
    if isinstance(err, OSError) and err.strerror:
        return f"{err.strerror}: {err.filename}" if err.filename else err.strerror
    return (str(err).strip() or type(err).__name__).splitlines()[0]


def _warn_once(message: str) -> None:
    """Warn in the main process only: the tagging workers build the same graph again."""
    import warnings

    from ..util.workers import in_worker

    if not in_worker():
        warnings.warn(message, RuntimeWarning, stacklevel=3)


@lru_cache(maxsize=2)
def pretrained_features(name: str = "crnn", threads: int | None = None) -> OnnxModel:
    """The multi-level features of the pretrained tagger ``name`` run by onnxruntime
    (:func:`music_tagger.embeddings.extract.feature_model` without TensorFlow: CRNN
    480 values a crop), built from the weights in memory once per process (0.05 s, so not cached on disk).

    Examples
    --------
    >>> pretrained_features("crnn").output_shape         # doctest: +SKIP
    (None, None)
    """
    from .onnx_graph import msd_graph

    check_onnxruntime()
    graph = msd_graph(name, multi_level=True)
    return OnnxModel(graph.SerializeToString(), threads=threads, max_batch=1)
