"""Weights into the builders' networks, and saved models of the package.

:data:`MSD_FILES` gives a released structure's row of the one table of the pretrained
networks (:data:`music_tagger.vocabulary.MSD_NETWORKS`: its weight files by variant and
the reading of their BatchNorm statistics); :func:`check_weights` refuses
what cannot be loaded before a network is built, :func:`load_weights` loads it after
(both for :mod:`music_tagger.models.builders`); :func:`load_model` loads a saved
``.keras`` model with the custom functions of its layers registered.

Examples
--------
>>> from music_tagger.models.loading import load_model
>>> model = load_model("runs/crnn/model.keras", compile=False)   # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import ParameterError
from ..registry import get_file
from ..vocabulary import MSD_NETWORKS
from . import architectures

if TYPE_CHECKING:  # keras is imported where a network is loaded, not with this module
    import keras

__all__ = ["MSD_FILES", "N_MSD_TAGS", "check_weights", "is_released_configuration", "load_model", "load_weights"]


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


#: The pretrained networks by structure (rows of :data:`music_tagger.vocabulary.MSD_NETWORKS`).
MSD_FILES = {row.arch: row for row in MSD_NETWORKS.values()}
N_MSD_TAGS = 50


def is_released_configuration(arch: str, model: keras.Model, options: dict) -> bool:
    """Whether ``model`` has the configuration the original MSD weights fit."""
    from . import legacy

    widths = options.get("widths")
    original = architectures.ORIGINAL_WIDTHS[arch]
    return (
        options.get("n_params") is None
        and (widths is None or tuple(int(w) for w in widths) == original)
        and options.get("rnn", "gru") == "gru"
        and not options.get("bidirectional")
        and options.get("rnn_units") in (None, original[-1])
        and tuple(model.input_shape[1:]) == architectures.INPUT_SHAPE
        and model.get_layer("bn_0_freq").axis in ([legacy.TIME_AXIS], legacy.TIME_AXIS)
    )


def check_weights(arch: str, weights, include_top: bool, classes: int) -> None:
    """Fail before building on weights that cannot be loaded (keras.applications' rule)."""
    from . import legacy

    pretrained = arch in MSD_FILES
    if weights is None or (pretrained and weights == "msd"):
        if weights == "msd" and include_top and classes != N_MSD_TAGS:
            raise ParameterError(
                f"weights='msd' with include_top=True has {N_MSD_TAGS} classes, got "
                f"classes={classes}; use include_top=False and add your own output layer"
            )
        return
    is_file = isinstance(weights, (str, os.PathLike)) and os.path.isfile(weights)
    if pretrained and is_file:
        return
    if is_file and legacy.is_keras3_file(weights):
        return
    if pretrained:
        raise ParameterError(
            "weights must be None (random initialisation), 'msd' (pretrained on the "
            f"Million Song Dataset) or the path to a weight file; got {weights!r}"
        )
    raise ParameterError(
        f"{arch} has no pretrained weights: weights must be None (random "
        "initialisation) or the path to an existing Keras 3 .keras / .weights.h5 "
        f"file; got {weights!r}"
    )


def load_weights(arch: str, model: keras.Model, weights, variant: str, options: dict, semantics: str) -> None:
    """Load ``weights`` (None, "msd", a Keras 3 file or a Keras 1 file) into a built ``model``."""
    from . import legacy

    if weights is None:
        return
    if weights == "msd":
        if not is_released_configuration(arch, model, options):
            raise ParameterError(
                f"weights='msd' exist only for the released {arch} (its original widths, "
                "a (96, 1366, 1) input and the time-indexed input BatchNorm); pass "
                "weights=None to build this configuration randomly initialised"
            )
        keys = MSD_FILES[arch].weights
        if variant not in keys:
            raise ParameterError(f"variant must be 'theano' or 'tensorflow', got {variant!r}")
        legacy.load_legacy_weights(model, get_file("weights", keys[variant]), bn_semantics=semantics)
    elif legacy.is_keras3_file(weights):
        model.load_weights(str(weights))
    else:
        legacy.load_legacy_weights(model, weights, bn_semantics=semantics)
