"""Each Keras 1 behaviour of ``music_tagger.models.legacy``, pinned.

For every switch, the faithful choice reproduces the original's outputs and the wrong
choice measurably changes them (the sizes quoted are FINDINGS.md's measurements).
"""

import keras
import numpy as np
import pytest

from music_tagger.errors import WeightsError
from music_tagger.models import keras1, legacy
from music_tagger.models.builders import CRNN, build
from music_tagger.models.legacy import load_legacy_weights
from music_tagger.registry import example_names, get_file

CLIPS = example_names()


@pytest.fixture(scope="module")
def faithful(reference_melgrams):
    return CRNN(weights="msd").predict(reference_melgrams, verbose=0)


def _crnn_with(path_key="crnn_msd_theano", **load_kwargs):
    model = build("crnn")
    load_legacy_weights(model, get_file("weights", path_key), **load_kwargs)
    return model


def _max_change(model, reference_melgrams, faithful):
    return float(np.max(np.abs(model.predict(reference_melgrams, verbose=0) - faithful)))


def test_keras1_hard_sigmoid_is_not_keras3s():
    x = np.linspace(-4, 4, 81).astype("float32")
    ours = np.asarray(legacy.keras1_hard_sigmoid(x))
    np.testing.assert_allclose(ours, np.clip(0.2 * x + 0.5, 0, 1), atol=1e-7)
    keras3 = np.asarray(keras.activations.hard_sigmoid(x))
    assert np.max(np.abs(ours - keras3)) > 0.08  # they differ by up to 1/12 (at |x| = 2.5)


def test_gate_activation_matters(reference_melgrams, faithful):
    model = build("crnn")
    load_legacy_weights(model, get_file("weights", "crnn_msd_theano"))
    for name in ("gru1", "gru2"):
        model.get_layer(name).cell.recurrent_activation = keras.activations.hard_sigmoid
    assert _max_change(model, reference_melgrams, faithful) > 0.02  # FINDINGS: 0.075


def test_theano_kernels_must_be_flipped(reference_melgrams, faithful):
    assert _max_change(_crnn_with(flip=True), reference_melgrams, faithful) < 1e-5
    assert _max_change(_crnn_with(flip=False), reference_melgrams, faithful) > 0.1  # FINDINGS: 0.42


def test_tensorflow_kernels_must_not_be_flipped(reference_melgrams, faithful):
    model = _crnn_with("crnn_msd_tensorflow", flip=True)
    assert _max_change(model, reference_melgrams, faithful) > 0.1


def test_crnn_running_std_is_a_variance(reference_melgrams, faithful):
    model = _crnn_with()  # running_std loaded as the variance
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):  # read it as a std instead
            layer.moving_variance.assign(np.square(layer.moving_variance.numpy()))
    assert _max_change(model, reference_melgrams, faithful) > 0.1  # FINDINGS: 0.43
    # and the Keras 1.0.6 reading (std + 1e-6) cannot even hold its padded columns
    with pytest.raises(ValueError, match="Keras 1.0.6"):
        _crnn_with(bn_semantics="std_keras106")


def test_input_batchnorm_is_time_indexed():
    model = build("crnn", input_norm="freq")  # per mel band, as its name suggests
    with pytest.raises(WeightsError, match=r"bn_0_freq.*\(96,\).*\(1440,\)"):
        load_legacy_weights(model, get_file("weights", "crnn_msd_theano"))
    assert build("crnn").get_layer("bn_0_freq").gamma.shape == (1440,)


def test_bn_epsilon_matters_on_other_inputs(reference_melgrams, monkeypatch):
    """The 40 published numbers cannot tell 1e-5 from 1e-3; other inputs can.

    The same clips 10 dB quieter: with power-4 scaling that is -20 dB on every bin
    (no bin reaches the -100 dB clamp of ``amin``).
    """
    shifted = reference_melgrams - 20.0
    right = _crnn_with().predict(shifted, verbose=0)
    monkeypatch.setattr(legacy, "BN_EPSILON", 1e-3)  # the graph's layers
    monkeypatch.setattr(keras1, "BN_EPSILON", 1e-3)  # the epsilon the weights are read with
    wrong = _crnn_with().predict(shifted, verbose=0)
    assert np.max(np.abs(right - wrong)) > 1e-3  # measured: 0.002 on bensound-cute


def test_keras106_std_semantics_is_exact():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 3))
    mean, std = rng.normal(size=3), rng.uniform(0.1, 3, size=3)
    m, var = legacy.convert_bn_statistics(mean, std, "std_keras106")
    np.testing.assert_allclose((x - m) / np.sqrt(var + legacy.BN_EPSILON), (x - mean) / (std + 1e-6), rtol=1e-12)
    with pytest.raises(ValueError, match="sqrt"):
        legacy.convert_bn_statistics(mean, np.zeros(3), "std_keras106")
    with pytest.raises(ValueError, match="unknown BatchNorm semantics"):
        legacy.convert_bn_statistics(mean, std, "std")


def test_conv_kernel_conversion():
    k = np.arange(2 * 3 * 3 * 3, dtype="float32").reshape(2, 3, 3, 3)
    out = legacy.convert_conv_kernel(k, flip=False)
    assert out.shape == (3, 3, 3, 2)
    assert out[0, 2, 1, 0] == k[0, 1, 0, 2]
    np.testing.assert_array_equal(legacy.convert_conv_kernel(k, flip=True), out[::-1, ::-1])
    with pytest.raises(ValueError, match="4-d"):
        legacy.convert_conv_kernel(k[0], flip=False)


def test_gru_packing_order_is_update_reset_candidate():
    arrays = {f"{k}_{g}": np.full((2, 2) if k != "b" else 2, i, "float32") for i, g in enumerate("zrh") for k in "WUb"}
    kernel, recurrent, bias = legacy.pack_gru_weights(arrays)
    np.testing.assert_array_equal(bias, [0, 0, 1, 1, 2, 2])
    assert kernel.shape == (2, 6) and recurrent.shape == (2, 6)
    del arrays["U_r"]
    with pytest.raises(WeightsError, match="U_r"):
        legacy.pack_gru_weights(arrays)
