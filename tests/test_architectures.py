"""The paper's four structures at its five parameter budgets (issue 3).

Every one of the 20 configurations is built on the real 96 x 1366 input, checked
against its budget and run forward on a batch of 2; each structure, at its smallest
budget, is trained for one step (the budgets of a structure differ only in widths).
"""

import keras
import numpy as np
import pytest

import music_tagger
from music_tagger.models import architectures
from music_tagger.models.architectures import (
    BUDGET_TOLERANCE,
    BUDGETS,
    INPUT_SHAPE,
    ORIGINAL_WIDTHS,
)
from music_tagger.models.budgets import count_params, derive_widths, table
from music_tagger.models.builders import build

PAPER_BUDGETS = [100_000, 250_000, 500_000, 1_000_000, 3_000_000]
CONFIGS = [(arch, budget) for arch in ("k1c2", "k2c1", "k2c2", "crnn") for budget in PAPER_BUDGETS]
BUILDERS = {
    "k1c2": music_tagger.K1C2,
    "k2c1": music_tagger.K2C1,
    "k2c2": music_tagger.K2C2,
    "crnn": music_tagger.CRNN,
}


def melgrams(batch: int, frames: int = INPUT_SHAPE[1], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(batch, 96, frames, 1)).astype("float32")


@pytest.mark.slow
def test_table_has_all_20_configurations_within_2_percent_of_their_budget():
    rows = table()
    assert [(r["arch"], r["budget"]) for r in rows] == CONFIGS
    for r in rows:
        assert abs(r["trainable"] / r["budget"] - 1) <= BUDGET_TOLERANCE, r
        # the total adds the BatchNorm moving statistics: 2 per normalised feature
        assert r["total"] > r["trainable"]


def test_table_counts_are_those_of_the_built_models():
    row = table()[7]  # k2c1 at 0.5M
    model = build(row["arch"], n_params=row["budget"])
    assert count_params(model) == (row["trainable"], row["total"])
    assert row["widths"] == BUDGETS["k2c1"][500_000]


def test_the_released_models_are_named_configurations():
    crnn = build("crnn")
    assert count_params(crnn)[0] == 396_786  # the released MusicTaggerCRNN
    assert crnn.get_layer("gru2").units == ORIGINAL_WIDTHS["crnn"][-1]
    cnn = music_tagger.K2C2()
    assert [cnn.get_layer(f"conv{i}").filters for i in range(1, 6)] == list(ORIGINAL_WIDTHS["k2c2"])


@pytest.mark.parametrize("arch", ["k1c2", "k2c1"])
def test_derived_widths_follow_the_scaling_rule(arch):
    # re-derives the smallest row (the others take a few seconds each)
    assert derive_widths(arch, 100_000) == BUDGETS[arch][100_000]
    # every other row lies on the rule too: some scale factor gives exactly its widths
    for budget, widths in BUDGETS[arch].items():
        scales = np.linspace(widths[0] - 0.5, widths[0] + 0.5, 2001)
        assert any(architectures.scaled_widths(arch, s) == widths for s in scales), budget


@pytest.mark.slow
@pytest.mark.parametrize("arch,budget", CONFIGS)
def test_each_configuration_runs_forward_and_its_smallest_trains_one_step(arch, budget):
    keras.backend.clear_session()
    model = BUILDERS[arch](weights=None, n_params=budget)
    assert model.input_shape == (None, *INPUT_SHAPE)
    assert abs(count_params(model)[0] / budget - 1) <= BUDGET_TOLERANCE
    x = melgrams(2)
    y = np.zeros((2, 50), "float32")
    y[:, :3] = 1
    # eager: one step does not repay tracing a tf.function (halves the suite's time)
    scores = keras.ops.convert_to_numpy(model(x, training=False))
    assert scores.shape == (2, 50) and np.all((scores >= 0) & (scores <= 1))
    if budget == PAPER_BUDGETS[0]:
        model.compile(optimizer="adam", loss="binary_crossentropy", run_eagerly=True)
        loss = model.train_on_batch(x, y)
        assert np.isfinite(loss)


def test_builders_take_classes_include_top_and_an_input_tensor():
    inputs = keras.Input(INPUT_SHAPE)
    model = music_tagger.K1C2(input_tensor=inputs, classes=10, n_params=100_000)
    assert model.inputs[0] is inputs and model.output_shape == (None, 10)
    features = music_tagger.K2C1(include_top=False, n_params=100_000)
    assert features.output_shape == (None, BUDGETS["k2c1"][100_000][-1])


def test_explicit_widths_override_the_budget():
    model = build("k1c2", n_params=3_000_000, widths=(2, 2, 2, 2, 3, 3))
    assert model.get_layer("fc2").units == 3


def test_saved_weights_load_into_the_same_configuration(tmp_path):
    widths = (2, 2, 2, 2, 2, 4, 4)
    model = build("k2c1", widths=widths)
    path = tmp_path / "k2c1.weights.h5"
    model.save_weights(path)
    again = music_tagger.K2C1(weights=path, widths=widths)  # a PathLike works too
    x = melgrams(2)
    np.testing.assert_allclose(again.predict_on_batch(x), model.predict_on_batch(x), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(arch="k9c9"), "unknown architecture"),
        (dict(arch="k1c2"), "needs n_params"),
        (dict(arch="k2c1", n_params=123), "no widths for k2c1"),
        (dict(arch="k1c2", widths=(1, 2, 3)), "takes 6 positive widths"),
        (dict(arch="k2c2", input_shape=(96, None, 1)), "only the crnn"),
        (dict(arch="k2c2", rnn="lstm"), "crnn only"),
        (dict(arch="crnn", rnn="rnn"), "'gru' or 'lstm'"),
        (dict(arch="crnn", input_shape=(96, None, 1), input_norm="time"), "fixed number"),
    ],
)
def test_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build(**kwargs)


def test_k1c2_and_k2c1_have_no_pretrained_weights():
    with pytest.raises(ValueError, match="no pretrained weights"):
        music_tagger.K1C2(weights="msd", n_params=100_000)


SMALL_CRNN = (4, 4, 4, 4, 3)


@pytest.mark.parametrize("rnn", ["gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_crnn_recurrent_options(rnn, bidirectional):
    model = build(
        "crnn",
        widths=SMALL_CRNN,
        rnn=rnn,
        bidirectional=bidirectional,
        rnn_units=5,
        include_top=False,
    )
    assert model.output_shape == (None, 10 if bidirectional else 5)
    layer = model.get_layer(f"{rnn}2")
    cell = layer.forward_layer if bidirectional else layer
    assert type(cell).__name__ == rnn.upper()


def test_variable_length_crnn_matches_the_fixed_length_one():
    fixed = build("crnn", widths=SMALL_CRNN, input_norm="freq")
    variable = build("crnn", widths=SMALL_CRNN, input_shape=(96, None, 1))
    assert variable.get_layer("bn_0_freq").axis in ([1], 1)  # chosen automatically
    # non-trivial BatchNorm statistics, so that a wrong axis would show
    rng = np.random.default_rng(1)
    weights = [w + rng.normal(scale=0.1, size=w.shape) for w in fixed.get_weights()]
    weights = [np.abs(w) if "variance" in v.path else w for w, v in zip(weights, fixed.weights)]
    fixed.set_weights(weights)
    variable.set_weights(weights)
    x = melgrams(2)
    np.testing.assert_allclose(variable.predict_on_batch(x), fixed.predict_on_batch(x), rtol=1e-5, atol=1e-6)
    assert variable.predict_on_batch(melgrams(2, frames=700)).shape == (2, 50)
