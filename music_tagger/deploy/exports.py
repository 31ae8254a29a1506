"""Exporting the taggers: ONNX, TensorFlow SavedModel and LiteRT files.

:func:`export` writes one model in one format, taking log-mels or audio:

==========  ==================================================================
format      how it is made
==========  ==================================================================
onnx        :mod:`music_tagger.runtime.onnx_graph`: nodes written from the weights
            (one fused GRU node per Keras 1 GRU); for the pretrained taggers no
            TensorFlow is loaded
saved_model ``keras.export.ExportArchive`` with two endpoints, ``serve_melgram``
            and ``serve_audio``; the one of ``input`` is also ``serving_default``
litert      the TensorFlow Lite converter on builtin ops only (the GRUs
            unrolled over their 15 steps), no Flex op
==========  ==================================================================

Inputs (what the caller feeds):

- ``"melgram"``: ``(batch, 96, 1366, 1)`` float32, the 2016 log-mel of a 29.12 s
  crop (:func:`music_tagger.audio.compute_melgram`);
- ``"audio"``: ``(batch, 349440)`` float32, 29.12 s of mono audio at 12 kHz
  (decoded, resampled and cropped by the caller, e.g. with
  :func:`music_tagger.audio.load_audio` and :func:`music_tagger.audio.center_crop`);
  the front end is in the graph (:mod:`music_tagger.runtime.frontend`).

The output is ``(batch, 50)`` sigmoid scores in the order of
:data:`music_tagger.TAGS` (or the model's own outputs).

Examples
--------
>>> from music_tagger import export
>>> export("crnn.onnx")                                    # doctest: +SKIP
PosixPath('crnn.onnx')
>>> export("crnn_audio", format="saved_model", input="audio")   # doctest: +SKIP
PosixPath('crnn_audio')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import ParameterError, WeightsError
from ..util.checks import one_of, pretrained_name, readable_file
from ..util.files import atomic_path, check_output
from ..vocabulary import EXPORT_FORMATS, EXPORT_INPUTS, PRETRAINED

FORMATS, INPUTS, MODELS = EXPORT_FORMATS, EXPORT_INPUTS, PRETRAINED
#: Endpoint names of an exported SavedModel, by input.
ENDPOINTS = {"melgram": "serve_melgram", "audio": "serve_audio"}


def _check(model: Any, format: str, input: str) -> None:
    one_of(format, "format", FORMATS)
    one_of(input, "input", INPUTS)
    if isinstance(model, str) or not hasattr(model, "get_layer"):
        pretrained_name(model, or_model=True)
    shape = None if isinstance(model, str) else tuple(model.input_shape)
    if shape is not None and (len(shape) != 4 or shape[1] != 96):
        raise ParameterError(
            f"export writes the paper's structures, on (96, frames, 1) log-mels; this model takes "
            f"{shape[1:]} (the compact convnet, on audio, cannot be exported yet)"
        )


def _is_keras_file(model: Any) -> bool:
    """Whether ``model`` names a saved model's file rather than a pretrained tagger."""
    if isinstance(model, os.PathLike):
        return True
    return (
        isinstance(model, str) and model.lower() not in MODELS and (model.endswith(".keras") or os.path.isfile(model))
    )


def check_out(out: str | os.PathLike, format: str, *, overwrite: bool = False) -> Path:
    """Check ``out`` before any work: a file (a folder for saved_model) that may be written.

    Only a regular file (folder) is replaced, and only with ``overwrite``
    (:func:`music_tagger.util.files.check_output`).

    Examples
    --------
    >>> check_out("surely/not/here.onnx", "onnx")
    PosixPath('surely/not/here.onnx')
    """
    one_of(format, "format", FORMATS)
    return check_output(out, "export", kind="folder" if format == "saved_model" else "file", overwrite=overwrite)


def keras_model(model: Any):
    """The Keras model to export: a pretrained one by name, or ``model`` as it is."""
    if isinstance(model, str):
        from ..models import builders

        return builders.CRNN(weights="msd") if pretrained_name(model) == "crnn" else builders.CNN(weights="msd")
    return model


def keras_arrays(model) -> tuple[dict, float]:
    """``({layer: arrays}, epsilon)`` of a Keras model built by this package."""
    from keras import layers

    if any(isinstance(layer, (layers.LSTM, layers.Bidirectional)) for layer in model.layers):
        raise ParameterError("export writes the GRU CRNN; an LSTM or bidirectional CRNN cannot be exported")
    epsilons = {layer.epsilon for layer in model.layers if isinstance(layer, layers.BatchNormalization)}
    if len(epsilons) != 1:
        raise ParameterError(f"expected one BatchNorm epsilon in the model, found {sorted(epsilons)}")
    arrays = {layer.name: layer.get_weights() for layer in model.layers if layer.weights}
    return arrays, epsilons.pop()


