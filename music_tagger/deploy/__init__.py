"""Exports: the taggers outside this package, as ONNX, SavedModel and LiteRT files.

=======================  ==============================================================
module                   what lives there
=======================  ==============================================================
:mod:`.exports`          :func:`export`: ONNX, SavedModel and LiteRT files
:mod:`.litert`           the LiteRT conversion on builtin ops (GRUs unrolled)
=======================  ==============================================================

The ONNX graphs and their front end, and the onnxruntime inference that ``tag()``
runs by default, are :mod:`music_tagger.runtime`'s (``OnnxModel`` and ``pretrained``
are still importable from here).

Examples
--------
>>> from music_tagger.deploy import export
>>> export("crnn.onnx", model="crnn", input="audio")   # doctest: +SKIP
PosixPath('crnn.onnx')
"""

from ..util.lazy import attach

# submodules relative to this package: ".runtime.sessions" is music_tagger.runtime.sessions
__getattr__, __dir__, __all__ = attach(__name__, {
    "export": "exports",
    "OnnxModel": ".runtime.sessions",
    "pretrained": ".runtime.sessions",
})  # fmt: skip
