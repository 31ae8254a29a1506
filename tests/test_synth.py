"""Tests for music_tagger.datasets.synth: layout, labels, determinism and audio that fits the tags."""

import csv

import numpy as np
import pytest
import soundfile as sf

from music_tagger.datasets.synth import DECOY_TAGS, SPLIT_FOLDERS, TAGS, make_mtt_like

N_CLIPS = 40
SR = 12000


def _read_annotations(root):
    with open(root / "annotations_final.csv", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    header, body = rows[0], rows[1:]
    columns = header[1:-1]
    return header, [
        {
            "clip_id": r[0],
            "tags": {c for c, v in zip(columns, r[1:-1]) if v == "1"},
            "mp3_path": r[-1],
        }
        for r in body
    ]


def _split_of(mp3_path):
    return next(s for s, folders in SPLIT_FOLDERS.items() if mp3_path[0] in folders)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("mtt_like")
    make_mtt_like(root, n_clips=N_CLIPS, duration=2.0, sr=SR, seed=7)
    return root


def test_layout_is_magnatagatune(made):
    root = made
    text = (root / "annotations_final.csv").read_text()
    assert text.startswith('"clip_id"\t')
    header, rows = _read_annotations(root)
    assert header[-1] == "mp3_path"
    assert sorted(header[1:-1]) == sorted(TAGS + DECOY_TAGS)
    assert header[1:-1] != TAGS + DECOY_TAGS  # decoys interleaved, not appended
    assert len(rows) == N_CLIPS
    assert len({r["clip_id"] for r in rows}) == N_CLIPS
    for r in rows:
        folder, name = r["mp3_path"].split("/")
        assert folder in "0123456789abcdef" and name.endswith(".mp3")
        assert (root / r["mp3_path"]).is_file()
    assert {p.name for p in root.iterdir() if p.is_dir()} <= set("0123456789abcdef")


def test_every_tag_in_every_conventional_split(made):
    _, rows = _read_annotations(made)
    for split in ("train", "valid", "test"):
        in_split = [r for r in rows if _split_of(r["mp3_path"]) == split]
        present = set().union(*(r["tags"] for r in in_split))
        assert set(TAGS) <= present, (split, set(TAGS) - present)


def test_tags_are_consistent_and_decoys_rare(made):
    _, rows = _read_annotations(made)
    for r in rows:
        tags = r["tags"]
        assert len(tags & {"guitar", "organ", "noisy"}) == 1
        assert ("tonal" in tags) == ("noisy" not in tags)
        assert "chord" not in tags or "tonal" in tags
        for pair in (("low", "high"), ("fast", "slow"), ("loud", "quiet")):
            assert len(tags & set(pair)) == 1
    counts = {t: sum(t in r["tags"] for r in rows) for t in TAGS + DECOY_TAGS}
    assert min(counts[t] for t in TAGS) > max(counts[t] for t in DECOY_TAGS)


def test_mp3_reads_back(made):
    root = made
    _, rows = _read_annotations(root)
    audio, sr = sf.read(root / rows[0]["mp3_path"], dtype="float32")
    assert sr == SR
    assert audio.ndim == 1 and abs(len(audio) - 2 * SR) < 0.05 * SR
    assert 0.01 < np.abs(audio).max() <= 1.0


def _features(root, row):
    audio, sr = sf.read(root / row["mp3_path"], dtype="float64")
    spectrum = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / sr)
    frames = audio[: len(audio) // 256 * 256].reshape(-1, 256) * np.hanning(256)
    log_spec = np.log(np.abs(np.fft.rfft(frames, axis=1)) + 1e-3)
    flux = np.maximum(0, np.diff(log_spec, axis=0)).mean(axis=1)  # spectral flux
    peaks = (flux[1:-1] > flux[:-2]) & (flux[1:-1] >= flux[2:]) & (flux[1:-1] > flux.max() / 2)
    return {
        "rms": np.sqrt(np.mean(audio**2)),
        "median_freq": freqs[np.searchsorted(np.cumsum(spectrum), spectrum.sum() / 2)],
        "onsets": int(peaks.sum()),
    }


def test_audio_follows_the_tags(made):
    root, rows = made, _read_annotations(made)[1]
    feats = [(r["tags"], _features(root, r)) for r in rows]

    def values(key, tag, where=lambda tags: True):
        return [f[key] for tags, f in feats if tag in tags and where(tags)]

    assert max(values("rms", "quiet")) < min(values("rms", "loud"))
    steady = lambda tags: "percussive" not in tags  # noqa: E731
    assert np.median(values("median_freq", "low", steady)) * 4 < np.median(values("median_freq", "high", steady))
    assert np.mean(values("onsets", "fast")) > 2 * np.mean(values("onsets", "slow"))


def test_deterministic_given_seed(made, tmp_path):
    root = made
    again = make_mtt_like(tmp_path / "again", n_clips=N_CLIPS, duration=2.0, sr=SR, seed=7)
    assert again == tmp_path / "again"
    assert (again / "annotations_final.csv").read_text() == (root / "annotations_final.csv").read_text()
    _, rows = _read_annotations(root)
    for r in rows[:5]:
        assert (again / r["mp3_path"]).read_bytes() == (root / r["mp3_path"]).read_bytes()

    other = make_mtt_like(tmp_path / "other", n_clips=N_CLIPS, duration=2.0, sr=SR, seed=8)
    assert (other / "annotations_final.csv").read_text() != (root / "annotations_final.csv").read_text()


def test_refuses_to_overwrite_unless_asked(tmp_path):
    make_mtt_like(tmp_path, n_clips=12, duration=0.5)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        make_mtt_like(tmp_path, n_clips=12, duration=0.5)
    make_mtt_like(tmp_path, n_clips=12, duration=0.5, seed=1, overwrite=True)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_clips": 11}, "n_clips must be an integer >= 12"),
        ({"n_clips": 20.5}, "n_clips"),
        ({"sr": 12000.0}, "sr must be a positive integer"),
        ({"duration": 0}, "duration must be > 0"),
        ({"sr": -1}, "sr must be a positive integer"),
    ],
)
def test_invalid_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_mtt_like(tmp_path, **kwargs)
