"""Per-tag thresholds: F1-optimal on labelled data, saved, applied by tag --thresholds."""

import json

import numpy as np
import pytest
import soundfile as sf

from music_tagger import cli, tag
from music_tagger.tagging.calibration import calibrate, fit_thresholds, load_thresholds
from music_tagger.tagging.tagger import get_model


def _f1(y, s, cut):
    pred = s >= cut
    tp = np.sum(pred & (y == 1))
    return 0.0 if tp == 0 else 2 * tp / (pred.sum() + (y == 1).sum())


def test_fit_thresholds_maximises_f1_per_tag():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (200, 3))
    s = np.clip(0.3 * y + rng.uniform(0, 0.7, y.shape), 0, 1)
    y[:, 2] = 0  # no positives: no threshold
    out = fit_thresholds(y, s, ["a", "b", "c"])
    assert set(out) == {"a", "b"}
    for j, t in enumerate("ab"):
        best = max(_f1(y[:, j], s[:, j], c) for c in s[:, j])
        assert out[t]["f1"] == pytest.approx(best)
        assert _f1(y[:, j], s[:, j], out[t]["threshold"]) == pytest.approx(best)
        assert out[t]["support"] == y[:, j].sum()
    with pytest.raises(ValueError, match="one column per tag"):
        fit_thresholds(y, s[:, :2], ["a", "b", "c"])
    with pytest.raises(ValueError, match="only 0 and 1"):
        fit_thresholds(y * 2, s, ["a", "b", "c"])


def test_load_thresholds_checks_tags(tmp_path):
    assert load_thresholds({"a": 0.5}, ["a", "b"]) == {"a": 0.5, "b": float("inf")}
    with pytest.raises(ValueError, match="does not have: z"):
        load_thresholds({"z": 0.5}, ["a"])
    with pytest.raises(FileNotFoundError, match="calibrate"):
        load_thresholds(tmp_path / "none.json", ["a"])
    (tmp_path / "bad.json").write_text("[1]")
    with pytest.raises(ValueError, match="thresholds"):
        load_thresholds(tmp_path / "bad.json", ["a"])


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """Six clips, labelled by how they sound: tones are 'instrumental', noise is 'electronic'."""
    root = tmp_path_factory.mktemp("labelled")
    rng = np.random.default_rng(1)
    t = np.arange(12000 * 4) / 12000
    rows = ["path,tags,split"]
    for i in range(6):
        if i % 2:
            y, tags = 0.3 * np.sin(2 * np.pi * (220 + 40 * i) * t), "instrumental"
        else:
            y, tags = 0.2 * rng.standard_normal(len(t)), "electronic|noise"
        sf.write(root / f"c{i}.wav", y, 12000)
        rows.append(f"c{i}.wav,{tags},valid")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def test_calibrate_a_csv_then_tag_with_the_thresholds(labelled, tmp_path, capsys):
    model = get_model("crnn")
    out = tmp_path / "thresholds.json"
    thresholds = calibrate(labelled / "labels.csv", out, model, crops=1, workers=0)
    assert set(thresholds) == {"instrumental", "electronic"}  # 'noise' is no MSD tag
    saved = json.loads(out.read_text())
    assert saved["n_examples"] == 6 and saved["thresholds"] == thresholds
    r = tag(labelled / "c1.wav", model=model, crops=1, workers=0, thresholds=out)[0]
    expected = [t for t, s in r.top if s >= thresholds.get(t, {"threshold": np.inf})["threshold"]]
    assert r.passed == [t for t in expected] and r.to_dict()["passed"] == r.passed
    # the CLI: calibrate, then tag --thresholds FILE --format csv has a passed column
    assert (
        cli.main(
            [
                "calibrate",
                str(labelled / "labels.csv"),
                "--out",
                str(tmp_path / "t2.json"),
                "--crops",
                "1",
                "--workers",
                "0",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        cli.main(
            [
                "tag",
                str(labelled / "c1.wav"),
                "--crops",
                "1",
                "--thresholds",
                str(tmp_path / "t2.json"),
                "--format",
                "csv",
                "--top",
                "50",
                "--workers",
                "0",
            ]
        )
        == 0
    )
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "path,rank,tag,score,error,passed"
    assert {row.split(",")[2] for row in rows[1:] if row.endswith(",1")} == set(r.passed)
