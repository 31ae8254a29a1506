"""Tests for music_tagger.datasets.dataset on tiny hand-made layouts."""

import csv
import logging

import numpy as np
import pytest

from music_tagger.datasets.dataset import Dataset, Problem, read_csv
from music_tagger.datasets.msd import read_msd
from music_tagger.datasets.mtt import read_mtt
from music_tagger.datasets.synth import TAGS as SYNTH_TAGS
from music_tagger.datasets.synth import make_mtt_like


def _warnings(caplog):
    return [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "music_tagger.datasets.dataset"]


def _reasons(data):
    return {p.id: p.reason for p in data.problems}


# ------------------------------------------------------------------------- Dataset


def _dataset(**changes):
    fields = dict(
        paths=["a.mp3", "b.mp3", "c.mp3"],
        y=np.array([[1, 0], [0, 1], [1, 1]]),
        tags=["rock", "jazz"],
        split=np.array(["train", "test", "train"]),
        ids=["a", "b", "c"],
    )
    return Dataset(**{**fields, **changes})


def test_dataset_subset_and_len():
    data = _dataset()
    assert len(data) == 3 and data.y.dtype == np.uint8
    train = data.subset("train")
    assert train.ids == ["a", "c"] and train.paths == ["a.mp3", "c.mp3"]
    np.testing.assert_array_equal(train.y, [[1, 0], [1, 1]])
    assert train.tags == data.tags and list(train.split) == ["train", "train"]
    assert len(data.subset("valid")) == 0 and data.subset("valid").y.shape == (0, 2)
    with pytest.raises(ValueError, match="split must be one of"):
        data.subset("dev")


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"y": np.zeros((3, 3))}, r"shape \(n_paths, n_tags\) = \(3, 2\); got \(3, 3\)"),
        ({"y": np.full((3, 2), 2)}, "binary"),
        ({"ids": ["a"]}, "equal lengths; got 3, 1 and 3"),
        ({"split": np.array(["train", "dev", "test"])}, r"split values .* \['dev'\]"),
    ],
)
def test_dataset_validates(changes, match):
    with pytest.raises(ValueError, match=match):
        _dataset(**changes)


def test_report_counts_reasons_with_examples():
    data = _dataset(
        problems=[
            Problem("x", "missing audio", "/x.mp3"),
            Problem("y", "no tags"),
            Problem("z", "missing audio", "/z.mp3"),
        ]
    )
    text = data.report()
    assert text.startswith("kept 3 rows; left out 3: 2 missing audio, 1 no tags")
    assert "x (missing audio: /x.mp3)" in text and "y (no tags)" in text


# ----------------------------------------------------------------------------- MTT


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    return make_mtt_like(tmp_path_factory.mktemp("mtt"), n_clips=24, duration=0.3, seed=1)


def test_read_mtt_on_generated_layout(synth_root, caplog):
    data = read_mtt(synth_root, top_n=len(SYNTH_TAGS))
    assert sorted(data.tags) == sorted(SYNTH_TAGS)  # top-n leaves out every decoy
    assert len(data) == 24 and not data.problems and not _warnings(caplog)
    for split, folders in [("train", "0123456789ab"), ("valid", "c"), ("test", "def")]:
        part = data.subset(split)
        assert len(part) > 0
        assert all(p.split("/")[-2] in folders for p in part.paths)
        assert part.y.sum(axis=0).min() > 0  # every tag present in every split
    counts = data.y.sum(axis=0)
    assert list(counts) == sorted(counts, reverse=True)  # most frequent first


def _write_annotations(root, columns, rows):
    with open(root / "annotations_final.csv", "w", newline="") as f:
        writer = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_ALL)
        writer.writerow(["clip_id", *columns, "mp3_path"])
        writer.writerows(rows)


def _touch(root, rel, content=b"x"):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


