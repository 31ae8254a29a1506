"""``decode_predictions`` and ``tag``: decoding, file handling, both modes, batching.

The published top-10 scores are read at test time from the original README (or the
reference ``EXPECTED.md``). The CRNN is built once (``tagging.get_model`` caches it) and tests use
one or two crops to stay quick.
"""

import numpy as np
import pytest

from music_tagger import TAGS, audio, decode_predictions, tag
from music_tagger.audio.files import expand_paths
from music_tagger.registry import example_names
from music_tagger.tagging import tagger as tagging
from music_tagger.tagging.results import TagResult
from music_tagger.tagging.tagger import get_model, predict_files

CLIPS = example_names()

# The published scores are rounded to 3 decimals; faithful tagging of the mp3 files
# was measured at a max abs difference of 0.00050 over the 40 numbers.
PUBLISHED_TOLERANCE = 0.0006


@pytest.fixture(scope="module")
def mp3s(reference_data):
    return [str(reference_data / f"{c}.mp3") for c in CLIPS]


@pytest.fixture()
def bad_files(tmp_path):
    """A missing file, a text file named .mp3, an empty .wav and a folder without audio."""
    fake = tmp_path / "not_audio.mp3"
    fake.write_text("this is text, not an mp3\n" * 20)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    folder = tmp_path / "no_audio_here"
    folder.mkdir()
    (folder / "notes.txt").write_text("nothing")
    return [str(tmp_path / "missing.mp3"), str(fake), str(empty), str(folder)]


# --------------------------------------------------------------------------- decode


def test_decode_predictions_sorts_and_keeps_full_precision():
    p = np.zeros((2, 50), np.float32)
    p[0, TAGS.index("jazz")] = 0.4444839
    p[0, TAGS.index("folk")] = 0.1034
    p[1, TAGS.index("rock")] = 0.9
    out = decode_predictions(p, top_n=2)
    assert out == [
        [("jazz", float(np.float32(0.4444839))), ("folk", float(np.float32(0.1034)))],
        [("rock", float(np.float32(0.9))), ("pop", 0.0)],
    ]
    assert all(type(s) is float for row in out for _, s in row)
    assert out[0][0][1] != round(out[0][0][1], 3)  # not rounded


def test_decode_predictions_ties_keep_tag_order_and_top_n_bounds():
    p = np.full((1, 50), 0.5)
    assert [t for t, _ in decode_predictions(p, top_n=3)[0]] == list(TAGS[:3])
    assert len(decode_predictions(p, top_n=500)[0]) == 50
    assert [t for t, _ in decode_predictions(p, top_n=None)[0]] == list(TAGS)


def test_decode_predictions_custom_tags_and_lists():
    assert decode_predictions([[0.1, 0.7, 0.2]], top_n=2, tags=["a", "b", "c"]) == [[("b", 0.7), ("c", 0.2)]]


@pytest.mark.parametrize(
    "preds, match",
    [
        (np.zeros(50), r"Expected a 2D array.*got a 1D array.*preds\[None, :\]"),
        (np.zeros((1, 50, 1)), r"Expected a 2D array.*shape \(1, 50, 1\)"),
        (np.zeros((1, 32)), r"32 columns but 50 tags.*include_top=False"),
        (np.full((1, 50), np.nan), "NaN"),
        ([["a"] * 50], "numeric"),
    ],
)
def test_decode_predictions_rejects_bad_arrays(preds, match):
    with pytest.raises(ValueError, match=match):
        decode_predictions(preds)


@pytest.mark.parametrize("top_n", [0, -1, 2.5, True])
def test_decode_predictions_rejects_bad_top_n(top_n):
    with pytest.raises(ValueError, match="top_n must be a positive integer"):
        decode_predictions(np.zeros((1, 50)), top_n=top_n)


# --------------------------------------------------------------------------- paths