def onnx_model(model: Any = "crnn", input: str = "melgram"):
    """The ``onnx.ModelProto`` of ``model`` (a name: without TensorFlow).

    Examples
    --------
    >>> onnx_model("cnn").graph.input[0].name             # doctest: +SKIP
    'melgram'
    """
    from ..runtime.onnx_graph import infer_arch, msd_graph, network_graph

    if isinstance(model, str):
        return msd_graph(model, input=input)
    arrays, epsilon = keras_arrays(model)
    top = "output" in arrays
    activation = model.get_layer("output").activation.__name__ if top else None
    frames = model.input_shape[2]
    if input == "audio" and frames != 1366:
        raise ParameterError(f"input='audio' gives 1366 frames; this model takes {frames}")
    return network_graph(
        infer_arch(arrays), arrays, epsilon, input=input, time_frames=frames, include_top=top,
        classifier_activation=None if activation == "linear" else activation, name=model.name,
    )  # fmt: skip


def saved_model_archive(model, input: str = "melgram"):
    """A ``keras.export.ExportArchive`` of ``model`` with both endpoints.

    ``serve_melgram(melgram)`` and ``serve_audio(audio)`` each return
    ``{"scores": ...}``; the endpoint of ``input`` is registered first, so it is
    also the ``serving_default`` signature.
    """
    import keras

    from ..runtime.frontend import AUDIO_SAMPLES, keras_frontend

    frames = model.input_shape[2]

    def serve_melgram(melgram):
        return {"scores": model(melgram, training=False)}

    def serve_audio(audio):
        return {"scores": model(keras_frontend(audio), training=False)}

    specs = {
        "melgram": (serve_melgram, keras.InputSpec(shape=(None, *model.input_shape[1:]), dtype="float32")),
        "audio": (serve_audio, keras.InputSpec(shape=(None, AUDIO_SAMPLES), dtype="float32")),
    }
    if frames != 1366:
        del specs["audio"]
    archive = keras.export.ExportArchive()
    archive.track(model)
    for kind in sorted(specs, key=lambda k: k != input):
        fn, spec = specs[kind]
        archive.add_endpoint(ENDPOINTS[kind], fn, input_signature=[spec])
    return archive


def export(
    out: str | os.PathLike,
    model: Any = "crnn",
    format: str = "onnx",
    input: str = "melgram",
    *,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` as an ONNX file, a SavedModel folder or a LiteRT file.

    Parameters
    ----------
    out : path-like
        The file (onnx, litert) or folder (saved_model) to write.
    model : {"crnn", "cnn"}, keras.Model or path-like
        A pretrained tagger, or a model of one of the package's structures (a
        ``train``/``finetune`` result: GRU CRNN, k2c2, k1c2, k2c1), given as a
        ``keras.Model`` or as its ``.keras`` file (read by :func:`load_keras_file`
        once ``out`` is checked).
    format : {"onnx", "saved_model", "litert"}
    input : {"melgram", "audio"}
        See the module docstring for what each input must be.
    overwrite : bool
        Replace an existing ``out``.

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    ParameterError
        An unknown model, format or input, or a model that cannot be exported.
    OutputExistsError
        ``out`` exists and ``overwrite`` is False (checked before the model is built,
        and again when it is written: of two exports to one ``out``, one writes).
    ParameterError
        ``out`` cannot be written, or is not a regular file (a folder for
        saved_model): a link, a FIFO or a device is never replaced.
    MissingFileError, WeightsError
        A ``.keras`` file that is missing or cannot be loaded.

    Examples
    --------
    >>> export("cnn_audio.onnx", model="cnn", input="audio")     # doctest: +SKIP
    PosixPath('cnn_audio.onnx')
    """
    if _is_keras_file(model):
        check_out(out, format, overwrite=overwrite)  # before the model is loaded
        model = load_keras_file(model)
    _check(model, format, input)
    out = check_out(out, format, overwrite=overwrite)
    if format == "onnx":
        proto = onnx_model(model if isinstance(model, str) else keras_model(model), input)
        with atomic_path(out, overwrite=overwrite) as tmp:
            tmp.write_bytes(proto.SerializeToString())
        return out
    keras_net = keras_model(model)
    if format == "saved_model":
        archive = saved_model_archive(keras_net, input)
        with atomic_path(out, overwrite=overwrite) as tmp:  # the old folder goes once the new one is whole
            archive.write_out(str(tmp), verbose=False)
        return out
    from .litert import litert_bytes

    data = litert_bytes(keras_net, input)
    with atomic_path(out, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return out


def load_keras_file(path: str | os.PathLike):
    """A model saved by ``train``/``finetune`` (a ``.keras`` file), to export.

    Examples
    --------
    >>> export("mine.onnx", model=load_keras_file("runs/crnn/model.keras"))   # doctest: +SKIP
    PosixPath('mine.onnx')
    """
    import zipfile

    from ..models.loading import load_model

    path = readable_file(path, "model file")
    if not zipfile.is_zipfile(path):
        raise WeightsError(f"{path}: not a Keras archive (a .keras file saved by train or finetune)")
    try:
        return load_model(path, compile=False)
    except (ValueError, TypeError, KeyError, OSError) as err:  # Keras' own, for a damaged archive
        reason = (str(err).strip() or type(err).__name__).splitlines()[0]
        raise WeightsError(f"{path}: the Keras archive cannot be loaded ({reason})") from None
