"""LiteRT (TensorFlow Lite) files of the taggers, on builtin ops only.

LiteRT has no fused GRU, and a GRU kept as a loop becomes a ``WHILE`` over
TensorLists that needs Flex (select TensorFlow) ops, which the pip runtimes
cannot run. :func:`litert_bytes` therefore converts a copy of the model whose
recurrent layers are unrolled (``unroll=True``: the CRNN's 15 steps written out,
same weights, same outputs), with ``supported_ops = [TFLITE_BUILTINS]``: the
conversion fails rather than emit a Flex op. :func:`flex_ops` lists any such op in
a file (the tests assert there is none).

Examples
--------
>>> from music_tagger.deploy.litert import flex_ops
>>> flex_ops(open("crnn.tflite", "rb").read())       # doctest: +SKIP
[]
"""

from __future__ import annotations

import contextlib
import sys

from ..errors import ParameterError


def unrolled(model):
    """A copy of ``model`` with every recurrent layer unrolled (same weights)."""
    import keras

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.RNN):
            config["unroll"] = True
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def litert_bytes(model, input: str = "melgram") -> bytes:
    """The LiteRT flatbuffer of a Keras model, melgram or audio in, builtin ops only.

    Parameters
    ----------
    model : keras.Model
        A model on ``(96, 1366, 1)`` log-mels.
    input : {"melgram", "audio"}
        ``"audio"`` puts the front end of :mod:`music_tagger.runtime.frontend`
        before the network (its input ``(batch, 349440)``).

    Returns
    -------
    bytes

    Examples
    --------
    >>> data = litert_bytes(CRNN())            # doctest: +SKIP
    """
    import keras
    import tensorflow as tf

    if any(isinstance(layer, keras.layers.Bidirectional) for layer in model.layers):
        # the converter fails on its reversed sequence (TensorList ops), after a hundred lines
        raise ParameterError(
            f"{model.name}: a bidirectional CRNN cannot be converted to LiteRT with builtin ops "
            "only (an LSTM or GRU CRNN can); export it to saved_model"
        )
    net = unrolled(model)
    if input == "audio":
        from ..runtime.frontend import AUDIO_SAMPLES, keras_frontend

        if model.input_shape[1:] != (96, 1366, 1):
            raise ParameterError(
                f"input='audio' gives (96, 1366, 1) log-mels; this model takes {model.input_shape[1:]}"
            )
        audio = keras.Input(shape=(AUDIO_SAMPLES,), name="audio")
        net = keras.Model(audio, net(keras_frontend(audio)), name=f"{model.name}_audio")
    converter = tf.lite.TFLiteConverter.from_keras_model(net)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    with contextlib.redirect_stdout(sys.stderr):  # Keras lists the traced endpoints
        try:
            return converter.convert()
        except Exception as err:  # the converter's ConverterError: many lines of MLIR
            reason = (str(err).strip() or type(err).__name__).splitlines()[0][:200]
            raise ParameterError(
                f"{model.name} cannot be converted to LiteRT with builtin ops only ({reason})"
            ) from None


def flex_ops(data: bytes) -> list[str]:
    """The custom operator codes of a LiteRT file that are Flex (select TF) ops.

    Reads the flatbuffer's operator codes with the schema package that ships with
    TensorFlow's converter, so a Flex op anywhere in any subgraph is found.

    Examples
    --------
    >>> flex_ops(litert_bytes(CNN()))          # doctest: +SKIP
    []
    """
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))
    customs = [code.customCode for code in model.operatorCodes if code.customCode]
    names = [c.decode() if isinstance(c, bytes) else str(c) for c in customs]
    return [n for n in names if n.startswith("Flex")]