def test_expand_paths_sorts_folders_recursively_and_keeps_the_rest(tmp_path):
    for name in ["b.mp3", "a.WAV", "sub/c.flac", "notes.txt", "cover.jpg"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    empty = tmp_path / "empty"
    empty.mkdir()
    got = expand_paths([tmp_path, "missing.mp3", empty])
    assert got == [
        str(tmp_path / "a.WAV"),
        str(tmp_path / "b.mp3"),
        str(tmp_path / "sub" / "c.flac"),
        "missing.mp3",
        str(empty),  # kept, so that tag() reports it
    ]
    assert expand_paths("one.ogg") == ["one.ogg"]


# --------------------------------------------------------------------------- arguments


def test_bad_arguments_fail_before_any_work(monkeypatch):
    # no model may be built and no file read for an invalid call
    monkeypatch.setattr(tagging, "get_model", lambda *a: pytest.fail("model built"))
    with pytest.raises(ValueError, match="single centre crop"):
        tag("x.mp3", faithful=True, crops=4)
    with pytest.raises(ValueError, match="kaiser_best_2016"):
        tag("x.mp3", faithful=True, resampler="soxr_hq")
    with pytest.raises(ValueError, match="crops must be"):
        tag("x.mp3", crops=0)
    with pytest.raises(ValueError, match="resampler must be"):
        tag("x.mp3", resampler="sinc")
    with pytest.raises(ValueError, match="batch_size"):
        tag("x.mp3", batch_size=0)
    with pytest.raises(ValueError, match="top_n"):
        tag("x.mp3", top_n=0)


def test_get_model_names_and_errors(crnn):
    assert get_model(runtime="tf") is crnn and get_model("CRNN", "tf") is crnn
    with pytest.raises(ValueError, match="'crnn', 'cnn' or a keras.Model"):
        get_model("vgg")
    with pytest.raises(ValueError, match="'crnn', 'cnn' or a keras.Model"):
        get_model(42)


def test_a_model_whose_output_does_not_fit_the_tags_is_refused(crnn):
    import keras

    features = keras.Model(crnn.inputs, crnn.get_layer("gru2").output)
    with pytest.raises(ValueError, match="outputs 32 values.*50 tags"):
        tag("x.mp3", model=features)


# --------------------------------------------------------------------------- faithful


@pytest.mark.reference
def test_faithful_tagging_of_the_mp3s_gives_the_published_top_tags(crnn, mp3s, published_scores):
    expected = published_scores
    results = tag(mp3s, model=crnn, faithful=True, top_n=10)
    worst = 0.0
    for clip, r in zip(CLIPS, results):
        assert r.ok and r.n_crops == 1
        published = expected[clip]
        for t, s in published:
            worst = max(worst, abs(float(r.scores[TAGS.index(t)]) - s))
        # same ten tags; the rank order agrees wherever the published scores differ
        assert {t for t, _ in r.top} == {t for t, _ in published}
        rank = {t: i for i, (t, _) in enumerate(r.top)}
        for (t1, s1), (t2, s2) in zip(published, published[1:]):
            if s1 > s2:
                assert rank[t1] < rank[t2], (clip, t1, t2)
    assert worst <= PUBLISHED_TOLERANCE, worst


@pytest.mark.reference
def test_faithful_equals_predict_on_compute_melgram(crnn, mp3s):
    # two files: one batch holds both, yet each equals its own single prediction, to the
    # float rounding of a batch of 8 against a batch of 1 (TensorFlow 2.21 on 2 cores:
    # up to 6e-8); the inputs themselves are the same bits
    results = tag(mp3s[:2], model=crnn, faithful=True, top_n=None)
    for path, r in zip(mp3s[:2], results):
        x = audio.compute_melgram(path)
        single = crnn.predict(x[None, ..., None], verbose=0)[0]
        np.testing.assert_allclose(r.scores, single, rtol=0, atol=1e-6)
        assert r.top == decode_predictions(r.scores[None], top_n=None)[0]


# --------------------------------------------------------------------------- default mode


@pytest.mark.reference
def test_default_mode_is_the_mean_over_evenly_spread_crops(crnn, mp3s):
    r = tag(mp3s[0], model=crnn, crops=2, top_n=5)[0]
    x = audio.compute_melgrams(mp3s[0], 2, resampler=tagging.FAST_RESAMPLER)
    per_crop = crnn.predict(x[..., None], verbose=0)
    assert r.n_crops == 2 and r.scores.shape == (50,) and r.scores.dtype == np.float32
    np.testing.assert_allclose(r.scores, per_crop.mean(axis=0), atol=1e-6)
    assert r.top == decode_predictions(r.scores[None], top_n=5)[0]
    assert r.to_dict() == {"path": mp3s[0], "tags": [list(p) for p in r.top], "error": None}


@pytest.mark.reference
def test_a_clips_scores_do_not_depend_on_the_rest_of_its_batch(crnn, mp3s):
    """Inference BatchNorm uses its moving statistics, not the batch's."""
    alone = tag(mp3s[2], model=crnn, crops=2, batch_size=2)[0].scores
    # with other files, a batch size that splits its crops over two batches, and
    # a batch that also holds silence and loud noise (extreme batch statistics)
    mixed = tag(mp3s[:3], model=crnn, crops=2, batch_size=3)[2].scores
    np.testing.assert_allclose(mixed, alone, atol=1e-6)
    x = audio.compute_melgrams(mp3s[2], 1, resampler=tagging.FAST_RESAMPLER)[..., None]
    extremes = np.stack([np.full_like(x[0], -80.0), np.random.default_rng(0).normal(0, 40, x[0].shape)])
    one = crnn.predict_on_batch(x)
    with_extremes = crnn.predict_on_batch(np.concatenate([extremes[:1], x, extremes[1:]]))
    np.testing.assert_allclose(with_extremes[1], one[0], atol=1e-6)


# --------------------------------------------------------------------------- errors


@pytest.mark.reference
def test_bad_files_give_error_entries_and_the_good_files_are_still_tagged(crnn, mp3s, bad_files):
    paths = [mp3s[0], *bad_files, mp3s[1]]
    results = tag(paths, model=crnn, crops=1, batch_size=1)
    assert [r.path for r in results] == paths
    good = [results[0], results[-1]]
    assert all(r.ok and r.scores.shape == (50,) and len(r.top) == 10 for r in good)
    alone = tag([mp3s[0], mp3s[1]], model=crnn, crops=1)
    for r, a in zip(good, alone):
        np.testing.assert_allclose(r.scores, a.scores, atol=1e-6)
    for r, path in zip(results[1:-1], bad_files):
        assert not r.ok and r.scores is None and r.top == [] and r.n_crops == 0
        assert path in r.error  # the message names the file
    assert "no such file" in results[1].error
    assert "no audio files" in results[4].error


def test_progress_bar_goes_to_stderr_only_when_asked(crnn, bad_files, capsys):
    tag(bad_files, model=crnn, progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "tagging:" in err and "/4 " in err
    tag(bad_files, model=crnn)  # progress=None: stderr is not a terminal under pytest
    out, err = capsys.readouterr()
    assert out == "" and err == ""


# --------------------------------------------------------------------------- other models


@pytest.mark.reference
def test_features_of_a_topless_model_through_predict_files(crnn, mp3s):
    import keras

    features = keras.Model(crnn.inputs, crnn.get_layer("gru2").output)
    ((out, n, error),) = predict_files([mp3s[0]], features, faithful=True)
    assert error is None and n == 1 and out.shape == (32,)
    x = audio.compute_melgram(mp3s[0])[None, ..., None]
    np.testing.assert_allclose(out, features.predict(x, verbose=0)[0], atol=1e-6)


@pytest.mark.reference
@pytest.mark.slow
def test_cnn_model_by_name(mp3s):
    r = tag(mp3s[0], model="cnn", crops=1, top_n=3)[0]
    assert r.ok and r.scores.shape == (50,) and len(r.top) == 3
    assert isinstance(r, TagResult)
