"""Teaching a tag: fit from a few files, the per-file feature cache, one-line refusals, the CLI."""

import json
import os

import numpy as np
import pytest
import soundfile as sf

from music_tagger.cli import main
from music_tagger.embeddings import extract
from music_tagger.embeddings.few_shot import cached_features, score, teach
from music_tagger.embeddings.linear_probe import load_probe
from music_tagger.errors import AudioError, ParameterError

SR = 12000


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """Five tones (the tag) and five noises (not it), 10 s each, plus a cache folder."""
    root = tmp_path_factory.mktemp("library")
    rng = np.random.default_rng(0)
    t = np.arange(SR * 10) / SR
    tones, noises = [], []
    for i in range(5):
        tones.append(root / f"tone{i}.wav")
        sf.write(tones[-1], (0.3 * np.sin(2 * np.pi * 180 * (i + 1) * t)).astype("float32"), SR)
        noises.append(root / f"noise{i}.wav")
        sf.write(noises[-1], (0.1 * rng.normal(size=t.size)).astype("float32"), SR)
    return root, [str(p) for p in tones], [str(p) for p in noises]


def _no_forward_pass(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a forward pass was run although every file is cached")

    monkeypatch.setattr(extract, "file_features", refuse)


def test_a_taught_tag_ranks_held_out_files_and_a_second_teaching_needs_no_forward_pass(library, tmp_path, monkeypatch):
    root, tones, noises = library
    cache = tmp_path / "cache"
    probe = teach("sine", tones[:3], noises[:3], cache_dir=cache)
    assert probe.tags == ["sine"] and probe.feature_meta["taught"]["positives"] == tones[:3]
    scores, read, failed = score(probe, [root], cache_dir=cache)
    assert failed == [] and sorted(read) == sorted(tones + noises)
    held = {p: s for p, s in zip(read, scores[:, 0]) if p in (tones[3:] + noises[3:])}
    assert min(held[p] for p in tones[3:]) > max(held[p] for p in noises[3:])
    # saved and loaded as any probe, same scores
    probe.save(tmp_path / "probe")
    again = load_probe(tmp_path / "probe")
    np.testing.assert_allclose(score(again, [root], cache_dir=cache)[0], scores)
    # everything is cached now: teaching again and scoring run no network
    _no_forward_pass(monkeypatch)
    other = teach("sine", tones[1:4], noises[1:4], cache_dir=cache)
    assert score(other, [root], cache_dir=cache)[0].shape == (10, 1)


def test_an_edited_or_damaged_file_is_computed_again(library, tmp_path):
    root, tones, noises = library
    cache = tmp_path / "cache"
    first, _, _ = cached_features(tones[:2], cache_dir=cache)
    entries = sorted(cache.rglob("*.npy"))
    assert len(entries) == 2
    entries[0].write_bytes(b"garbage")  # damaged: recomputed, same row
    again, _, _ = cached_features(tones[:2], cache_dir=cache)
    # computed alone, not beside the other file: Keras' oneDNN kernels differ by up to 4e-6
    np.testing.assert_allclose(again, first, rtol=1e-5, atol=1e-5)
    edited = tmp_path / "edited.wav"
    sf.write(edited, sf.read(tones[0])[0].astype("float32"), SR)
    row, _, _ = cached_features([edited], cache_dir=cache)
    sf.write(edited, sf.read(noises[0])[0].astype("float32"), SR)
    os.utime(edited, ns=(1, 1))  # another content under the same name: its own entry
    changed, _, _ = cached_features([edited], cache_dir=cache)
    assert not np.allclose(changed, row)


def test_bad_teaching_inputs_are_refused_with_one_line(library, tmp_path):
    root, tones, noises = library
    bad = tmp_path / "broken.wav"
    bad.write_text("not audio")
    cases = [
        (dict(tag="sine", positives=[], negatives=noises), ParameterError, "no positive"),
        (dict(tag="sine", positives=tones, negatives=[]), ParameterError, "no negative"),
        (dict(tag="sine", positives=tones, negatives=noises[:1] + tones[:1]), ParameterError, "both a positive"),
        (dict(tag="sine", positives=tones[:2], negatives=noises), ParameterError, "at least 3 files on each side"),
        (dict(tag="Jazz", positives=tones, negatives=noises), ParameterError, "shadows the MSD tag 'jazz'"),
        (dict(tag=" ", positives=tones, negatives=noises), ParameterError, "non-empty"),
        (dict(tag="sine", positives=tones[:3] + [str(bad)], negatives=noises), AudioError, "broken.wav"),
    ]
    for kwargs, error, match in cases:
        with pytest.raises(error, match=match) as info:
            teach(**kwargs, cache_dir=tmp_path / "cache")
        assert "\n" not in str(info.value)


def test_cli_teach_saves_scores_best_first_and_refuses_bad_input(library, tmp_path, capsys):
    root, tones, noises = library
    out, cache = tmp_path / "probe", str(tmp_path / "cache")
    argv = ["teach", "sine", "--yes", *tones[:3], "--no", *noises[:3], "-o", str(out), "--cache", cache, "--quiet"]
    assert main(argv + ["--score", str(root), str(tmp_path / "missing.wav")]) == 1
    printed, err = capsys.readouterr()
    lines = [line.split("\t") for line in printed.splitlines()]
    assert len(lines) == 10 and [float(s) for s, _ in lines] == sorted((float(s) for s, _ in lines), reverse=True)
    assert {p for _, p in lines[:5]} == set(tones)  # the tones first, held-out ones included
    assert "taught from 3 positive and 3 negative files" in err and "missing.wav: no such file" in err
    assert json.loads((out / "probe.json").read_text())["tags"] == ["sine"]
    # probe --tag shows the taught tag beside the default tagger's 50 MSD tags
    assert main(["probe", str(out), "--tag", tones[4], noises[4], "--top", "51"]) == 0
    tagged = {}
    for line in capsys.readouterr().out.splitlines():
        path, cells = line.split("\t")
        tagged[path] = {t: float(v) for t, v in (c.rsplit(" ", 1) for c in cells.split("  "))}
    assert len(tagged[tones[4]]) == 51 and {"sine", "jazz", "heavy metal"} <= set(tagged[tones[4]])
    assert tagged[tones[4]]["sine"] > tagged[noises[4]]["sine"]
    assert list(tagged[tones[4]].values()) == sorted(tagged[tones[4]].values(), reverse=True)
    # an existing probe is not replaced silently; bad input is one line, exit 1
    before = (out / "probe.npz").read_bytes()
    for extra, match in [([], "exists: pass --overwrite"),
                         (["--overwrite", "--no", tones[0]], "both a positive"),
                         (["--overwrite", "--yes", tones[0]], "at least 3 files")]:  # fmt: skip
        args = argv[:2] + ["--yes", *tones[:3], "--no", *noises[:3]] + extra + argv[-5:]
        assert main(args) == 1, extra
        err = capsys.readouterr().err.strip()
        assert err.startswith("music-tagger: error: ") and match in err and "\n" not in err
    assert (out / "probe.npz").read_bytes() == before
    assert main(["teach", "metal", "--yes", *tones[:3], "--no", *noises[:3], "--cache", cache]) == 1
    assert "shadows the MSD tag 'metal'" in capsys.readouterr().err
    assert main(["teach", "sine", "--yes", *tones[:3], "--no", *noises[:3], "--cache", cache, "-o", tones[4]]) == 1
    err = capsys.readouterr().err.strip()
    assert "cannot write the taught probe" in err and "a file is there" in err and "\n" not in err


def test_a_run_stopped_midway_keeps_the_features_it_finished(library, tmp_path, monkeypatch):
    from music_tagger.embeddings import feature_cache

    _, tones, _ = library
    real, calls = extract.file_features, []

    def stop_on_second_chunk(paths, **options):
        calls.append(list(paths))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(paths, **options)

    monkeypatch.setattr(feature_cache, "CHUNK", 2)
    monkeypatch.setattr(extract, "file_features", stop_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        cached_features(tones[:4], cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 2  # the first chunk, complete
    monkeypatch.setattr(extract, "file_features", real)
    x, read, _ = cached_features(tones[:4], cache_dir=tmp_path / "cache")
    assert read == tones[:4] and x.shape[0] == 4 and len(list((tmp_path / "cache").rglob("*.npy"))) == 4


def test_onnx_features_equal_the_keras_ones_and_teach_on_them(library, tmp_path):
    """The server's features (onnxruntime, no TensorFlow) are the Keras network's: within
    1e-4 of the largest value (measured: 6e-7 of it on these files, 1e-6 on random melgrams)."""
    root, tones, noises = library
    files = tones[:2] + noises[:2]
    onnx, read, failed = cached_features(files, cache_dir=tmp_path / "cache", runtime="onnx")
    assert read == files and failed == [] and onnx.shape == (4, 480)
    keras, _, _ = cached_features(files, cache_dir=tmp_path / "cache")
    scale = np.abs(keras).max()
    np.testing.assert_allclose(onnx, keras, rtol=0, atol=1e-4 * scale)
    probe = teach("sine", tones[:3], noises[:3], cache_dir=tmp_path / "cache", runtime="onnx")
    assert probe.feature_meta["runtime"] == "onnx"
    scores, read, _ = score(probe, [root], cache_dir=tmp_path / "cache")
    held = dict(zip(read, scores[:, 0]))
    assert min(held[p] for p in tones[3:]) > max(held[p] for p in noises[3:])


def test_teach_and_save_checks_the_folder_before_any_feature_and_names_a_failed_write(library, tmp_path, monkeypatch):
    from music_tagger.embeddings import few_shot
    from music_tagger.embeddings.few_shot import teach_and_save
    from music_tagger.errors import DataError, OutputExistsError

    _, tones, noises = library
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "probe.npz").write_bytes(b"an earlier probe")
    monkeypatch.setattr(few_shot, "teach", lambda *a, **k: pytest.fail("features computed"))
    with pytest.raises(OutputExistsError):
        teach_and_save("tonal", tones, noises, tmp_path / "old")

    class Unsaveable:  # what the checks cannot foresee: the disk fills while saving
        def save(self, folder):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(few_shot, "teach", lambda *a, **k: Unsaveable())
    with pytest.raises(DataError, match=r"^cannot write the taught probe .*new: No space left on device$"):
        teach_and_save("tonal", tones, noises, tmp_path / "new")
    monkeypatch.chdir(tmp_path)
    probe = Unsaveable()
    monkeypatch.setattr(Unsaveable, "save", lambda self, folder: None)
    monkeypatch.setattr(few_shot, "teach", lambda *a, **k: probe)
    assert teach_and_save("Lo-fi / tape!", tones, noises) == (probe, "probes/Lo-fi-tape")


def test_cli_teach_on_onnx_keeps_the_runtime_in_the_probe(library, tmp_path, capsys):
    """``teach --runtime onnx`` computes the features on onnxruntime (cached apart from
    the Keras ones) and saves a probe that scores with them; a bad runtime is refused."""
    root, tones, noises = library
    out, cache = tmp_path / "probe", tmp_path / "cache"
    argv = ["teach", "sine", "--yes", *tones[:3], "--no", *noises[:3], "-o", str(out), "--cache", str(cache)]
    assert main(argv + ["--quiet", "--runtime", "onnx", "--score", *tones[3:], *noises[3:]]) == 0
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert {p for _, p in lines[:2]} == set(tones[3:])
    assert json.loads((out / "probe.json").read_text())["feature_meta"]["runtime"] == "onnx"
    assert [p.name for p in cache.iterdir()] == ["crnn-multi-None-1-kaiser_best_2016-onnx"]
    expected, read, _ = score(load_probe(out), tones[3:] + noises[3:], cache_dir=cache)
    assert [float(s) for s, _ in lines] == pytest.approx(sorted(np.round(expected[:, 0], 4), reverse=True), abs=1e-9)
    assert main(argv + ["--runtime", "jax"]) == 2
    assert "invalid choice: 'jax'" in capsys.readouterr().err


def test_tag_ranks_a_taught_tag_beside_the_msd_tags(library, tmp_path, capsys, monkeypatch):
    """``tag --probe``: the taught tag's score, the one :func:`score` gives, is ranked among
    the --top MSD tags of each record; a missing or garbage probe is refused in one line."""
    root, tones, noises = library
    monkeypatch.setenv("MUSIC_TAGGER_FEATURE_CACHE", str(tmp_path / "cache"))
    probe = teach("sine", tones[:3], noises[:3])
    probe.save(tmp_path / "probe")
    files = [tones[4], noises[4]]
    assert main(["tag", *files, "--probe", str(tmp_path / "probe"), "--top", "3", "--format", "jsonl"]) == 0
    records = {r["path"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    expected, read, _ = score(probe, files)
    for path, value in zip(read, expected[:, 0]):
        tags = dict(records[path]["tags"])
        assert len(tags) == 4 and tags["sine"] == pytest.approx(float(value), rel=1e-6)
        assert [s for _, s in records[path]["tags"]] == sorted(tags.values(), reverse=True)
    assert dict(records[tones[4]]["tags"])["sine"] > dict(records[noises[4]]["tags"])["sine"]
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "probe.json").write_text("not json")
    for folder, match in [("missing", "no probe in"), ("garbage", "probe.json")]:
        assert main(["tag", *files, "--probe", str(tmp_path / folder)]) == 1
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("music-tagger: error: ") and match in err
        assert err.count("\n") == 1, err


def test_a_resumed_tag_probe_features_only_the_files_left(library, tmp_path, capsys, monkeypatch):
    """``tag --probe --output F --resume`` computes the taught features of the files still
    to tag, not of those already in F; every record holds the taught tag."""
    root, tones, noises = library
    monkeypatch.setenv("MUSIC_TAGGER_FEATURE_CACHE", str(tmp_path / "cache"))
    teach("sine", tones[:3], noises[:3]).save(tmp_path / "probe")
    out = tmp_path / "out.jsonl"
    argv = ["tag", "--probe", str(tmp_path / "probe"), "--output", str(out)]
    assert main([*argv, tones[4]]) == 0
    monkeypatch.setenv("MUSIC_TAGGER_FEATURE_CACHE", str(tmp_path / "empty-cache"))  # any file featured is seen
    seen, real = [], extract.file_features
    monkeypatch.setattr(extract, "file_features", lambda paths, **options: seen.extend(paths) or real(paths, **options))
    assert main([*argv, tones[4], noises[4], "--resume"]) == 0
    assert seen == [noises[4]]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["path"] for r in records] == [tones[4], noises[4]]
    assert all("sine" in dict(r["tags"]) for r in records)
