"""The feature cache: contents, failures, resuming, settings checks."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from music_tagger.datasets import cache
from music_tagger.datasets.mtt import read_mtt
from music_tagger.datasets.synth import TAGS, make_mtt_like

#: trains networks or prepares stores: left out of the contributor's `-m "not slow"` run
pytestmark = pytest.mark.slow

FRAMES = 64


@pytest.fixture(scope="session")
def small_mtt(tmp_path_factory) -> Path:
    """24 synthetic 3 s clips in the MagnaTagATune layout, one of them corrupt."""
    root = make_mtt_like(tmp_path_factory.mktemp("mtt_small"), n_clips=24, seed=1)
    dataset = read_mtt(root, top_n=len(TAGS))
    corrupt = Path(dataset.subset("train").paths[0])
    corrupt.write_bytes(b"this is not audio")
    return root


@pytest.fixture(scope="session")
def dataset(small_mtt):
    return read_mtt(small_mtt, top_n=len(TAGS))


@pytest.fixture(scope="session")
def prepared(dataset, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("features")
    with pytest.warns(UserWarning, match="1 clip.* could not be read"):
        return cache.prepare(dataset, out, frames=FRAMES, workers=2, progress=False)


def test_stores_hold_melgrams_labels_and_settings(dataset, prepared):
    train = dataset.subset("train")
    store = cache.load_store(prepared["train"])
    assert store.tags == list(train.tags) and store.split == "train"
    assert store.settings == cache.preprocessing_settings(FRAMES)
    assert store.ids == [str(i) for i in train.ids[1:]]  # the corrupt first clip is out
    np.testing.assert_array_equal(store.y, train.y[1:])
    x = cache.read_melgrams(prepared["train"], [2, 0])
    assert x.shape == (2, 96, FRAMES) and x.dtype == np.float32
    np.testing.assert_array_equal(x[1], cache.melgram(store.paths[0], FRAMES))
    np.testing.assert_array_equal(x[0], cache.melgram(store.paths[2], FRAMES))


def test_failures_are_recorded_and_excluded(dataset, prepared):
    store = cache.load_store(prepared["train"])
    [failure] = store.failures
    assert failure["path"] == dataset.subset("train").paths[0]
    # the one-line text every command gives for an unreadable file: it names the file
    assert failure["error"].startswith(failure["path"] + ": not an audio file")
    assert cache.load_store(prepared["test"]).failures == []


def test_full_length_melgram_is_the_faithful_one(dataset):
    path = dataset.subset("test").paths[0]
    from music_tagger.audio import compute_melgram

    np.testing.assert_array_equal(cache.melgram(path), compute_melgram(path))


def test_interrupted_prepare_resumes_without_recomputing(dataset, prepared, tmp_path, monkeypatch):
    real = cache.melgram
    calls = []

    def interrupted(path, frames, resampler):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(path)
        return real(path, frames, resampler)

    monkeypatch.setattr(cache, "melgram", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache.prepare(dataset, tmp_path, splits=["test"], frames=FRAMES, workers=0, progress=False)
    assert (tmp_path / "test.partial").is_dir()
    with pytest.raises(FileNotFoundError, match="interrupted prepare"):
        cache.load_store(cache.store_path(tmp_path, "test"))

    def counting(path, frames, resampler):
        calls.append(path)
        return real(path, frames, resampler)

    monkeypatch.setattr(cache, "melgram", counting)
    stores = cache.prepare(dataset, tmp_path, splits=["test"], frames=FRAMES, workers=0, progress=False)
    assert len(calls) == len(dataset.subset("test").paths)  # 3 before, the rest after
    assert not (tmp_path / "test.partial").exists()
    np.testing.assert_array_equal(cache.read_melgrams(stores["test"]), cache.read_melgrams(prepared["test"]))
    # a finished store is reused, not recomputed
    cache.prepare(dataset, tmp_path, splits=["test"], frames=FRAMES, workers=0, progress=False)
    assert len(calls) == len(dataset.subset("test").paths)


def test_existing_store_with_other_settings_is_refused(dataset, prepared):
    out = prepared["test"].parent
    with pytest.raises(FileExistsError, match="other settings"):
        cache.prepare(dataset, out, splits=["test"], frames=FRAMES + 1, progress=False)


def test_unknown_split_and_bad_frames_are_refused(dataset, tmp_path):
    with pytest.raises(ValueError, match="no split"):
        cache.prepare(dataset, tmp_path, splits=["dev"], progress=False)
    with pytest.raises(ValueError, match="frames"):
        cache.prepare(dataset, tmp_path, frames=1, progress=False)


def test_msd_settings_check():
    cache.check_msd_settings(cache.preprocessing_settings(resampler="soxr_hq"))
    with pytest.raises(ValueError, match="frames: 64, expected 1366"):
        cache.check_msd_settings(cache.preprocessing_settings(FRAMES))


def test_cache_module_does_not_import_tensorflow():
    code = "import sys, music_tagger.datasets.cache; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture(scope="module")
def long_tracks(tmp_path_factory) -> list[str]:
    """40 s tracks longer than one 29.12 s crop: an MP3 (decoded from its start) and a FLAC (seeked)."""
    from music_tagger.datasets.synth import write_track

    folder = tmp_path_factory.mktemp("long")
    return [
        str(write_track(folder / name, 40, sr, seed=i))
        for i, (name, sr) in enumerate([("a.mp3", 44100), ("b.flac", 22050)])
    ]


@pytest.mark.parametrize("frames", [64, 1366, 2000])
def test_melgram_reads_its_window_and_equals_the_whole_file_path(long_tracks, frames, monkeypatch):
    """The windowed read of prepare against log_melgram(center_crop(load_audio(...))): bit for
    bit with the 2016 resampler, whatever the window (2000 frames: two crops end to end, the
    second past the track's end and zero-padded); soxr resamples each window on its own and
    differs by float rounding only."""
    from music_tagger import audio

    n_keep = (frames - 1) * audio.HOP_LENGTH
    whole = {
        (path, resampler): audio.log_melgram(audio.center_crop(audio.load_audio(path, resampler=resampler), n_keep))
        for path in long_tracks
        for resampler in (audio.KAISER_BEST_2016, audio.SOXR_HQ)
    }
    monkeypatch.setattr(audio, "load_audio", lambda *a, **k: pytest.fail("the whole file decoded"))
    for (path, resampler), expected in whole.items():
        got = cache.melgram(path, frames, resampler)
        assert got.shape == (96, frames)
        if resampler == audio.KAISER_BEST_2016:
            np.testing.assert_array_equal(got, expected)
        else:
            assert np.abs(got - expected).max() <= 1e-4
