"""Bad inputs end in one line naming the problem (exit 1, or 2 for usage), never a traceback.

Each row is a case a hostile but realistic user tried: a number that is not finite,
a thresholds file of the wrong shape, a damaged store, feature file, probe or run
state, labelled data without examples, an output that cannot be written. The CLI
rows run ``music-tagger`` in this process and check its exit status and stderr;
none of them needs TensorFlow (each fails before a model is built).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile as sf

from music_tagger import cli, tag
from music_tagger.datasets import cache
from music_tagger.embeddings.files import write_features
from music_tagger.errors import DataError, ParameterError
from music_tagger.tagging.taggram import Taggram
from music_tagger.tagging.thresholds import load_thresholds

TAGGRAM = {"tags": ["rock", "pop"], "start": [0.0, 5.0], "end": [29.1, 30.0], "scores": [[0.1, 0.2], [0.3, 0.4]]}


def _store(path: Path, frames: int = 1366) -> None:
    """A feature store of two clips, as prepare writes it."""
    with h5py.File(path, "w") as f:
        f.create_dataset("melgrams", data=np.zeros((2, 96, frames), np.float32))
        f.create_dataset("y", data=np.array([[1, 0], [0, 1]], np.uint8))
        f.create_dataset("ids", data=["a", "b"], dtype=h5py.string_dtype())
        f.create_dataset("paths", data=["a.mp3", "b.mp3"], dtype=h5py.string_dtype())
        f.attrs["tags"] = json.dumps(["rock", "pop"])
        f.attrs["settings"] = json.dumps(cache.preprocessing_settings(frames))
        f.attrs["failures"] = "[]"
        f.attrs["split"] = "valid"
        f.attrs["format_version"] = cache.FORMAT_VERSION


def _features(folder: Path, rng) -> None:
    for split in ("train", "valid", "test"):
        x = rng.standard_normal((20, 4)).astype(np.float32)
        y = (rng.random((20, 2)) > 0.5).astype(np.uint8)
        write_features(folder / split, x, [str(i) for i in range(20)], {"arch": "crnn"}, y=y, tags=["rock", "pop"])


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    """A folder of every damaged input the table below names."""
    root = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    sf.write(root / "a.wav", 0.1 * rng.standard_normal(12000 * 3), 12000)
    noise = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    (root / "random.bin").write_bytes(noise)
    thresholds = {
        "abc": {"rock": "abc"}, "null": {"rock": None}, "list": {"rock": [0.2]},
        "nokey": {"rock": {"f1": 0.2}}, "big": {"rock": 1.5}, "neg": {"rock": -0.1},
        "bool": {"rock": True},
    }  # fmt: skip
    for name, values in thresholds.items():
        (root / f"thr-{name}.json").write_text(json.dumps({"thresholds": values}))
    (root / "thr-nan.json").write_text('{"thresholds": {"rock": NaN}}')
    (root / "thr-inf.json").write_text('{"thresholds": {"rock": Infinity}}')
    (root / "thr-array.json").write_text("[0.1]")
    _store(root / "good.h5")
    data = (root / "good.h5").read_bytes()
    (root / "trunc.h5").write_bytes(data[: len(data) // 3])
    (root / "random.h5").write_bytes(noise)
    (root / "stores_trunc").mkdir()
    shutil.copy(root / "trunc.h5", root / "stores_trunc" / "valid.h5")
    for name in ("feats_npy", "feats_json", "feats_jsonlist", "feats_ok"):
        _features(root / name, rng)
    (root / "feats_npy" / "train.npy").write_bytes(noise)
    (root / "feats_json" / "train.json").write_text("{not json")
    (root / "feats_jsonlist" / "train.json").write_text("[1, 2]")
    shape = dict(TAGGRAM, scores=[[0.1, 0.2, 0.3]])
    no_tags = {k: v for k, v in TAGGRAM.items() if k != "tags"}
    for name, taggram in {"shape": shape, "notags": no_tags, "string": "abc"}.items():
        (root / f"rec-{name}.jsonl").write_text(
            json.dumps({"path": "x.wav", "tags": [], "error": None, "taggram": taggram}) + "\n"
        )
    (root / "header.csv").write_text("path,tags,split\n")
    (root / "labels.csv").write_text("path,tags,split\na.wav,rock,valid\n")
    (root / "run_state").mkdir()
    (root / "run_state" / "state.json").write_text("{broken")
    (root / "run_state_list").mkdir()
    (root / "run_state_list" / "state.json").write_text("[]")
    (root / "run_state_partial").mkdir()
    (root / "run_state_partial" / "state.json").write_text('{"config": {}}')
    (root / "stores16").mkdir()
    _store(root / "stores16" / "train.h5", 16)
    _store(root / "stores16" / "valid.h5", 16)
    (root / "probe_json").mkdir()
    (root / "probe_json" / "probe.json").write_text("{oops")
    (root / "probe_npz").mkdir()
    info = {"format": "music_tagger.linear_probe/1", "Cs": [1], "max_iter": 10, "tags": ["a"],
            "feature_meta": {}, "C": 1, "validation_roc_auc": {}}  # fmt: skip
    (root / "probe_npz" / "probe.json").write_text(json.dumps(info))
    (root / "probe_npz" / "probe.npz").write_bytes(noise)
    return root


# (argv, exit status, words the error line must hold)
CLI_CASES = {
    "hop inf": (["tag", "a.wav", "--hop", "inf"], 2, "--hop"),
    "hop nan": (["tag", "a.wav", "--hop", "nan"], 2, "--hop"),
    "hop abc": (["tag", "a.wav", "--hop", "abc"], 2, "--hop"),
    "hop 0": (["tag", "a.wav", "--hop", "0"], 2, "--hop"),
    "workers -1": (["tag", "a.wav", "--workers", "-1"], 2, "--workers"),
    "threshold 'abc'": (["tag", "a.wav", "--thresholds", "thr-abc.json"], 1, "'abc'"),
    "threshold null": (["tag", "a.wav", "--thresholds", "thr-null.json"], 1, "None"),
    "threshold a list": (["tag", "a.wav", "--thresholds", "thr-list.json"], 1, "[0.2]"),
    "threshold key missing": (["tag", "a.wav", "--thresholds", "thr-nokey.json"], 1, '"threshold"'),
    "threshold 1.5": (["tag", "a.wav", "--thresholds", "thr-big.json"], 1, "[0, 1]"),
    "threshold -0.1": (["tag", "a.wav", "--thresholds", "thr-neg.json"], 1, "[0, 1]"),
    "threshold NaN": (["tag", "a.wav", "--thresholds", "thr-nan.json"], 1, "nan"),
    "threshold Infinity": (["tag", "a.wav", "--thresholds", "thr-inf.json"], 1, "inf"),
    "threshold true": (["tag", "a.wav", "--thresholds", "thr-bool.json"], 1, "True"),
    "thresholds an array": (["tag", "a.wav", "--thresholds", "thr-array.json"], 1, "array"),
    "thresholds random bytes": (["tag", "a.wav", "--thresholds", "random.bin"], 1, "UTF-8"),
    "plot taggram shape": (["plot", "rec-shape.jsonl", "--out", "pngs"], 1, "(1, 3)"),
    "plot taggram without tags": (["plot", "rec-notags.jsonl", "--out", "pngs"], 1, "tags"),
    "plot taggram a string": (["plot", "rec-string.jsonl", "--out", "pngs"], 1, "taggram"),
    "calibrate truncated h5": (["calibrate", "trunc.h5", "--out", "t.json"], 1, "truncated"),
    "calibrate random h5": (["calibrate", "random.h5", "--out", "t.json"], 1, "not an HDF5"),
    "calibrate header-only csv": (["calibrate", "header.csv", "--out", "t.json"], 1, "no labelled"),
    "calibrate empty split": (["calibrate", "labels.csv", "--split", "test", "--out", "t.json"], 1, "'test'"),
    "calibrate out in missing folder": (["calibrate", "labels.csv", "--out", "nowhere/t.json"], 1, "nowhere"),
    "calibrate out a folder": (["calibrate", "labels.csv", "--out", "feats_ok"], 1, "folder"),
    "features truncated h5": (["features", "trunc.h5", "--out", "f1"], 1, "truncated"),
    "features random h5": (["features", "random.h5", "--out", "f2"], 1, "not an HDF5"),
    "features folder of a truncated store": (["features", "stores_trunc", "--out", "f3"], 1, "truncated"),
    "convert-store truncated": (["convert-store", "trunc.h5"], 1, "truncated"),
    "convert-store random": (["convert-store", "random.h5"], 1, "not an HDF5"),
    "probe garbage npy": (["probe", "feats_npy", "p1"], 1, "train.npy"),
    "probe bad train.json": (["probe", "feats_json", "p2"], 1, "invalid JSON"),
    "probe train.json an array": (["probe", "feats_jsonlist", "p3"], 1, "array"),
    "probe Cs nan": (["probe", "feats_ok", "p4", "--Cs", "nan"], 2, "--Cs"),
    "probe Cs inf": (["probe", "feats_ok", "p5", "--Cs", "1,inf"], 2, "--Cs"),
    "probe tag corrupt probe.json": (["probe", "probe_json", "--tag", "a.wav"], 1, "probe.json"),
    "probe tag corrupt probe.npz": (["probe", "probe_npz", "--tag", "a.wav"], 1, "probe.npz"),
    "train resume corrupt state.json": (
        ["train", "stores16", "run_state", "--resume", "--epochs", "1"],
        1,
        "state.json",
    ),
    "train resume state.json an array": (
        ["train", "stores16", "run_state_list", "--resume", "--epochs", "1"],
        1,
        "state.json",
    ),
    "train resume state.json partial": (
        ["train", "stores16", "run_state_partial", "--resume", "--epochs", "1"],
        1,
        "state.json",
    ),
}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_a_bad_input_is_one_line(hostile, monkeypatch, capsys, case):
    argv, status, words = CLI_CASES[case]
    monkeypatch.chdir(hostile)
    assert cli.main(argv) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("usage:", " "))]
    assert len(lines) == 1, err
    assert "error:" in lines[0] and words in lines[0], lines[0]


def test_calibrate_checks_its_output_before_scoring(hostile, monkeypatch, capsys):
    from music_tagger.tagging import calibration

    def scoring(*args, **kwargs):
        raise AssertionError("the audio was scored before the output was checked")

    monkeypatch.setattr(calibration, "_labelled_scores", scoring)
    monkeypatch.chdir(hostile)
    assert cli.main(["calibrate", "labels.csv", "--out", "nowhere/t.json"]) == 1
    assert "folder nowhere does not exist" in capsys.readouterr().err


def test_a_store_open_for_writing_is_one_line(hostile, tmp_path, capsys):
    store = tmp_path / "busy.h5"
    _store(store)
    code = "import h5py, sys, time; f = h5py.File(sys.argv[1], 'a'); print('open', flush=True); time.sleep(60)"
    writer = subprocess.Popen([sys.executable, "-c", code, str(store)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "open"
        status = cli.main(["calibrate", str(store), "--out", str(tmp_path / "t.json")])
    finally:
        writer.kill()
        writer.wait()
    err = capsys.readouterr().err
    if status == 0 or "frames per clip" in err:  # HDF5_USE_FILE_LOCKING=FALSE: no lock to find
        pytest.skip("HDF5 file locking is off here")
    assert status == 1 and "another process has it open for writing" in err, err


def test_engine_ray_without_ray_says_how_to_install_it(hostile, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    monkeypatch.chdir(hostile)
    assert cli.main(["tag", "a.wav", "--engine", "ray"]) == 2
    assert 'pip install "music_tagger[ray]"' in capsys.readouterr().err


def test_engine_ray_refuses_workers_zero(hostile, monkeypatch, capsys):
    pytest.importorskip("ray")
    monkeypatch.chdir(hostile)
    assert cli.main(["tag", "a.wav", "--engine", "ray", "--workers", "0"]) == 2
    assert "--workers" in capsys.readouterr().err


@pytest.mark.parametrize("paths", [5, None, b"x", [b"x"], [5], 2.5])
def test_tag_of_something_that_is_not_paths_is_a_parameter_error(paths):
    with pytest.raises(ParameterError, match="path"):
        tag(paths)


def test_tag_of_nothing_is_nothing():
    assert tag([]) == []


@pytest.mark.parametrize("hop", ["abc", float("inf"), float("nan"), -1.0, 0, True, None])
def test_a_bad_hop_is_a_parameter_error(hop, tmp_path):
    if hop is None:  # the default: fine
        return
    with pytest.raises(ParameterError, match="hop"):
        tag([tmp_path / "x.wav"], taggram=True, hop=hop)


def test_a_huge_hop_gives_the_first_crop_alone():
    from music_tagger.tagging.tagger import prepare_run

    options, *_ = prepare_run(
        None, 10, None, False, 8, resampler=None, tags=None, taggram=True, hop=1e308, thresholds=None
    )
    assert options["starts"](10**9).tolist() == [0]


@pytest.mark.parametrize("value", ["abc", None, [0.2], {"f1": 0.2}, 1.5, -0.1, float("nan"), float("inf"), True])
def test_load_thresholds_takes_only_numbers_in_0_1(value):
    with pytest.raises((ParameterError, DataError)):
        load_thresholds({"rock": value}, ["rock", "pop"])
    assert load_thresholds({"rock": {"threshold": 0.25}}, ["rock", "pop"]) == {"rock": 0.25, "pop": float("inf")}


@pytest.mark.parametrize(
    "taggram",
    [
        "abc",
        [1, 2],
        {k: v for k, v in TAGGRAM.items() if k != "scores"},
        dict(TAGGRAM, scores=[[0.1, 0.2, 0.3]]),
        dict(TAGGRAM, end=[1.0]),
        dict(TAGGRAM, start=[]),
        dict(TAGGRAM, scores=[["a", "b"], ["c", "d"]]),
        dict(TAGGRAM, scores=[[0.1, None], [0.2, 0.3]]),
        dict(TAGGRAM, tags="rock"),
        {k: v for k, v in TAGGRAM.items() if k != "tags"},
    ],
    ids=[
        "string",
        "list",
        "no scores",
        "shape",
        "end length",
        "empty",
        "text scores",
        "null score",
        "tags a string",
        "no tags",
    ],
)
def test_a_malformed_taggram_is_a_data_error(taggram):
    with pytest.raises(DataError):
        Taggram.from_dict(taggram)
    assert Taggram.from_dict(TAGGRAM).scores.shape == (2, 2)


PLOT_RECORDS = {  # fixed where records are read back (tagging/readback.py) and plot folders checked
    "random bytes": (None, 1),
    "a record that is an array": ("[1, 2, 3]\n", 1),
    "a JSON list on one line": (json.dumps([{"path": "x.wav", "tags": [], "error": None, "taggram": TAGGRAM}]), 0),
}


@pytest.mark.parametrize("case", list(PLOT_RECORDS))
def test_plot_reads_any_records_file_or_says_why_not(hostile, monkeypatch, capsys, case):
    pytest.importorskip("music_tagger.tagging.readback", reason="records are read back by the output writer's module")
    text, status = PLOT_RECORDS[case]
    monkeypatch.chdir(hostile)
    records = "random.bin" if text is None else "records.json"
    if text is not None:
        Path(records).write_text(text)
    assert cli.main(["plot", records, "--out", f"pngs-{status}"]) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err and len([line for line in err.splitlines() if line.strip()]) == status


def test_plot_into_a_file_is_one_line(hostile, monkeypatch, capsys):
    pytest.importorskip(
        "music_tagger.tagging.readback", reason="plot folders are checked by the output writer's module"
    )
    monkeypatch.chdir(hostile)
    Path("records.jsonl").write_text(
        json.dumps({"path": "x.wav", "tags": [], "error": None, "taggram": TAGGRAM}) + "\n"
    )
    assert cli.main(["plot", "records.jsonl", "--out", "a.wav"]) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_a_hop_shorter_than_a_frame_is_refused(tmp_path):
    # a 1-sample hop is millions of identical crops on an ordinary track
    with pytest.raises(ParameterError, match="one spectrogram frame"):
        tag([tmp_path / "x.wav"], taggram=True, hop=1e-9)


@pytest.mark.parametrize("name", ["labels.csv", "annotations_final.csv"])
def test_a_binary_file_given_as_a_csv_is_one_line(hostile, tmp_path, name):
    from music_tagger.datasets.dataset import read_csv
    from music_tagger.datasets.mtt import read_mtt

    if name == "labels.csv":
        with pytest.raises(DataError, match="not UTF-8"):
            read_csv(hostile / "random.bin")
    else:
        shutil.copy(hostile / "random.bin", tmp_path / name)
        with pytest.raises(DataError, match="not UTF-8"):
            read_mtt(tmp_path)
