"""Pretrained features: shapes, determinism, inputs of every kind, the sklearn transformer."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from music_tagger.audio import compute_melgrams
from music_tagger.datasets import cache
from music_tagger.embeddings.extract import FeatureExtractor, feature_names, features
from music_tagger.models.builders import CNN, CRNN


@pytest.fixture(scope="module")
def melgrams(msd_stores):
    return cache.read_melgrams(cache.store_path(msd_stores, "train"), np.arange(6))


@pytest.mark.parametrize("arch, dims", [("crnn", (480, 32)), ("cnn", (736, 256))])
def test_shapes_and_the_top_level_is_the_topless_network(arch, dims, melgrams):
    multi = features(melgrams[:3], arch=arch, level="multi")
    top = features(melgrams[:3], arch=arch, level="top")
    assert multi.shape == (3, dims[0]) and top.shape == (3, dims[1])
    assert len(feature_names(arch, "multi")) == dims[0] and len(feature_names(arch, "top")) == dims[1]
    builder = CRNN if arch == "crnn" else CNN
    reference = builder(weights="msd", include_top=False).predict(melgrams[:3, ..., None], verbose=0)
    np.testing.assert_allclose(top, reference, atol=1e-5)
    # the multi-level feature ends with the top feature (CNN: its last block is 1 x 1)
    np.testing.assert_allclose(multi[:, -dims[1] :], top, atol=1e-5)


def test_deterministic_and_independent_of_the_batch(melgrams):
    a = features(melgrams, batch_size=4)
    b = features(melgrams, batch_size=1)
    c = features(melgrams[::-1], batch_size=3)[::-1]
    np.testing.assert_array_equal(a, features(melgrams, batch_size=4))
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)  # float rounding only (oneDNN kernels differ by batch size)
    np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-4)


def test_the_readings_differ(melgrams):
    published = features(melgrams[:2], level="top")
    as_trained = features(melgrams[:2], level="top", bn_semantics="std_keras106")
    assert np.max(np.abs(published - as_trained)) > 0.05


def test_store_and_files_with_crops(msd_stores, melgrams):
    info = cache.load_store(cache.store_path(msd_stores, "train"))
    from_store = features(str(info.path), level="top")
    assert from_store.shape == (info.n, 32)
    np.testing.assert_allclose(from_store[:6], features(melgrams, level="top"), atol=1e-5)
    path = info.paths[0]
    two = features([path], level="top", crops=2, resampler="soxr_hq")
    crops = compute_melgrams(path, 2, resampler="soxr_hq")
    np.testing.assert_allclose(two[0], features(crops, level="top").mean(axis=0), atol=1e-5)
    with pytest.raises(ValueError, match="one crop per clip"):
        features(str(info.path), crops=2)


def test_bad_inputs_say_what_was_expected(melgrams):
    with pytest.raises(ValueError, match=r"shape \(n, 96, 1366\).*got an array of shape \(2, 96, 100\)"):
        features(np.zeros((2, 96, 100), "float32"))
    with pytest.raises(ValueError, match="arch"):
        features(melgrams, arch="vgg")
    with pytest.raises(ValueError, match="level"):
        features(melgrams, level="all")
    with pytest.raises(ValueError, match="one reading"):
        features(melgrams, arch="cnn", bn_semantics="variance")
    with pytest.raises(ValueError, match="crops"):
        features(melgrams, crops=0)
    from music_tagger.audio import AudioError

    with pytest.raises(AudioError):
        features(["/nonexistent/song.mp3"])


def test_transformer_in_a_pipeline(msd_stores):
    info = cache.load_store(cache.store_path(msd_stores, "train"))
    x = cache.read_melgrams(info.path)
    y = info.y[:, int(np.argmax(info.y.sum(axis=0) * (info.y.sum(axis=0) < info.n)))]
    pipe = make_pipeline(FeatureExtractor(level="top"), StandardScaler(), LogisticRegression())
    pipe.fit(x, y)
    proba = pipe.predict_proba(x[:4])
    assert proba.shape == (4, 2)
    assert pipe.get_params()["featureextractor__level"] == "top"
    assert clone(pipe).set_params(featureextractor__arch="cnn").get_params()["featureextractor__arch"] == "cnn"
    np.testing.assert_allclose(pipe[0].transform(x[:4]), features(x[:4], level="top"))
    assert list(pipe[0].get_feature_names_out()[:2]) == ["gru2_0", "gru2_1"]
    with pytest.raises(NotFittedError):
        FeatureExtractor().transform(x[:1])
    with pytest.raises(ValueError, match="not a single path"):
        FeatureExtractor().fit().transform(info.paths[0])
    with pytest.raises(ValueError, match="level"):
        FeatureExtractor(level="bottom").fit()


def test_files_of_a_model_with_several_outputs_go_through_the_worker_pipeline(msd_stores, tmp_path):
    # one engine for files and any model: run_model on audio files reads them in
    # worker processes (pipeline.run) and keeps every output; the rows equal the
    # outputs of the same crops given as spectrograms; an unreadable file is a NaN
    # row and the one-line message every command gives
    import keras

    from music_tagger.embeddings.extract import feature_model, run_model

    top = feature_model("crnn", "top")
    two = keras.Model(top.input, [top.output, keras.ops.mean(top.get_layer("pool1").output, axis=(1, 2))])
    info = cache.load_store(cache.store_path(msd_stores, "train"))
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"not audio")
    files = [info.paths[0], str(bad), info.paths[1]]
    failures = []
    a, b = run_model(two, files, crops=2, resampler="soxr_hq", failures=failures, workers=2)
    assert a.shape == (3, 32) and b.shape == (3, 64)
    assert np.isnan(a[1]).all() and np.isnan(b[1]).all()
    [(row, message)] = failures
    assert row == 1 and message.startswith(f"{bad}: not an audio file") and "\n" not in message
    for row, path in ((0, files[0]), (2, files[2])):
        crops = compute_melgrams(path, 2, resampler="soxr_hq")
        want = [np.mean(o, axis=0) for o in two.predict_on_batch(crops[..., None])]
        np.testing.assert_allclose(a[row], want[0], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(b[row], want[1], rtol=1e-5, atol=1e-5)
