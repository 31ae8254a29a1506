"""Load a saved model of the package: the custom functions of its layers registered.

Examples
--------
>>> from music_tagger.models.loading import load_model
>>> model = load_model("runs/crnn/model.keras", compile=False)   # doctest: +SKIP
"""
from __future__ import annotations

import os

__all__ = ["load_model"]


def load_model(path: str | os.PathLike, compile: bool = True):
    """``keras.saving.load_model``, with the custom functions of our models registered.

    ``compile=False`` for inference: no optimizer is restored (a mixed-precision
    model's, with its loss scaling, only loads under that policy).

    Examples
    --------
    >>> model = load_model("runs/crnn/model.keras")      # doctest: +SKIP
    """
    import keras

    from . import legacy  # noqa: F401  (Keras: registers keras1_hard_sigmoid)

    return keras.saving.load_model(path, compile=compile)
