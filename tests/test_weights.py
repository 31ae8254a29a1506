"""Resolving the original files and importing them, with clear errors when they are wrong."""

import shutil

import h5py
import keras
import numpy as np
import pytest

from music_tagger import registry
from music_tagger.errors import WeightsError
from music_tagger.models.builders import CRNN, build
from music_tagger.models.legacy import load_legacy_weights
from music_tagger.registry import get_file


def test_registry_lists_every_file_with_a_sha256():
    reg = registry.registry()
    entries = [
        e for section in ("weights", "examples", "spectrograms", "audio", "documents") for e in reg[section].values()
    ]
    assert len(entries) == 19
    for entry in entries:
        assert len(entry["sha256"]) == 64 and int(entry["sha256"], 16) >= 0
        assert entry["url"].startswith("https://") and entry["url"].endswith(entry["path"])
    assert len(registry.TAGS) == 50 and registry.TAGS[9] == "jazz"


def test_local_copy_is_found_and_checked(reference_data):
    assert get_file("weights", "crnn_msd_theano") == (reference_data / "music_tagger_crnn_weights_theano.h5")
    assert registry.example("bensound-cute").name == "bensound-cute.mp3"
    with pytest.raises(WeightsError, match="unknown example"):
        registry.example("bensound-nope")


def _fake_dir(tmp_path, monkeypatch, name, content: bytes):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / name).write_bytes(content)
    monkeypatch.setenv(registry.ENV_DIR, str(tmp_path))


def test_corrupt_local_copy_is_refused(reference_data, tmp_path, monkeypatch):
    name = "music_tagger_crnn_weights_theano.h5"
    _fake_dir(tmp_path, monkeypatch, name, (reference_data / name).read_bytes()[:100_000])
    with pytest.raises(WeightsError, match="sha256.*corrupt"):
        get_file("weights", "crnn_msd_theano")


def test_offline_without_local_copy_says_how_to_provide_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv(registry.ENV_DIR, str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.utils, "get_file", offline)  # never download in tests
    with pytest.raises(WeightsError, match=f"set {registry.ENV_DIR}.*music_tagger_crnn"):
        CRNN(weights="msd")


def test_truncated_or_non_hdf5_file_is_named(reference_data, tmp_path):
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes((reference_data / "music_tagger_crnn_weights_theano.h5").read_bytes()[:5000])
    text = tmp_path / "notes.h5"
    text.write_text("not weights")
    model = build("crnn")
    for path in (truncated, text):
        with pytest.raises(WeightsError, match=f"{path.name}.*not a readable HDF5"):
            load_legacy_weights(model, path)
    with pytest.raises(WeightsError, match="not found"):
        load_legacy_weights(model, tmp_path / "missing.h5")


def test_mismatched_file_names_layer_and_shapes(reference_data):
    cnn_file = reference_data / "music_tagger_cnn_weights_theano.h5"
    with pytest.raises(WeightsError, match=r"layer 'bn_0_freq' expects.*1440.*gives.*1366"):
        load_legacy_weights(build("crnn"), cnn_file)


def test_missing_layer_is_named(reference_data, tmp_path):
    path = tmp_path / "no_gru2.h5"
    shutil.copy(reference_data / "music_tagger_crnn_weights_theano.h5", path)
    with h5py.File(path, "r+") as f:
        names = [n for n in f.attrs["layer_names"] if n != b"gru2"]
        f.attrs["layer_names"] = np.array(names)
        del f["gru2"]
    with pytest.raises(WeightsError, match="no weights for layer 'gru2'"):
        load_legacy_weights(build("crnn"), path)


@pytest.mark.slow
def test_weights_from_a_path(reference_data, tmp_path):
    legacy_path = reference_data / "music_tagger_crnn_weights_tensorflow.h5"
    x = np.random.default_rng(0).normal(-20, 10, (2, 96, 1366, 1)).astype("float32")
    from_path = CRNN(weights=legacy_path)
    expected = CRNN(weights="msd").predict(x, verbose=0)
    np.testing.assert_allclose(from_path.predict(x, verbose=0), expected, atol=1e-5)
    keras3 = tmp_path / "crnn.weights.h5"
    from_path.save_weights(keras3)
    np.testing.assert_allclose(CRNN(weights=keras3).predict(x, verbose=0), expected, atol=1e-5)