@pytest.fixture
def mtt_root(tmp_path):
    """Columns a, b, c, d with counts 2, 3, 3, 1; rows chosen to hit every problem."""
    rows = [
        ["1", "1", "1", "0", "0", "0/one.mp3"],
        ["2", "0", "1", "1", "0", "c/two.mp3"],
        ["3", "1", "0", "1", "0", "d/three.mp3"],
        ["4", "0", "1", "1", "0", "1/missing.mp3"],  # no file
        ["5", "0", "0", "0", "1", "e/only_d.mp3"],  # no tag after top-3
        ["6", "0", "0", "0", "0", "f/empty.mp3"],  # 0-byte file (and no tags)
        ["7", "1", "x", "0", "0", "2/bad.mp3"],  # bad value
        ["8", "1", "0"],  # too few fields
        ["9", "1", "1", "1", "0", "g/elsewhere.mp3"],  # not a 0-f folder
    ]
    _write_annotations(tmp_path, ["a", "b", "c", "d"], rows)
    for rel in ["0/one.mp3", "c/two.mp3", "d/three.mp3", "e/only_d.mp3", "2/bad.mp3", "g/elsewhere.mp3"]:
        _touch(tmp_path, rel)
    _touch(tmp_path, "f/empty.mp3", b"")
    return tmp_path


def test_read_mtt_top_n_ties_by_column_order(mtt_root):
    assert read_mtt(mtt_root, top_n=3).tags == ["b", "c", "a"]
    assert read_mtt(mtt_root, top_n=1).tags == ["b"]
    assert read_mtt(mtt_root, top_n=None).tags == ["a", "b", "c", "d"]


def test_read_mtt_reports_bad_rows_once(mtt_root, caplog):
    data = read_mtt(mtt_root, top_n=3)
    assert data.ids == ["1", "2", "3"]
    assert list(data.split) == ["train", "valid", "test"]
    np.testing.assert_array_equal(data.y, [[1, 0, 1], [1, 1, 0], [0, 1, 1]])  # b, c, a
    assert data.paths[0] == str(mtt_root / "0" / "one.mp3")
    assert _reasons(data) == {
        "4": "missing audio",
        "5": "no tags",
        "6": "no tags",
        "7": "bad row",
        "8": "bad row",
        "9": "bad split",
    }
    records = _warnings(caplog)
    assert len(records) == 1
    message = records[0].getMessage()
    assert "left out 6" in message and "2 bad row" in message and "1 missing audio" in message


def test_read_mtt_empty_audio_is_a_problem(mtt_root):
    rows = [["1", "1", "0", "0", "0", "f/empty.mp3"]]
    _write_annotations(mtt_root, ["a", "b", "c", "d"], rows)
    data = read_mtt(mtt_root, top_n=None)
    assert _reasons(data) == {"1": "empty audio"} and len(data) == 0


def test_read_mtt_split_mapping(mtt_root, caplog):
    split = {"train": ["1", "d/three.mp3"], "test": ["2\tc/two.mp3", "404"]}
    data = read_mtt(mtt_root, top_n=3, split=split)
    assert dict(zip(data.ids, data.split)) == {"1": "train", "2": "test", "3": "train"}
    reasons = _reasons(data)
    assert reasons["404"] == "unknown id in split"
    assert reasons["4"] == "not in split" and reasons["5"] == "not in split"
    assert len(_warnings(caplog)) == 1


def test_read_mtt_split_mapping_rejects_bad_arguments(mtt_root):
    with pytest.raises(ValueError, match=r"split names must be in .* \['dev'\]"):
        read_mtt(mtt_root, top_n=3, split={"dev": ["1"]})
    with pytest.raises(ValueError, match="not a string"):
        read_mtt(mtt_root, top_n=3, split={"train": "1"})


def test_read_mtt_clip_in_two_splits_is_dropped(mtt_root):
    data = read_mtt(mtt_root, top_n=3, split={"train": ["1", "2"], "valid": ["1"]})
    assert data.ids == ["2"]
    assert next(p for p in data.problems if p.id == "1").detail == "listed in train, valid"


def test_read_mtt_split_folder_text_and_npy(mtt_root, tmp_path_factory):
    folder = tmp_path_factory.mktemp("split")
    (folder / "train.txt").write_text("0/one.mp3\n\n")
    np.save(folder / "valid.npy", np.array(["3\td/three.mp3"]))
    (folder / "test.tsv").write_text("2\n")
    data = read_mtt(mtt_root, top_n=3, split=folder)
    assert dict(zip(data.ids, data.split)) == {"1": "train", "2": "test", "3": "valid"}

    (folder / "test.tsv").unlink()
    with pytest.raises(FileNotFoundError, match="no test list .* test.txt"):
        read_mtt(mtt_root, top_n=3, split=folder)


