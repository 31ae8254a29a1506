"""Which network scores the crops: a pretrained tagger under a runtime, or a model as is.

The tagging pipeline asks one thing of a network, the scores of a batch of crops
(:class:`Predictor`): a Keras model has it, and so has
:class:`music_tagger.runtime.sessions.OnnxModel`. :func:`get_model` gives the
pretrained MusicTaggerCRNN or MusicTaggerCNN under one of :data:`music_tagger.vocabulary.RUNTIMES`:

``"tf"``
    The Keras model of :mod:`music_tagger.models.builders`, on TensorFlow.
``"onnx"``
    onnxruntime on an ONNX file written from the same weights
    (:mod:`music_tagger.deploy`): TensorFlow and Keras are never imported, and the
    scores equal the Keras ones to 2e-5.

Examples
--------
>>> from music_tagger.tagging.networks import get_model
>>> get_model("crnn", runtime="onnx").predict_on_batch(x).shape   # doctest: +SKIP
(8, 50)
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from ..errors import ParameterError
from ..util.checks import one_of, pretrained_name
from ..vocabulary import INPUTS, RUNTIMES, default_runtime


class Predictor(Protocol):
    """What the tagging pipeline needs of a network: scores of a batch of crops.

    A Keras model is one, and so is :class:`music_tagger.runtime.sessions.OnnxModel`.
    """

    output_shape: tuple

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        """``(n, 96, 1366, 1)`` float32 log-mels -> ``(n, outputs)`` scores."""


def resolve_runtime(runtime: str | None, model: Any = None) -> str:
    """The checked runtime of ``model``: ``runtime``, or when None the package's one
    default for a pretrained tagger (:func:`music_tagger.vocabulary.default_runtime`:
    ``"onnx"`` when ``music_tagger[onnx]`` is installed, else ``"tf"``), and ``"tf"``
    for a model object, which runs as it is.

    Examples
    --------
    >>> resolve_runtime("onnx"), resolve_runtime(None, object())
    ('onnx', 'tf')
    """
    if runtime is not None:
        return one_of(runtime, "runtime", RUNTIMES)
    return default_runtime() if _pretrained_name(model) else "tf"


def _pretrained_name(model: Any) -> bool:
    """Whether ``model`` stands for a pretrained tagger (None: the CRNN) rather than a model object."""
    return model is None or isinstance(model, str)


@lru_cache(maxsize=4)
def _pretrained(name: str, runtime: str, input: str) -> Predictor:
    if runtime == "onnx":
        from ..runtime.sessions import pretrained  # onnxruntime: no TensorFlow

        return pretrained(name, input=input)
    if input != "melgram":
        raise ParameterError("the tf runtime takes log-mels; input='audio' needs runtime='onnx'")
    from ..models import builders as models  # Keras: imported when a model is first needed

    return models.CRNN(weights="msd") if name == "crnn" else models.CNN(weights="msd")


def get_model(model: Any = None, runtime: str | None = None, input: str = "melgram") -> Predictor:
    """The network for ``model``: None or "crnn", "cnn", or a model as is.

    The pretrained models are built once per process and cached; ``runtime``
    (:data:`music_tagger.vocabulary.RUNTIMES`, default :func:`resolve_runtime`) says
    which runs them, and
    ``input="audio"`` (onnx only) gives the network with the front end inside,
    on each crop's samples. A model object (a Keras model or any
    :class:`Predictor`) runs as it is.

    Raises
    ------
    ValueError
        An unknown name or runtime, or an object that is not a model.
    """
    if model is None:
        model = "crnn"
    runtime = resolve_runtime(runtime, model)
    one_of(input, "input", INPUTS)
    if isinstance(model, str):
        return _pretrained(pretrained_name(model, or_model=True), runtime, input)
    if not (hasattr(model, "predict_on_batch") and hasattr(model, "output_shape")):
        pretrained_name(model, or_model=True)
    shape = getattr(model, "input_shape", None)
    if isinstance(shape, tuple) and input == "melgram" and (len(shape) != 4 or shape[1] != 96):
        raise ParameterError(
            f"the model takes {shape[1:]}, and tagging feeds (96, frames, 1) log-mels: give an "
            "export with --input melgram (or 'crnn'/'cnn' with runtime='onnx', audio in)"
        )
    return model


def network_input(model: Any, runtime: str) -> str:
    """What the pipeline feeds ``model`` under ``runtime``: ``"melgram"`` or ``"audio"``.

    The onnx runtime's pretrained networks compute the log-mel in their graph, so
    the reading workers only decode and resample (and never import librosa); the
    scores equal the log-mel path's to about 1e-6.

    Examples
    --------
    >>> network_input("crnn", "onnx"), network_input(None, "tf")
    ('audio', 'melgram')
    """
    return "audio" if runtime == "onnx" and _pretrained_name(model) else "melgram"


def check_runtime(model: Any, runtime: str | None) -> str:
    """The runtime of a run (:func:`resolve_runtime`); ``"onnx"`` asked
    for a model object is an error.

    The default ``"onnx"`` is tried (its model built, once per process): where
    onnxruntime or onnx is installed but broken, the run falls back to ``"tf"`` with
    one warning that names the problem; ``runtime="onnx"`` asked for raises it.

    Examples
    --------
    >>> check_runtime("crnn", "tf")
    'tf'
    """
    if runtime == "onnx" and not _pretrained_name(model) and hasattr(model, "get_layer"):
        raise ParameterError(
            "runtime='onnx' runs the pretrained 'crnn' and 'cnn'; for a Keras model, export "
            "it (music_tagger.deploy.export) and pass an OnnxModel of the file"
        )
    if isinstance(model, str):
        pretrained_name(model, or_model=True)
    chosen = resolve_runtime(runtime, model)
    if chosen != "onnx":
        return chosen
    try:  # before any worker starts
        if runtime is not None:
            from ..runtime.sessions import check_onnxruntime

            check_onnxruntime()
        else:  # the default: a broken onnx install falls back to TensorFlow, with one line
            get_model(model, "onnx", network_input(model, "onnx"))
    except ParameterError as err:
        if runtime is not None:
            raise
        import warnings

        warnings.warn(f"{err}; running on tf instead", RuntimeWarning, stacklevel=3)
        return "tf"
    return "onnx"
