"""The networks: the paper's four structures at its parameter budgets.

=====================  ==========================================================
module                 what lives there
=====================  ==========================================================
:mod:`.architectures`  the structures and budgets as data (Keras-free)
:mod:`.builders`       the ``keras.applications``-style builders (CRNN, CNN, ...)
:mod:`.graph`          the graphs, block by block, that the builders lay out
:mod:`.budgets`        parameter counts, widths for a budget, the table of all 20
:mod:`.compact`        the compact convnet of 2017: raw audio in, its mel layer
:mod:`.legacy`         every Keras 1 behaviour the original weights need
=====================  ==========================================================
"""

from ..util.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    name: "builders"
    for name in ("CRNN", "CNN", "CompactCNN", "K1C2", "K2C1", "K2C2", "build")
})  # fmt: skip