def test_read_mtt_argument_errors(mtt_root, tmp_path_factory):
    with pytest.raises(ValueError, match=r"top_n must be an integer in \[1, 4\]"):
        read_mtt(mtt_root, top_n=5)
    with pytest.raises(ValueError, match="top_n"):
        read_mtt(mtt_root, top_n=0)
    with pytest.raises(ValueError, match="top_n must be an integer"):
        read_mtt(mtt_root, top_n=2.5)
    with pytest.raises(FileNotFoundError, match="annotations_final.csv"):
        read_mtt(tmp_path_factory.mktemp("empty"))
    (mtt_root / "annotations_final.csv").write_text("id,a,path\n1,0,x.mp3\n")
    with pytest.raises(ValueError, match="not a MagnaTagATune annotation file"):
        read_mtt(mtt_root)


# ----------------------------------------------------------------------------- MSD

IDS = {
    "train": ["TRAAAAW128F429D538", "TRAAABD128F429CF47", "TRAAADZ128F9348C2E"],
    "valid": ["TRBBBBB128F429D538"],
    "test": ["TRCCCCC128F429D538", "TRAAAAW128F429D538"],  # second: also in train
}


@pytest.fixture
def msd(tmp_path):
    audio, split_dir = tmp_path / "audio", tmp_path / "split"
    split_dir.mkdir()
    for split, ids in IDS.items():
        (split_dir / f"{split}_x_msd_id.txt").write_text("\n".join(ids) + "\n")
    for track, ext in [
        ("TRAAAAW128F429D538", ".mp3"),
        ("TRAAABD128F429CF47", ".clip.mp3"),
        ("TRBBBBB128F429D538", ".wav"),
        ("TRCCCCC128F429D538", ".mp3"),
    ]:
        _touch(audio, f"{track[2]}/{track[3]}/{track[4]}/{track}{ext}")
    (split_dir / "tags.txt").write_text("rock\npop\njazz\n")
    ys = {"train": [[1, 0, 0], [0, 1, 1], [1, 0, 0]], "valid": [[0, 0, 1]], "test": [[1, 1, 0], [0, 0, 0]]}
    for split, y in ys.items():
        np.save(split_dir / f"{split}_y.npy", np.array(y, dtype=np.uint8))
    return audio, split_dir


def test_read_msd_public_layout(msd, caplog):
    audio, split_dir = msd
    data = read_msd(audio, split_dir)
    assert data.tags == ["rock", "pop", "jazz"]
    assert data.ids == ["TRAAAAW128F429D538", "TRAAABD128F429CF47", "TRBBBBB128F429D538", "TRCCCCC128F429D538"]
    assert list(data.split) == ["train", "train", "valid", "test"]
    np.testing.assert_array_equal(data.y, [[1, 0, 0], [0, 1, 1], [0, 0, 1], [1, 1, 0]])
    assert data.paths[1] == str(audio / "A" / "A" / "A" / "TRAAABD128F429CF47.clip.mp3")
    # third train id has no audio; the test copy of a train id is a duplicate and,
    # having no tags in test_y.npy, is reported for that first
    assert _reasons(data) == {"TRAAADZ128F9348C2E": "missing audio", "TRAAAAW128F429D538": "no tags"}
    assert len(_warnings(caplog)) == 1


