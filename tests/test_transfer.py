"""The two-stage fine-tune of the MSD CRNN: BatchNorm statistics untouched, stage 2 never
below stage 1 on validation, resume equal to an uninterrupted run; and the as-trained
BatchNorm reading."""

import json
import random

import keras
import numpy as np
import pytest

from music_tagger.datasets import cache
from music_tagger.models import legacy
from music_tagger.models.builders import CRNN
from music_tagger.registry import get_file
from music_tagger.training.evaluation import evaluate_model, load_model
from music_tagger.training.transfer import finetune

#: trains networks or prepares stores: left out of the contributor's `-m "not slow"` run
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    """One cache folder shared by the runs of this module (the activations are computed once)."""
    return tmp_path_factory.mktemp("cache")


def _bn_statistics(model) -> dict[str, list[np.ndarray]]:
    return {
        layer.name: [np.asarray(layer.moving_mean), np.asarray(layer.moving_variance)]
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    }


def test_stage2_keeps_batchnorm_statistics_and_never_ends_below_stage1(msd_stores, cached, tmp_path):
    # conv4 + bn4 are trained in stage 2; a high rate makes validation AUC move both ways
    model_path = finetune(msd_stores, tmp_path, stage2_from="conv4", head_epochs=15,
                          head_patience=5, epochs=2, patience=99, learning_rate=3e-3,
                          cache_dir=cached, verbose=0)  # fmt: skip
    pretrained = CRNN(weights="msd", include_top=False)
    before = _bn_statistics(pretrained)
    # the network after the last epoch: the stage-2 model's weights in layer order,
    # conv4 (kernel, bias), bn4 (gamma, beta, moving mean, moving variance), gru1, ...
    with np.load(tmp_path / "checkpoints" / "stage2-last.npz") as last:
        kernel, _, gamma, beta, mean, variance = (last[f"w{i}"] for i in range(6))
    assert not np.allclose(kernel, pretrained.get_layer("conv4").get_weights()[0])  # it learned
    bn4 = pretrained.get_layer("bn4").get_weights()
    for got, want in zip((gamma, beta, mean, variance), bn4):
        np.testing.assert_array_equal(got, want)  # frozen, statistics never updated
    # the saved network (its best epoch): every BatchNorm as pretrained
    after = _bn_statistics(load_model(model_path, compile=False))
    assert before.keys() == after.keys() and "bn4" in after
    for name in before:
        for a, b in zip(before[name], after[name]):
            np.testing.assert_array_equal(a, b, err_msg=name)

    history = json.loads((tmp_path / "history.json").read_text())
    stage1 = [h["val_roc_auc"] for h in history if h["stage"] == 1]
    stage2 = [h for h in history if h["stage"] == 2]
    assert [h["epoch"] for h in stage2] == [0, 1, 2]
    # epoch 0 is stage 1's model (float32 sigmoids may tie where stage 1's float64 did not)
    assert stage2[0]["val_roc_auc"] == pytest.approx(max(stage1), abs=2e-3)
    best = max(h["val_roc_auc"] for h in stage2)
    final = evaluate_model(model_path, cache.store_path(msd_stores, "valid"))["roc_auc_macro"]
    assert final == pytest.approx(best, abs=1e-5)  # the best epoch is what was saved
    assert final >= stage2[0]["val_roc_auc"] - 1e-6


def test_batchnorm_in_training_mode_would_have_moved(msd_stores):
    """The control of the test above: the same layer, trainable, updates its statistics."""
    model = CRNN(weights="msd", include_top=False)
    x = cache.read_melgrams(cache.store_path(msd_stores, "train"), [0, 1, 2, 3])[..., None]
    bn = model.get_layer("bn1")
    conv1_out = keras.Model(model.input, model.get_layer("conv1").output)(x)
    before = np.asarray(bn.moving_mean).copy()
    bn(conv1_out, training=True)
    assert np.max(np.abs(np.asarray(bn.moving_mean) - before)) > 1e-4


def test_resume_repeats_the_uninterrupted_run(msd_stores, cached, tmp_path):
    common = dict(head_epochs=10, head_patience=5, patience=99, learning_rate=1e-3, stage2_from="conv4",
                  cache_dir=cached, verbose=0)  # fmt: skip
    python_state, numpy_state = random.getstate(), np.random.get_state()
    finetune(msd_stores, tmp_path / "a", epochs=1, **common)
    # the run seeded the global random states, and gave the caller's back untouched
    assert random.getstate() == python_state
    assert repr(np.random.get_state()) == repr(numpy_state)
    finetune(msd_stores, tmp_path / "a", epochs=3, resume=True, **common)
    finetune(msd_stores, tmp_path / "b", epochs=3, **common)
    a = json.loads((tmp_path / "a" / "history.json").read_text())
    b = json.loads((tmp_path / "b" / "history.json").read_text())
    assert [(h["stage"], h["epoch"]) for h in a] == [(h["stage"], h["epoch"]) for h in b]
    np.testing.assert_allclose([h["val_roc_auc"] for h in a], [h["val_roc_auc"] for h in b], atol=1e-6)
    np.testing.assert_allclose([h["loss"] or 0 for h in a], [h["loss"] or 0 for h in b], rtol=1e-4)
    with pytest.raises(FileExistsError, match="resume"):
        finetune(msd_stores, tmp_path / "b", epochs=3, **common)
    with pytest.raises(ValueError, match="other settings"):
        finetune(msd_stores, tmp_path / "b", epochs=3, resume=True, **dict(common, learning_rate=1e-2))


def test_options_are_validated(msd_stores, tmp_path):
    with pytest.raises(ValueError, match="recipe"):
        finetune(msd_stores, tmp_path, recipe="magic")
    with pytest.raises(ValueError, match="stage2_from"):
        finetune(msd_stores, tmp_path, stage2_from="conv1")
    with pytest.raises(ValueError, match="recipe='unfreeze'"):
        finetune(msd_stores, tmp_path, weights=None)
    with pytest.raises(ValueError, match="bn_semantics must be one of 'variance', 'std_keras106'"):
        CRNN(weights="msd", bn_semantics="std")


def test_as_trained_reading_is_keras106_batchnorm(msd_stores):
    """bn_semantics="std_keras106": bn_0_freq computes (x - mean) / (std + 1e-6) as
    Keras 1.0.6 did, with std the stored number itself; the published reading differs."""
    import h5py

    x = cache.read_melgrams(cache.store_path(msd_stores, "train"), [0, 1])[..., None]
    with h5py.File(get_file("weights", "crnn_msd_theano"), "r") as f:
        group = f["bn_0_freq"]
        stored = {k.split("_", 3)[-1]: group[k][()] for k in group.keys()}
    padded = np.pad(x, ((0, 0), (0, 0), (37, 37), (0, 0)))
    shape = (1, 1, -1, 1)  # per time index
    expected = (padded - stored["running_mean"].reshape(shape)) / (
        stored["running_std"].reshape(shape) + legacy.KERAS106_STD_EPSILON
    ) * stored["gamma"].reshape(shape) + stored["beta"].reshape(shape)
    outputs = {}
    for reading in ("std_keras106", "variance"):
        model = CRNN(weights="msd", bn_semantics=reading)
        outputs[reading] = np.asarray(keras.Model(model.input, model.get_layer("bn_0_freq").output)(x))
    np.testing.assert_allclose(outputs["std_keras106"], expected, rtol=1e-4, atol=1e-3)
    assert np.max(np.abs(outputs["variance"] - expected)) > 1.0
    assert CRNN(weights="msd", bn_semantics="std_keras106").get_layer("bn1").epsilon == 1e-9
