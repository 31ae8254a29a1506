"""Tagging audio files: the tagger, its worker pipeline, records, taggrams, thresholds.

==================  ==============================================================
module              what lives there
==================  ==============================================================
:mod:`.tagger`      :func:`tag` and :func:`iter_tag`: files in, results out
:mod:`.results`     :func:`decode_predictions` and :class:`TagResult`
:mod:`.pipeline`    reading workers and batched inference
:mod:`.records`     the jsonl / json / csv output file: locked, resumed in place
:mod:`.readback`    reading records back, a killed run's file included
:mod:`.taggram`     tags over time and their plot
:mod:`.thresholds`  per-tag decision thresholds on disk
:mod:`.calibration` thresholds fitted on a validation store
:mod:`.ray_engine`  the same tagging on a Ray cluster
==================  ==============================================================
"""

from ..util.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "tag": "tagger", "iter_tag": "tagger", "decode_predictions": "results", "TagResult": "results",
    "Taggram": "taggram", "plot_taggram": "taggram",
    "calibrate": "calibration", "load_thresholds": "thresholds",
})  # fmt: skip
