"""ONNX graphs of the package's networks, written node by node from their weights.

:func:`network_graph` turns the weights of one of the paper's structures
(:mod:`music_tagger.models.architectures`) into an ONNX model with
:mod:`onnx.helper`: numpy, h5py and onnx only, no TensorFlow. Each block of the
Keras model becomes the ONNX nodes that compute the same thing:

=========================  ==============================================================
Keras                      ONNX
=========================  ==============================================================
``ZeroPadding2D``          ``Pad`` on the time axis (the CRNN's 37 frames each side)
``BatchNormalization``     folded: ``Mul``/``Add`` by ``gamma / sqrt(var + eps)`` and its
                           shift (the input BN), or into the weights of the conv or dense
                           layer before it
``Conv2D`` (+ BN)          ``Conv`` (NCHW, explicit pads as Keras' ``same``)
``ELU``, ``MaxPooling2D``  ``MaxPool`` (valid, strides = pool), then ``Elu``: the same
                           numbers (ELU is non-decreasing, so it commutes with max),
                           computed on the pooled maps
two Keras 1 GRUs           two fused ``GRU`` nodes: gates ``HardSigmoid`` (alpha 0.2, beta
                           0.5, Keras 1's ``hard_sigmoid``), ``Tanh``,
                           ``linear_before_reset=0`` (the reset gate before the
                           recurrent matmul)
``Flatten``, ``Dense``     ``Transpose`` to channels-last, ``Flatten``, ``Gemm``
=========================  ==============================================================

The graph takes the Keras input as it is, a ``(batch, 96, frames, 1)`` log-mel, and
gives ``(batch, classes)`` scores (or the features without the top). Dropout is
left out (inference).

Examples
--------
>>> from music_tagger.runtime.onnx_graph import msd_graph
>>> model = msd_graph("crnn")                      # doctest: +SKIP
>>> [i.name for i in model.graph.input], [o.name for o in model.graph.output]   # doctest: +SKIP
(['melgram'], ['scores'])
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..errors import ParameterError, WeightsError
from ..models import architectures
from ..models.keras1 import read_msd_arrays
from ..util.checks import pretrained_name
from ..vocabulary import MSD_NETWORKS

#: ONNX opset of the graphs (GRU with HardSigmoid gates exists since opset 7;
#: 17 is read by every maintained runtime).
OPSET = 17
#: Names of the two kinds of input, and of the output, of every graph.
MELGRAM, AUDIO, OUTPUT = "melgram", "audio", "scores"
#: Mel bands of the melgram input.
N_BANDS = 96

#: Layer arrays in Keras 3 order (what ``layer.get_weights()`` gives):
#: conv ``[kernel (rows, cols, in, out), bias]``, BatchNorm ``[gamma, beta,
#: mean, variance]``, GRU ``[kernel, recurrent_kernel, bias]``, dense ``[kernel, bias]``.
LayerArrays = Mapping[str, Sequence[np.ndarray]]


class GraphBuilder:
    """Collects ONNX nodes and initializers under unique names.

    Examples
    --------
    >>> g = GraphBuilder()
    >>> y = g.op("Relu", ["x"])
    >>> y, len(g.nodes)
    ('relu_1', 1)
    """

    def __init__(self) -> None:
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0

    def const(self, name: str, array) -> str:
        """An initializer holding ``array``; returns its name."""
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def ints(self, name: str, values: Sequence[int]) -> str:
        """An int64 initializer (axes, pads, shapes)."""
        return self.const(name, np.asarray(values, np.int64))

    def op(self, op_type: str, inputs: Sequence[str], n_out: int = 1, name: str | None = None, **attrs):
        """Add one node; returns its output name (a list when ``n_out > 1``)."""
        from onnx import helper

        self._count += 1
        base = name or f"{op_type.lower()}_{self._count}"
        outputs = [base] if n_out == 1 else [f"{base}_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs, name=base, **attrs))
        return outputs[0] if n_out == 1 else outputs

    def model(self, name: str, inputs: list, outputs: list, doc: str = ""):
        """The checked ``onnx.ModelProto`` of the nodes so far."""
        import onnx
        from onnx import helper

        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.initializers, doc_string=doc)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="music_tagger")
        onnx.checker.check_model(model)
        return model


def _affine(bn: Sequence[np.ndarray], epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """A BatchNorm at inference as ``x * scale + shift`` (float64)."""
    gamma, beta, mean, variance = (np.asarray(a, np.float64) for a in bn)
    scale = gamma / np.sqrt(variance + epsilon)
    return scale, beta - mean * scale


def _same_pads(kernel: tuple[int, int]) -> list[int]:
    """ONNX pads of Keras' ``padding="same"`` at stride 1 (the extra one at the end)."""
    begin = [(k - 1) // 2 for k in kernel]
    return begin + [k - 1 - b for k, b in zip(kernel, begin)]


def _get(arrays: LayerArrays, layer: str, n: int) -> list[np.ndarray]:
    if layer not in arrays:
        raise WeightsError(f"no weights for layer {layer!r} (have: {', '.join(arrays)})")
    found = [np.asarray(a) for a in arrays[layer]]
    if len(found) != n:
        raise WeightsError(f"layer {layer!r} has {len(found)} arrays, expected {n}")
    return found


def _conv_block(
    g: GraphBuilder, x: str, i: int, arrays: LayerArrays, epsilon: float, kernel_rows_all: bool, pool: tuple[int, int]
) -> str:
    kernel, bias = _get(arrays, f"conv{i}", 2)
    scale, shift = _affine(_get(arrays, f"bn{i}", 4), epsilon)
    # conv then BatchNorm: one conv with the BN folded into its kernel and bias
    weight = (kernel.transpose(3, 2, 0, 1) * scale[:, None, None, None]).astype(np.float32)
    rows, cols = kernel.shape[:2]
    pads = [0, 0, 0, 0] if kernel_rows_all else _same_pads((rows, cols))
    x = g.op("Conv", [x, g.const(f"conv{i}_weight", weight),
                      g.const(f"conv{i}_bias", (bias * scale + shift).astype(np.float32))],
             name=f"conv{i}", kernel_shape=[rows, cols], pads=pads)  # fmt: skip
    # ELU is non-decreasing, so max-pooling before it gives the same numbers as
    # after it, on 4 to 16 times fewer values (ELU was a quarter of the CRNN's time)
    x = g.op("MaxPool", [x], name=f"pool{i}", kernel_shape=list(pool), strides=list(pool))
    return g.op("Elu", [x], name=f"elu{i}", alpha=1.0)


def _gru(g: GraphBuilder, x: str, name: str, arrays: LayerArrays, last: bool) -> str:
    """A Keras 1 GRU as one ONNX GRU node on ``(steps, batch, features)``."""
    kernel, recurrent, bias = _get(arrays, name, 3)
    units = recurrent.shape[0]
    w = g.const(f"{name}_W", kernel.T[None].astype(np.float32))  # gates z, r, h in both
    r = g.const(f"{name}_R", recurrent.T[None].astype(np.float32))
    b = g.const(f"{name}_B", np.concatenate([bias, np.zeros(3 * units)])[None].astype(np.float32))
    y, y_last = g.op(
        "GRU", [x, w, r, b], n_out=2, name=name, hidden_size=int(units),
        activations=["HardSigmoid", "Tanh"], activation_alpha=[0.2], activation_beta=[0.5],
        linear_before_reset=0,
    )  # fmt: skip
    # Y: (steps, 1, batch, units); Y_h: (1, batch, units)
    return g.op("Squeeze", [y_last if last else y, g.ints(f"{name}_axis", [0 if last else 1])])


def infer_arch(arrays: LayerArrays) -> str:
    """Which of the paper's structures a set of layer arrays belongs to.

    Examples
    --------
    >>> import numpy as np
    >>> infer_arch({"conv1": [np.zeros((3, 3, 1, 8)), np.zeros(8)], "gru1": []})
    'crnn'
    """
    if "conv1" not in arrays:
        raise WeightsError("these weights have no layer 'conv1': not one of the paper's structures")
    if "gru1" in arrays:
        return "crnn"
    rows, cols = np.shape(arrays["conv1"][0])[:2]
    if (rows, cols) == (3, 3):
        return "k2c2"
    return "k1c2" if rows == 1 else "k2c1"


def network_graph(
    arch: str,
    arrays: LayerArrays,
    epsilon: float,
    *,
    input: str = "melgram",
    time_frames: int | None = 1366,
    include_top: bool = True,
    classifier_activation: str | None = "sigmoid",
    name: str | None = None,
    multi_level: bool = False,
):
    """The ONNX model of one of the paper's structures with the given weights.

    Parameters
    ----------
    arch : {"k1c2", "k2c1", "k2c2", "crnn"}
    arrays : mapping
        ``{layer name: [arrays in Keras 3 order]}`` (see :data:`LayerArrays`), the
        layer names of :mod:`music_tagger.models.builders` (``bn_0_freq``,
        ``conv1``, ``bn1``, ..., ``gru1``, ``fc1``, ``bn_fc1``, ``output``).
    epsilon : float
        The BatchNorm epsilon the statistics are read with.
    input : {"melgram", "audio"}
        ``"melgram"``: ``(batch, 96, frames, 1)`` log-mels in; ``"audio"``:
        ``(batch, 349440)`` samples in (mono, 12 kHz), the 2016 front end in the
        graph (:mod:`music_tagger.runtime.frontend`).
    time_frames : int or None
        Frames of the melgram input (None: any, the CRNN with
        ``input_norm="freq"`` only); 1366 with ``input="audio"``.
    include_top : bool
        Keep the ``output`` layer; without it the graph gives the features.
    classifier_activation : {"sigmoid", "softmax", None}
    name : str, optional
        The graph's name (default ``arch``).
    multi_level : bool
        Give the multi-level feature of
        :func:`music_tagger.embeddings.extract.feature_model` instead of the scores:
        the mean over frequency and time of each conv block's output (after ELU and
        pooling), then the last GRU state of a CRNN (CRNN: 480 values). The
        top is left out.

    Returns
    -------
    onnx.ModelProto
        Input ``melgram`` or ``audio``, output ``scores``.

    Raises
    ------
    WeightsError
        A layer is missing or its arrays do not fit.
    ParameterError
        An input, activation or configuration the graph cannot express.

    Examples
    --------
    >>> from music_tagger.models.keras1 import read_msd_arrays
    >>> arrays, eps = read_msd_arrays("music_tagger_crnn_weights_theano.h5", "crnn")  # doctest: +SKIP
    >>> network_graph("crnn", arrays, eps).graph.output[0].name                     # doctest: +SKIP
    'scores'
    """
    from onnx import TensorProto, helper

    structure = architectures.structure(arch)
    if classifier_activation not in ("sigmoid", "softmax", None):
        raise ParameterError(
            f"classifier_activation must be 'sigmoid', 'softmax' or None, got {classifier_activation!r}"
        )
    g = GraphBuilder()
    if input == "melgram":
        frames = "frames" if time_frames is None else int(time_frames)
        inputs = [helper.make_tensor_value_info(MELGRAM, TensorProto.FLOAT, ["batch", N_BANDS, frames, 1])]
        x = MELGRAM
    elif input == "audio":
        from .frontend import AUDIO_SAMPLES, add_onnx_frontend

        inputs = [helper.make_tensor_value_info(AUDIO, TensorProto.FLOAT, ["batch", AUDIO_SAMPLES])]
        x = add_onnx_frontend(g, AUDIO)
    else:
        raise ParameterError(f"input must be 'melgram' or 'audio', got {input!r}")
    taps: list | None = [] if multi_level else None
    x = _network(g, x, structure, arrays, epsilon, include_top and not multi_level, classifier_activation, taps)
    if multi_level:  # each block's maps averaged over (bands, frames), then the GRU state
        means = [g.op("ReduceMean", [t], name=f"gap_pool{i}", axes=[2, 3], keepdims=0) for i, t in enumerate(taps, 1)]
        x = g.op("Concat", means + ([x] if structure.n_rnn else []), name="multi_level", axis=1)
    g.op("Identity", [x], name=OUTPUT)
    outputs = [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", None])]
    doc = f"{structure.name}: {input} in, scores out"
    return g.model(name or structure.name, inputs, outputs, doc=doc)


def _network(
    g: GraphBuilder,
    x: str,
    structure,
    arrays: LayerArrays,
    epsilon: float,
    include_top: bool,
    classifier_activation: str | None,
    taps: list | None = None,
) -> str:
    """The nodes of the network on the channels-last melgram ``x``; each conv block's
    output is appended to ``taps`` when given."""
    x = g.op("Transpose", [x], name="to_nchw", perm=[0, 3, 1, 2])  # (b, 1, 96, T)
    if structure.time_padding:
        pad = structure.time_padding
        x = g.op("Pad", [x, g.ints("zeropadding_pads", [0, 0, 0, pad, 0, 0, 0, pad])], name="zeropadding")
    scale, shift = _affine(_get(arrays, "bn_0_freq", 4), epsilon)
    by_time = len(scale) != N_BANDS  # the originals' per-frame BatchNorm
    shape = (1, 1, 1, -1) if by_time else (1, 1, -1, 1)
    x = g.op("Mul", [x, g.const("bn_0_freq_scale", scale.reshape(shape).astype(np.float32))])
    x = g.op("Add", [x, g.const("bn_0_freq_shift", shift.reshape(shape).astype(np.float32))], name="bn_0_freq")
    for i, (kernel, pool) in enumerate(zip(structure.kernels, structure.pools), start=1):
        x = _conv_block(g, x, i, arrays, epsilon, kernel[0] is None, pool)
        if taps is not None:
            taps.append(x)
    if structure.n_rnn:
        # (b, maps, bands, T) -> (T, b, bands * maps): one step per frame, as Keras'
        # Permute((2, 1, 3)) + Reshape of the channels-last maps
        x = g.op("Transpose", [x], name="to_sequence", perm=[3, 0, 2, 1])
        x = g.op("Reshape", [x, g.ints("sequence_shape", [0, 0, -1])], name="reshape")
        for i in range(1, structure.n_rnn + 1):
            x = _gru(g, x, f"gru{i}", arrays, last=i == structure.n_rnn)
    else:
        x = g.op("Transpose", [x], name="to_nhwc", perm=[0, 2, 3, 1])
        x = g.op("Flatten", [x], name="flatten", axis=1)
        for i in range(1, structure.n_dense + 1):
            kernel, bias = _get(arrays, f"fc{i}", 2)
            scale, shift = _affine(_get(arrays, f"bn_fc{i}", 4), epsilon)
            x = g.op("Gemm", [x, g.const(f"fc{i}_kernel", (kernel * scale).astype(np.float32)),
                              g.const(f"fc{i}_bias", (bias * scale + shift).astype(np.float32))],
                     name=f"fc{i}")  # fmt: skip
            x = g.op("Elu", [x], name=f"elu_fc{i}", alpha=1.0)
    if not include_top:
        return x
    kernel, bias = _get(arrays, "output", 2)
    x = g.op("Gemm", [x, g.const("output_kernel", kernel.astype(np.float32)),
                      g.const("output_bias", bias.astype(np.float32))], name="output")  # fmt: skip
    if classifier_activation == "sigmoid":
        # 1 / (1 + exp(-x)), not onnxruntime's Sigmoid, which returns exactly 0 from x <= -18
        # (the CNN's logits of some tags reach -43: Keras gives 1e-19, never 0)
        one = g.const("one", np.ones((), np.float32))
        return g.op("Reciprocal", [g.op("Add", [one, g.op("Exp", [g.op("Neg", [x])])])])
    if classifier_activation == "softmax":
        return g.op("Softmax", [x], axis=-1)
    return x


def msd_graph(name: str, weights=None, *, input: str = "melgram", multi_level: bool = False):
    """The ONNX model of a pretrained tagger, from its original Keras 1 weight file.

    Parameters
    ----------
    name : {"crnn", "cnn"}
    weights : path-like, optional
        The original HDF5 file (theano or tensorflow variant); default the
        registry's theano file (:func:`music_tagger.registry.get_file`).
    input : {"melgram", "audio"}
    multi_level : bool
        The multi-level features instead of the scores (see :func:`network_graph`).

    Returns
    -------
    onnx.ModelProto

    Examples
    --------
    >>> msd_graph("cnn", input="audio").graph.input[0].name     # doctest: +SKIP
    'audio'
    """
    from ..registry import get_file

    key = pretrained_name(name)
    arch = MSD_NETWORKS[key].arch
    if weights is None:
        weights = get_file("weights", MSD_NETWORKS[key].weights["theano"])
    arrays, epsilon = read_msd_arrays(weights, arch)
    return network_graph(arch, arrays, epsilon, input=input, name=f"music_tagger_{key}", multi_level=multi_level)
