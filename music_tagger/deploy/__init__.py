"""Exports and the TensorFlow-free runtime: the taggers outside Keras.

=======================  ==============================================================
module                   what lives there
=======================  ==============================================================
:mod:`.onnx_graph`       ONNX graphs written node by node from the weights (no TensorFlow)
:mod:`.frontend`         the 2016 log-mel front end as graph operations (audio input)
:mod:`.exports`          :func:`export`: ONNX, SavedModel and LiteRT files
:mod:`.litert`           the LiteRT conversion on builtin ops (GRUs unrolled)
:mod:`.runtime`          onnxruntime inference: ``tag(..., runtime="onnx")``
=======================  ==============================================================

Examples
--------
>>> from music_tagger.deploy import export
>>> export("crnn.onnx", model="crnn", input="audio")   # doctest: +SKIP
PosixPath('crnn.onnx')
"""

from ..util.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "export": "exports",
    "OnnxModel": "runtime",
    "pretrained": "runtime",
})  # fmt: skip
