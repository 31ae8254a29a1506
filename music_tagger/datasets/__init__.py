"""Data sets: annotation readers, generated data sets, spectrogram stores.

==================  ==============================================================
module              what lives there
==================  ==============================================================
:mod:`.dataset`     :class:`Dataset` and the CSV reader
:mod:`.mtt`         MagnaTagATune's annotations
:mod:`.msd`         the Million Song Dataset's tags
:mod:`.synth`       a tiny generated MagnaTagATune-like data set
:mod:`.cache`       :func:`prepare`: audio to one HDF5 spectrogram store per split
:mod:`.store`       reading stores into ``tf.data`` and converting old layouts
==================  ==============================================================
"""

from ..util.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "Dataset": "dataset", "read_mtt": "mtt", "read_msd": "msd", "read_csv": "dataset",
    "make_mtt_like": "synth", "prepare": "cache", "load_store": "cache",
})  # fmt: skip
