"""The linear probe: fitting, C chosen on validation, save/load, and the features + probe CLI."""
import json

import numpy as np
import pytest
from sklearn.base import clone

from music_tagger.datasets import cache
from music_tagger.cli import main
from music_tagger.embeddings.files import read_features
from music_tagger.embeddings.linear_probe import LinearProbe, load_probe


def _toy(seed=0, n=120, noise=1.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    y = (x[:, :3] + noise * rng.normal(size=(n, 3)) > 0).astype(int)
    return x, y


def test_fit_choose_c_on_validation_and_predict():
    x, y = _toy()
    probe = LinearProbe(Cs=(1e-4, 1.0)).fit(x[:80], y[:80], x[80:], y[80:])
    assert set(probe.validation_) == {1e-4, 1.0}
    assert probe.C_ == max(probe.validation_, key=probe.validation_.get)
    assert probe.coef_.shape == (3, 6)
    proba = probe.predict_proba(x[80:])
    assert proba.shape == (40, 3) and np.all((proba > 0) & (proba < 1))
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y[80:, 0], proba[:, 0]) > 0.75  # the signal is there
    assert clone(probe).get_params()["Cs"] == (1e-4, 1.0)


def test_save_load_round_trip(tmp_path):
    x, y = _toy(1)
    probe = LinearProbe(tags=["a", "b", "c"], feature_meta={"arch": "crnn", "level": "top"})
    probe.fit(x[:80], y[:80], x[80:], y[80:])
    probe.save(tmp_path / "p")
    again = load_probe(tmp_path / "p")
    np.testing.assert_array_equal(again.predict_proba(x), probe.predict_proba(x))
    assert again.tags == ["a", "b", "c"] and again.C_ == probe.C_
    assert again.feature_meta == {"arch": "crnn", "level": "top"}
    with pytest.raises(FileNotFoundError, match="no probe"):
        load_probe(tmp_path / "missing")


def test_bad_inputs():
    x, y = _toy(2)
    with pytest.raises(ValueError, match="0 or 1"):
        LinearProbe().fit(x, y * 2)
    with pytest.raises(ValueError, match="label rows"):
        LinearProbe().fit(x, y[:10])
    with pytest.raises(ValueError, match="Cs"):
        LinearProbe(Cs=(0,)).fit(x, y)
    probe = LinearProbe(Cs=(1.0,)).fit(x, y)
    with pytest.raises(ValueError, match="4 features, but the probe was fitted on 6"):
        probe.predict_proba(x[:, :4])


def test_cli_features_probe_and_tag(msd_stores, tmp_path, capsys):
    feats, out = tmp_path / "feats", tmp_path / "probe"
    assert main(["features", str(msd_stores), "--out", str(feats), "--level", "top", "--quiet"]) == 0
    x, rows, meta, y = read_features(feats / "train")
    train = cache.load_store(cache.store_path(msd_stores, "train"))
    assert x.shape == (train.n, 32) and rows == train.ids
    np.testing.assert_array_equal(y, train.y)
    assert meta["level"] == "top" and meta["tags"] == train.tags
    assert main(["probe", str(feats), str(out), "--Cs", "0.1,1"]) == 0
    printed = capsys.readouterr().out
    assert "C = " in printed
    results = json.loads((out / "results-test.json").read_text())
    assert 0.0 <= results["roc_auc_macro"] <= 1.0
    # the saved probe tags audio files by computing the same features
    assert main(["probe", str(out), "--tag", train.paths[0], "--top", "2"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith(train.paths[0]) and len(line.split("\t")[1].split("  ")) == 2
    probe = load_probe(out)
    scores = probe.tag([train.paths[0]])
    assert scores.shape == (1, len(train.tags))
    # files, not stores: one row per file, the row index names them
    assert main(["features", train.paths[0], train.paths[1], "--out", str(tmp_path / "files"),
                 "--level", "top", "--quiet"]) == 0  # fmt: skip
    x, rows, _, y = read_features(tmp_path / "files")
    assert x.shape == (2, 32) and rows == train.paths[:2] and y is None
