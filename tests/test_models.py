"""The pretrained CRNN and CNN against what the original published.

The 40 reference numbers are read at test time from the original repository's README
(or the reference ``EXPECTED.md`` that copies it): published scores, not our outputs.
"""

import keras
import numpy as np
import pytest

from music_tagger import CNN, CRNN, TAGS
from music_tagger.registry import example_names

CLIPS = example_names()

TOLERANCE = 0.0006  # the published scores are rounded to 3 decimals


@pytest.fixture(scope="module")
def expected(published_scores):
    table = published_scores
    assert sorted(table) == sorted(CLIPS) and all(len(v) == 10 for v in table.values())
    return table


@pytest.fixture(scope="module")
def crnn():
    return CRNN(weights="msd")


@pytest.mark.parametrize("variant", ["theano", "tensorflow"])
def test_crnn_reproduces_all_40_published_scores(variant, reference_melgrams, expected):
    preds = CRNN(weights="msd", variant=variant).predict(reference_melgrams, verbose=0)
    assert preds.shape == (4, 50)
    errors = []
    for clip, row in zip(CLIPS, preds):
        for tag, published in expected[clip]:
            errors.append(abs(row[TAGS.index(tag)] - published))
        # the published top ten are our top ten, in the same order up to ties at rounding
        ours = [TAGS[i] for i in np.argsort(-row)[:10]]
        assert set(ours) == {tag for tag, _ in expected[clip]}, clip
    assert len(errors) == 40
    assert max(errors) <= TOLERANCE, f"max abs error {max(errors):.5f}"


@pytest.mark.slow
def test_theano_and_tensorflow_files_agree(reference_melgrams):
    for builder in (CRNN, CNN):
        a = builder(weights="msd", variant="theano").predict(reference_melgrams, verbose=0)
        b = builder(weights="msd", variant="tensorflow").predict(reference_melgrams, verbose=0)
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_feature_extractors_shapes(reference_melgrams):
    assert CRNN(weights="msd", include_top=False).predict(reference_melgrams[:1], verbose=0).shape == (1, 32)
    assert CNN(weights="msd", include_top=False).predict(reference_melgrams[:1], verbose=0).shape == (1, 256)


def test_cnn_include_top_false_is_the_topless_part_of_the_tagger(reference_melgrams):
    full = CNN(weights="msd")
    features = CNN(weights="msd", include_top=False).predict(reference_melgrams, verbose=0)
    w, b = full.get_layer("output").get_weights()
    from_features = 1 / (1 + np.exp(-(features @ w + b)))
    np.testing.assert_allclose(from_features, full.predict(reference_melgrams, verbose=0), atol=1e-5)


def test_input_and_output_shapes(crnn):
    assert crnn.input_shape == (None, 96, 1366, 1)
    assert crnn.output_shape == (None, 50)
    names = {layer.name for layer in crnn.layers}
    assert {"bn_0_freq", "conv1", "bn1", "conv4", "bn4", "gru1", "gru2", "output"} <= names


def test_msd_with_other_classes_is_an_error():
    with pytest.raises(ValueError, match="50 classes"):
        CRNN(weights="msd", classes=10)
    model = CRNN(weights="msd", include_top=False)  # allowed: a new top is the user's
    assert model.output_shape == (None, 32)


def test_msd_weights_need_the_original_configuration():
    with pytest.raises(ValueError, match="original widths"):
        CRNN(weights="msd", n_params=100_000)
    with pytest.raises(ValueError, match="weights must be"):
        CRNN(weights="imagenet")


def test_prediction_of_a_clip_does_not_depend_on_the_batch(crnn, reference_melgrams):
    alone = np.concatenate([crnn.predict(reference_melgrams[i : i + 1], verbose=0) for i in range(4)])
    together = crnn.predict(reference_melgrams, verbose=0)
    reordered = crnn.predict(reference_melgrams[::-1], verbose=0)[::-1]
    np.testing.assert_allclose(together, alone, atol=1e-6)
    np.testing.assert_allclose(reordered, alone, atol=1e-6)


def test_saved_keras_file_gives_identical_predictions(crnn, reference_melgrams, tmp_path):
    path = tmp_path / "m.keras"
    crnn.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(
        loaded.predict(reference_melgrams, verbose=0), crnn.predict(reference_melgrams, verbose=0)
    )


def test_input_tensor_is_used(reference_melgrams):
    inputs = keras.Input(shape=(96, 1366, 1))
    model = CRNN(weights="msd", input_tensor=inputs)
    assert model.inputs[0] is inputs
    with pytest.raises(ValueError, match="Keras tensor"):
        CRNN(weights=None, input_tensor=np.zeros((1, 96, 1366, 1)))


def test_original_widths_given_explicitly_still_take_the_msd_weights(reference_melgrams):
    explicit = CRNN(weights="msd", widths=[64, 128, 128, 128, 32])
    np.testing.assert_array_equal(
        explicit.predict(reference_melgrams[:1], verbose=0),
        CRNN(weights="msd").predict(reference_melgrams[:1], verbose=0),
    )
