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

from .util.lazy import attach

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS = {
    "CRNN": "models.builders",
    "CNN": "models.builders",
    "CompactCNN": "models.builders",
    "K1C2": "models.builders",
    "K2C1": "models.builders",
    "K2C2": "models.builders",
    "build": "models.builders",
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
    "decode_predictions": "tagging.results",
    "tag": "tagging.tagger",
    "export": "deploy.exports",
    "evaluate": "training.evaluation",
    "Dataset": "datasets.dataset",
    "read_mtt": "datasets.mtt",
    "read_msd": "datasets.msd",
    "read_csv": "datasets.dataset",
    "make_mtt_like": "datasets.synth",
    "prepare": "datasets.cache",
    "train": "training.loop",
    "finetune": "training.transfer",
    "features": "embeddings.extract",
    "FeatureExtractor": "embeddings.extract",
    "LinearProbe": "embeddings.linear_probe",
    "probe": "embeddings.linear_probe",
    "load_probe": "embeddings.linear_probe",
    "teach": "embeddings.few_shot",
    "evaluate_model": "training.evaluation",
    "run_experiment": "training.experiment",
    "draw_figures": "training.figures",
}

__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
