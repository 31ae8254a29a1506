"""The TensorFlow-free runtime: the pretrained taggers on onnxruntime, what ``tag()`` runs by default.

=======================  ==============================================================
module                   what lives there
=======================  ==============================================================
:mod:`.sessions`         :class:`OnnxModel` and :func:`pretrained`: onnxruntime inference,
                         the graphs cached beside the weights (``tag(..., runtime="onnx")``)
:mod:`.onnx_graph`       ONNX graphs written node by node from the weights (no TensorFlow);
                         the onnx export writes them too (:mod:`music_tagger.deploy`)
:mod:`.frontend`         the 2016 log-mel front end as graph operations (audio input)
=======================  ==============================================================

Examples
--------
>>> from music_tagger.runtime import pretrained
>>> pretrained("crnn").output_shape                  # doctest: +SKIP
(None, 50)
"""

from ..util.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "OnnxModel": "sessions",
    "pretrained": "sessions",
    "pretrained_features": "sessions",
})  # fmt: skip
