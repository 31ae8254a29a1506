"""music_tagger: the CRNN music auto-tagger of Choi et al. (2016) for Keras 3.

Public names are imported lazily, so that ``import music_tagger`` stays cheap and
TensorFlow is only loaded when a model is built (``music_tagger.TAGS`` needs no
Keras). Where each thing lives: the table in README.md.

Examples
--------
>>> from music_tagger import CRNN, compute_melgram, decode_predictions
>>> model = CRNN(weights="msd")                        # doctest: +SKIP
>>> x = compute_melgram(music_tagger.example("bensound-cute"))  # doctest: +SKIP
>>> decode_predictions(model.predict(x[None, ..., None]), top_n=3)  # doctest: +SKIP
[[('jazz', 0.444), ('instrumental', 0.151), ('folk', 0.103)]]
"""
from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS = {
    "CRNN": "models",
    "CNN": "models",
    "K1C2": "models",
    "K2C1": "models",
    "K2C2": "models",
    "build": "models",
    "compute_melgram": "audio",
    "compute_melgram_from_array": "audio",
    "load_audio": "audio",
    "TAGS": "registry",
    "example": "registry",
    "MusicTaggerError": "errors",
    "ParameterError": "errors",
    "AudioError": "errors",
    "WeightsError": "errors",
    "DataError": "errors",
    "decode_predictions": "tagging",
    "tag": "tagging",
    "evaluate": "evaluation",
    "Dataset": "data",
    "read_mtt": "data",
    "read_msd": "data",
    "read_csv": "data",
    "make_mtt_like": "synth",
    "prepare": "cache",
    "train": "training",
    "finetune": "training",
    "evaluate_model": "evaluation",
    "run_experiment": "experiment",
    "draw_figures": "figures",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