def test_read_msd_label_file_and_duplicates(msd, tmp_path):
    audio, split_dir = msd
    labels = tmp_path / "labels.tsv"
    labels.write_text(
        "track_id\ttags\n"
        "TRAAAAW128F429D538\trock|jazz\n"
        "TRAAABD128F429CF47\tpolka\n"
        "TRBBBBB128F429D538\tpop\n"
        "TRCCCCC128F429D538\t\n"
    )
    data = read_msd(audio, split_dir, tags=["rock", "pop", "jazz"], labels=labels)
    assert data.ids == ["TRAAAAW128F429D538", "TRBBBBB128F429D538"]
    np.testing.assert_array_equal(data.y, [[1, 0, 1], [0, 1, 0]])
    problems = {(p.id, p.reason) for p in data.problems}
    assert problems == {
        ("TRAAABD128F429CF47", "unknown tags"),
        ("TRAAADZ128F9348C2E", "no tags"),  # not in the labels file
        ("TRCCCCC128F429D538", "no tags"),
        ("TRAAAAW128F429D538", "duplicate id"),
    }


def test_read_msd_default_tags_are_the_models(msd):
    audio, split_dir = msd
    (split_dir / "tags.txt").unlink()
    from music_tagger.registry import TAGS

    with pytest.raises(ValueError, match=r"shape \(3, 3\); expected .* \(3, 50\)"):
        read_msd(audio, split_dir)
    labels = split_dir / "labels.csv"
    labels.write_text("TRAAAAW128F429D538,rock|Hip-Hop\n")
    data = read_msd(audio, split_dir, labels=labels)
    assert data.tags == list(TAGS) and len(TAGS) == 50
    assert data.y[0, TAGS.index("Hip-Hop")] == 1


def test_read_msd_argument_errors(msd):
    audio, split_dir = msd
    np.save(split_dir / "valid_y.npy", np.array([[0, 2, 1]]))
    with pytest.raises(ValueError, match="binary"):
        read_msd(audio, split_dir)
    (split_dir / "valid_y.npy").unlink()
    with pytest.raises(FileNotFoundError, match="valid_y.npy is missing; pass labels="):
        read_msd(audio, split_dir)
    (split_dir / "test_x_msd_id.txt").unlink()
    with pytest.raises(FileNotFoundError, match="no test list .* test_x_msd_id.txt"):
        read_msd(audio, split_dir)


# ----------------------------------------------------------------------------- CSV


def test_read_csv(tmp_path, caplog):
    _touch(tmp_path, "audio/a.mp3")
    _touch(tmp_path, "audio/b.wav")
    outside = tmp_path.parent / f"{tmp_path.name}_abs.mp3"
    _touch(tmp_path.parent, outside.name)
    (tmp_path / "list.csv").write_text(
        "path,tags,split\n"
        "audio/a.mp3,rock| guitar ,train\n"
        f"{outside},jazz,Valid\n"
        "audio/b.wav,rock,test\n"
        "audio/gone.mp3,rock,test\n"
        "audio/a.mp3,rock,test\n"
        "audio/b.wav,,train\n"
        "audio/b.wav,rock,dev\n"
    )
    data = read_csv(tmp_path / "list.csv")
    assert data.tags == ["guitar", "jazz", "rock"]
    assert data.paths == [str(tmp_path / "audio/a.mp3"), str(outside), str(tmp_path / "audio/b.wav")]
    assert data.ids == ["audio/a.mp3", str(outside), "audio/b.wav"]
    assert list(data.split) == ["train", "valid", "test"]
    np.testing.assert_array_equal(data.y, [[1, 0, 1], [0, 1, 0], [0, 0, 1]])
    assert sorted(p.reason for p in data.problems) == ["bad split", "duplicate id", "missing audio", "no tags"]
    records = _warnings(caplog)
    assert len(records) == 1 and "left out 4" in records[0].getMessage()


def test_read_csv_with_vocabulary_and_ids(tmp_path):
    _touch(tmp_path, "a.mp3")
    _touch(tmp_path, "b.mp3")
    (tmp_path / "list.csv").write_text("id,path,tags,split\nA,a.mp3,rock,train\nB,b.mp3,rock|polka,test\n")
    data = read_csv(tmp_path / "list.csv", tags=["pop", "rock"])
    assert data.tags == ["pop", "rock"] and data.ids == ["A"]
    assert data.problems == [Problem("B", "unknown tags", "polka")]


def test_read_csv_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_csv(tmp_path / "none.csv")
    (tmp_path / "list.csv").write_text("file,tags\na.mp3,rock\n")
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['path', 'split'\]"):
        read_csv(tmp_path / "list.csv")
