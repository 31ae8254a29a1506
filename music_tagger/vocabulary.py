"""The package's vocabulary: every named choice a user can make, spelled once.

The library validates these values and the command line offers them as
``choices``; both import them from here, so a new name is added in one place.
Keras-free (it is read by ``--help``).

Examples
--------
>>> from music_tagger.vocabulary import BN_READINGS, PRETRAINED
>>> BN_READINGS
('variance', 'std_keras106')
>>> PRETRAINED
('crnn', 'cnn')
>>> MSD_NETWORKS["cnn"].arch, MSD_NETWORKS["cnn"].weights["theano"]
('k2c2', 'cnn_msd_theano')
"""

from typing import NamedTuple

#: How a Keras 1 file's BatchNorm "running_std" is read
#: (:func:`music_tagger.models.legacy.convert_bn_statistics`): as a variance, the
#: reading under which the CRNN's scores were published ...
BN_PUBLISHED = "variance"
#: ... or as Keras 1.0.6's standard deviation, the reading the CNN was released
#: with and the CRNN was trained with.
BN_AS_TRAINED = "std_keras106"
BN_READINGS = (BN_PUBLISHED, BN_AS_TRAINED)


class Pretrained(NamedTuple):
    """What a pretrained network's name stands for (a row of :data:`MSD_NETWORKS`)."""

    #: Its structure in :mod:`music_tagger.models.architectures`.
    arch: str
    #: The registry keys of its MSD weight files (:func:`music_tagger.registry.get_file`),
    #: by variant ("theano", "tensorflow").
    weights: dict[str, str]
    #: How the files' BatchNorm statistics must be read (:data:`BN_READINGS`).
    bn_reading: str


#: The one table from a pretrained network's name (what the tagger, the runtimes and the
#: exports take) to its structure, its weights and their BatchNorm reading; checked by
#: :func:`music_tagger.util.checks.pretrained_name`.
MSD_NETWORKS = {
    "crnn": Pretrained("crnn", {"theano": "crnn_msd_theano", "tensorflow": "crnn_msd_tensorflow"}, BN_PUBLISHED),
    "cnn": Pretrained("k2c2", {"theano": "cnn_msd_theano", "tensorflow": "cnn_msd_tensorflow"}, BN_AS_TRAINED),
}
#: The pretrained networks, by the name the tagger and the feature extractor take.
PRETRAINED = tuple(MSD_NETWORKS)
#: The feature extractor's networks: the pretrained taggers, and the compact convnet of
#: Choi et al. (2017), whose released files hold no tag layer (features only).
FEATURE_NETWORKS = PRETRAINED + ("compact",)

#: Which features of a pretrained network: every conv block pooled and the last
#: layer ("multi"), or the last layer alone ("top"); also the fine-tune's heads.
LEVELS = ("multi", "top")
HEADS = LEVELS
#: ... or one conv block's pooled maps, "pool1" up to the network's last block.
FEATURE_LEVELS = LEVELS + tuple(f"pool{i}" for i in range(1, 6))
#: Fine-tuning recipes of :func:`music_tagger.finetune`.
RECIPES = ("two-stage", "unfreeze")
#: How the two-stage recipe fits its new head.
HEAD_FITS = ("logistic", "adam")
#: Layers the two-stage recipe's stage 2 may start from (that layer and above train).
STAGE2_FROM = ("conv4", "gru1", "gru2")

#: Output formats of ``music-tagger tag`` (and of its records).
OUTPUT_FORMATS = ("table", "jsonl", "json", "csv")
#: Where tagging runs: worker processes on this machine, or a Ray cluster.
ENGINES = ("local", "ray")

#: What runs a pretrained network: Keras on TensorFlow, or onnxruntime (no TensorFlow);
#: :func:`default_runtime` when none is named.
RUNTIMES = ("tf", "onnx")
#: The runtime of teaching's features when none is named (``teach``, ``cached_features``,
#: ``music-tagger teach``): the Keras network, whose rows the feature cache has kept since
#: teaching began; the onnx rows (what ``music-tagger serve`` asks for) are cached apart.
FEATURE_RUNTIME = "tf"
#: What the onnx runtime needs installed (``music_tagger[onnx]``): onnxruntime runs the
#: graphs, onnx writes them.
ONNX_MODULES = ("onnxruntime", "onnx")
#: File formats of ``music-tagger export``.
EXPORT_FORMATS = ("onnx", "saved_model", "litert")
#: What a network takes (an export, the onnx runtime's graphs, the reading workers'
#: crops): log-mels, or each crop's 12 kHz mono samples.
INPUTS = ("melgram", "audio")
#: ... the inputs of ``music-tagger export``: both.
EXPORT_INPUTS = INPUTS


def default_runtime() -> str:
    """The runtime of a pretrained network when none is named: ``"onnx"`` when
    onnxruntime and onnx are installed (:data:`ONNX_MODULES`), else ``"tf"``.

    The one default of every tagger's ``runtime`` parameter (``tag``, ``get_model``, the
    command line; teaching's features have :data:`FEATURE_RUNTIME`): the onnx scores equal the Keras ones to 2e-5, and it is faster,
    cold and per crop (``docs/deploy.md``).

    Examples
    --------
    >>> default_runtime() in RUNTIMES
    True
    """
    from importlib.util import find_spec

    return "onnx" if all(find_spec(module) for module in ONNX_MODULES) else "tf"
