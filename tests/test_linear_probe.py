"""The linear probe: fitting, C chosen on validation, save/load, and the features + probe CLI."""

import json
import shutil

import numpy as np
import pytest
from sklearn.base import clone

from music_tagger.cli import main
from music_tagger.datasets import cache
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


@pytest.mark.slow
def test_cli_features_probe_and_tag(msd_stores, tmp_path, capsys):
    feats, out = tmp_path / "feats", tmp_path / "probe"
    stores = tmp_path / "stores"
    shutil.copytree(msd_stores, stores)
    test = cache.store_path(stores, "test")  # a convert-store killed mid-copy left this:
    (stores / "tmp-test.h5").write_bytes(test.read_bytes()[: test.stat().st_size // 2])
    assert main(["features", str(stores), "--out", str(feats), "--level", "top", "--quiet"]) == 0
    assert sorted(p.name for p in feats.glob("*.npy")) == ["test.npy", "train.npy", "valid.npy"]
    capsys.readouterr()
    x, rows, meta, y = read_features(feats / "train")
    train = cache.load_store(cache.store_path(msd_stores, "train"))
    assert x.shape == (train.n, 32) and rows == train.ids
    np.testing.assert_array_equal(y, train.y)
    assert meta["level"] == "top" and meta["tags"] == train.tags
    assert main(["probe", str(feats), str(out), "--Cs", "0.1,1"]) == 0
    printed = capsys.readouterr().out
    assert "C = " in printed
    # an earlier run's outputs are not replaced silently (refused before any work)
    before = (out / "probe.npz").read_bytes()
    for argv in (["features", str(stores), "--out", str(feats)], ["probe", str(feats), str(out)]):
        assert main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("music-tagger: error: ") and "exists: pass --overwrite" in err and "\n" not in err
    assert (out / "probe.npz").read_bytes() == before
    assert main(["probe", str(feats), str(out), "--Cs", "0.1,1", "--overwrite"]) == 0
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


def test_cli_an_unreadable_file_is_reported_and_the_others_kept(msd_stores, tmp_path, capsys):
    train = cache.load_store(cache.store_path(msd_stores, "train"))
    bad = tmp_path / "broken.mp3"
    bad.write_text("not audio")
    files = [train.paths[0], str(bad), train.paths[1]]
    assert main(["features", *files, "--out", str(tmp_path / "files"), "--level", "top", "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert f"music-tagger: error: {bad}" in err and "Traceback" not in err
    x, rows, _, _ = read_features(tmp_path / "files")
    assert rows == [train.paths[0], train.paths[1]] and x.shape == (2, 32) and np.all(np.isfinite(x))
    probe = LinearProbe(Cs=(1.0,), tags=["a", "b"], feature_meta={"arch": "crnn", "level": "top"})
    probe.fit(*_toy_features(32)).save(tmp_path / "probe")
    assert main(["probe", str(tmp_path / "probe"), "--tag", *files, "--top", "1"]) == 1
    out, err = capsys.readouterr()
    assert [line.split("\t")[0] for line in out.splitlines()] == rows  # the good files' results
    assert f"music-tagger: error: {bad}" in err and "Traceback" not in err


def _toy_features(dims, n=40):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, dims))
    return x, (x[:, :2] > 0).astype(int)


def test_two_stores_of_one_split_are_refused_before_any_feature(msd_stores, tmp_path, monkeypatch):
    from music_tagger.embeddings import extract
    from music_tagger.embeddings.files import write_input_features
    from music_tagger.errors import DataError

    monkeypatch.setattr(extract, "features", lambda *a, **k: pytest.fail("features computed"))
    stores = tmp_path / "stores"
    stores.mkdir()
    shutil.copy(cache.store_path(msd_stores, "test"), stores / "test.h5")
    shutil.copy(cache.store_path(msd_stores, "test"), stores / "again.h5")
    with pytest.raises(DataError, match=r"two stores in .* hold split 'test': both would write .*test\.npy"):
        write_input_features([stores], tmp_path / "feats")
    assert not (tmp_path / "feats").exists()


def test_an_earlier_store_output_is_refused_before_any_feature(msd_stores, tmp_path, monkeypatch):
    from music_tagger.embeddings import extract
    from music_tagger.embeddings.files import write_input_features
    from music_tagger.errors import OutputExistsError

    monkeypatch.setattr(extract, "features", lambda *a, **k: pytest.fail("features computed"))
    store = cache.store_path(msd_stores, "valid")
    (tmp_path / "valid.csv").write_text("earlier")
    with pytest.raises(OutputExistsError):  # one store: out is the prefix itself
        write_input_features([store], tmp_path / "valid")
    assert (tmp_path / "valid.csv").read_text() == "earlier"


def test_a_store_folder_gives_one_labelled_feature_file_per_split(msd_stores, tmp_path, monkeypatch):
    from music_tagger.embeddings import extract
    from music_tagger.embeddings.files import write_input_features

    calls = []

    def fake(inputs, **options):  # the network is tested elsewhere: here, what goes where
        calls.append((inputs, options["resampler"]))
        return np.arange(cache.load_store(inputs).n * 2, dtype=np.float32).reshape(-1, 2)

    monkeypatch.setattr(extract, "features", fake)
    written, failed = write_input_features([msd_stores], tmp_path / "feats", level="top")
    assert failed == [] and sorted(p.name for p in written if p.suffix == ".npy") == [
        "test.npy",
        "train.npy",
        "valid.npy",
    ]
    assert {resampler for _, resampler in calls} == {"soxr_hq"}  # each store keeps its own
    x, rows, meta, y = read_features(tmp_path / "feats" / "valid")
    valid = cache.load_store(cache.store_path(msd_stores, "valid"))
    assert rows == valid.ids and x.shape == (valid.n, 2)
    np.testing.assert_array_equal(y, valid.y)
    assert meta["crops"] == 1 and meta["resampler"] == "soxr_hq" and meta["store"].endswith("valid.h5")


def test_tag_with_probe_names_the_columns_and_puts_a_taught_tag_beside_the_msd_tags(monkeypatch):
    from types import SimpleNamespace

    from music_tagger import TAGS
    from music_tagger.embeddings.linear_probe import tag_with_probe
    from music_tagger.tagging import tagger

    failed = [("gone.mp3", "gone.mp3: no such file")]
    monkeypatch.setattr(
        LinearProbe, "tag_files", lambda self, paths: (np.full((2, 2), 0.5), ["a.mp3", "b.mp3"], failed)
    )
    monkeypatch.setattr(tagger, "tag", lambda *a, **k: pytest.fail("the MSD tagger ran for a probe not taught"))
    scores, tags, read, bad = tag_with_probe(LinearProbe(), ["a.mp3", "gone.mp3", "b.mp3"])
    assert tags == ["tag_0", "tag_1"] and scores.shape == (2, 2) and read == ["a.mp3", "b.mp3"] and bad == failed
    msd = [SimpleNamespace(scores=np.linspace(0, 1, len(TAGS)), error=None), SimpleNamespace(scores=None, error="x")]
    monkeypatch.setattr(tagger, "tag", lambda paths, top_n: msd)
    taught = LinearProbe(tags=["sine", "hum"], feature_meta={"taught": {"tag": "sine"}})
    scores, tags, read, _ = tag_with_probe(taught, ["a.mp3", "b.mp3"])
    assert tags == ["sine", "hum", *TAGS] and scores.shape == (2, 2 + len(TAGS))
    np.testing.assert_array_equal(scores[0, 2:], msd[0].scores)
    assert np.isnan(scores[1, 2:]).all()  # the tagger failed on that file: no MSD scores, the probe's kept
