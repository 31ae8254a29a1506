"""The shared validators (util/checks.py) and the one meaning of ``workers`` (util/workers.py)."""

from __future__ import annotations

import json
import os
from fractions import Fraction

import numpy as np
import pytest

from music_tagger.errors import DataError, MissingFileError, ParameterError
from music_tagger.util import checks
from music_tagger.util.workers import default_workers, resolve_workers


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 0, -1.0, "5", True, None, [1.0], Fraction(10**400)])
def test_positive_float_refuses(value):
    with pytest.raises(ParameterError, match="hop"):
        checks.positive_float(value, "hop")


@pytest.mark.parametrize("value, expected", [(2, 2.0), (1e308, 1e308), (np.float32(0.5), 0.5), (Fraction(1, 4), 0.25)])
def test_positive_float_takes_real_numbers(value, expected):
    assert checks.positive_float(value, "hop") == expected


@pytest.mark.parametrize("value", [1.01, -0.01, float("nan"), "0.5", None, True, [0.5]])
def test_probability_refuses(value):
    with pytest.raises(ParameterError):
        checks.probability(value, "threshold")


@pytest.mark.parametrize("value", [-1, 1.5, "2", True, None])
def test_non_negative_int_refuses(value):
    with pytest.raises(ParameterError, match="workers"):
        checks.non_negative_int(value, "workers")


def test_workers_has_one_meaning():
    assert resolve_workers(0) == 0
    assert resolve_workers(3) == 3
    assert resolve_workers(3, n_jobs=2) == 2
    assert resolve_workers(None) == default_workers() >= 1
    assert resolve_workers(None, n_jobs=0) == 0
    if hasattr(os, "sched_getaffinity"):
        assert default_workers() == len(os.sched_getaffinity(0))
    for bad in (-1, 1.5, "2", True):
        with pytest.raises(ParameterError):
            resolve_workers(bad)


def test_files_that_cannot_be_read(tmp_path):
    with pytest.raises(MissingFileError):
        checks.readable_file(tmp_path / "none.json", "thresholds file")
    with pytest.raises(MissingFileError, match="folder"):
        checks.readable_file(tmp_path, "thresholds file")
    with pytest.raises(ParameterError):
        checks.readable_file(5, "thresholds file")
    with pytest.raises(MissingFileError):
        checks.existing_folder(tmp_path / "none")


def test_outputs_that_cannot_be_written(tmp_path):
    with pytest.raises(MissingFileError, match="does not exist"):
        checks.writable_output(tmp_path / "no" / "t.json")
    with pytest.raises(ParameterError, match="folder"):
        checks.writable_output(tmp_path)
    (tmp_path / "f").write_text("")
    with pytest.raises(ParameterError, match="a file is there"):
        checks.writable_output(tmp_path / "f", folder=True)
    with pytest.raises(ParameterError, match="not a folder"):
        checks.writable_output(tmp_path / "f" / "t.json")
    assert checks.writable_output(tmp_path / "new" / "deeper", folder=True) == tmp_path / "new" / "deeper"
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        with pytest.raises(ParameterError, match="not writable"):
            checks.writable_output(locked / "t.json")


@pytest.mark.parametrize(
    "text, kind, words",
    [("{x", dict, "invalid JSON"), ("[1]", dict, "array"), ('{"a": 1}', list, "object"), ("null", dict, "null")],
)
def test_read_json_names_what_is_wrong(tmp_path, text, kind, words):
    path = tmp_path / "f.json"
    path.write_text(text)
    with pytest.raises(DataError, match=words):
        checks.read_json(path, "thing", kind=kind)
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DataError, match="UTF-8"):
        checks.read_json(path, "thing")
    path.write_text(json.dumps({"a": 1}))
    assert checks.read_json(path, "thing") == {"a": 1}


def test_arrays_that_cannot_be_read(tmp_path):
    path = tmp_path / "x.npy"
    path.write_bytes(b"garbage" * 10)
    with pytest.raises(DataError, match="not a numpy array file"):
        checks.load_array(path, "feature matrix")
    np.save(path, np.array([{"a": 1}], dtype=object))  # pickled objects are refused
    with pytest.raises(DataError):
        checks.load_array(path, "feature matrix")
    np.savez(tmp_path / "p.npz", coef=np.ones(2))
    with pytest.raises(DataError, match="no mean"):
        checks.load_arrays(tmp_path / "p.npz", "probe", ["coef", "mean"])


def test_open_h5_names_the_problem(tmp_path):
    import h5py

    path = tmp_path / "s.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros(1000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated"):
        with checks.open_h5(path):
            pass
    path.write_bytes(b"\x00" * 4000)
    with pytest.raises(DataError, match="not an HDF5 file"):
        with checks.open_h5(path):
            pass
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(DataError, match="not a readable"):
        with checks.open_h5(path) as f:
            f["melgrams"]
