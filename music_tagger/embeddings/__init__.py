"""The pretrained networks as feature extractors, and linear probes on their features.

=====================  ==========================================================
module                 what lives there
=====================  ==========================================================
:mod:`.extract`        :func:`features` and the :class:`FeatureExtractor` transformer
:mod:`.inputs`         what they read: spectrograms, raw audio, stores, audio files
:mod:`.files`          feature files: ``.npy`` + CSV rows + JSON metadata
:mod:`.linear_probe`   :class:`LinearProbe`, :func:`probe` and :func:`load_probe`
:mod:`.few_shot`       :func:`teach` a new tag from a few files, on per-file cached features
=====================  ==========================================================
"""

from ..util.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "features": "extract", "FeatureExtractor": "extract",
    "probe": "linear_probe", "LinearProbe": "linear_probe", "load_probe": "linear_probe",
    "teach": "few_shot",
})  # fmt: skip
