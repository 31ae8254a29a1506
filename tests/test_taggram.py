"""Taggrams: crops every hop with their times, the picture, and the CLI's --plot and plot."""

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from music_tagger import audio, cli, tag
from music_tagger.datasets import synth
from music_tagger.errors import ParameterError
from music_tagger.tagging.tagger import get_model
from music_tagger.tagging.taggram import (
    DEFAULT_HOP,
    FINEST_HOP,
    Taggram,
    check_hop,
    plot_taggram,
    taggram_crops,
    taggram_starts,
)


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    return str(synth.write_track(tmp_path_factory.mktemp("song") / "song.flac", 50, 22050, seed=5))


def test_taggram_starts_every_hop_while_a_crop_fits():
    hop = 12000
    starts = taggram_starts(audio.N_SAMPLES + 2 * hop + 5, hop)
    np.testing.assert_array_equal(starts, [0, hop, 2 * hop])
    assert taggram_starts(10, hop).tolist() == [0]
    with pytest.raises(ValueError, match="hop"):
        taggram_starts(10, 0)


def test_the_taggram_module_owns_the_hop_its_check_and_its_conversion(tmp_path):
    from music_tagger.serve.library import Library

    assert check_hop(None) == DEFAULT_HOP and check_hop(FINEST_HOP) == FINEST_HOP
    with pytest.raises(ParameterError, match=r"^hop must be at least one spectrogram frame \(0.0213 s\)"):
        check_hop(FINEST_HOP / 2)
    with pytest.raises(ParameterError, match="finite positive"):
        check_hop(float("nan"))
    assert taggram_crops(True, 2.0)(audio.N_SAMPLES + 48000).tolist() == [0, 24000, 48000]
    assert taggram_crops(True, 1e308)(10**9).tolist() == [0]  # a hop longer than any track
    assert taggram_crops(False) is None
    with pytest.raises(ParameterError, match="pass taggram=True"):
        taggram_crops(False, 5.0)
    with pytest.raises(ParameterError, match="leave crops and faithful unset"):
        taggram_crops(True, crops=3)
    # every caller goes through the one check: tag and the server's library alike
    for call in (lambda: tag("x.mp3", taggram=True, hop=0.01), lambda: Library([tmp_path], hop=0.01)):
        with pytest.raises(ParameterError, match="one spectrogram frame"):
            call()
    # and no other module converts seconds of hop to samples
    package = Path(audio.__file__).parents[1]
    converts = [str(p) for p in package.rglob("*.py") if p.name != "taggram.py"
                and re.search(r"hop\w*\s*\*\s*(audio\.)?SR\b", p.read_text())]  # fmt: skip
    assert converts == []


def test_taggram_scores_are_the_crops_at_their_times(song):
    model = get_model("crnn")
    r = tag(song, model=model, taggram=True, hop=10.0, workers=0)[0]
    t = r.taggram
    n = len(audio.load_audio(song, resampler="soxr_hq"))
    assert r.n_crops == len(t.start) == 3  # 50 s: crops at 0, 10, 20 s
    np.testing.assert_allclose(t.start, [0.0, 10.0, 20.0])
    np.testing.assert_allclose(t.end, np.minimum(t.start + audio.DURATION, n / audio.SR))
    assert t.scores.shape == (3, 50)
    np.testing.assert_allclose(r.scores, t.scores.mean(axis=0), atol=1e-6)
    # each column is the network on that crop
    y = audio.load_audio(song, resampler="soxr_hq")
    second = audio.log_melgram(y[12000 * 10 : 12000 * 10 + audio.N_SAMPLES])
    np.testing.assert_allclose(t.scores[1], model.predict_on_batch(second[None, ..., None])[0], atol=2e-3)
    d = r.to_dict()["taggram"]
    assert d["tags"][0] == "rock" and len(d["scores"]) == 3
    back = Taggram.from_dict(d, d["tags"])
    np.testing.assert_array_equal(back.scores, t.scores)


def test_taggram_arguments_are_checked():
    with pytest.raises(ValueError, match="leave crops and faithful unset"):
        tag("x.mp3", taggram=True, faithful=True)
    with pytest.raises(ValueError, match="pass taggram=True"):
        tag("x.mp3", hop=3.0)
    with pytest.raises(ValueError, match="hop must be"):
        tag("x.mp3", taggram=True, hop=-1)


def test_plot_draws_top_tags_without_touching_pyplot(tmp_path):
    import matplotlib

    backend = matplotlib.get_backend()
    t = Taggram(np.arange(4.0), np.arange(4.0) + 29.12, np.linspace(0, 1, 12).reshape(4, 3), ["a", "b", "c"])
    fig = plot_taggram(t, tmp_path / "t.png", top_n=2, title="x")
    assert (tmp_path / "t.png").stat().st_size > 1000
    assert [x.get_text() for x in fig.axes[0].get_yticklabels()] == ["c", "b"]  # best mean first
    assert matplotlib.get_backend() == backend
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []
    with pytest.raises(ValueError, match="top_n"):
        plot_taggram(t, top_n=0)


def test_plot_records_draws_each_file_once_and_skips_records_without_taggram(tmp_path):
    from music_tagger.errors import DataError, MissingFileError
    from music_tagger.tagging.taggram import plot_records

    t = Taggram(np.arange(2.0), np.arange(2.0) + 29.12, np.linspace(0, 1, 6).reshape(2, 3), ["a", "b", "c"])
    record = dict(t.to_dict(), tags=t.tags)
    lines = [{"path": "/m/x/one.mp3", "tags": [], "taggram": record},
             {"path": "/m/y/two.mp3", "tags": [], "error": "unreadable"},
             {"path": "/m/x/one.mp3", "tags": [], "taggram": record}]  # fmt: skip
    records = tmp_path / "rec.jsonl"
    records.write_text("".join(json.dumps(line) + "\n" for line in lines))
    drawn = list(plot_records(records, tmp_path / "pngs", top_n=2))
    assert (
        drawn == [str(tmp_path / "pngs" / "one.mp3.png")] and (tmp_path / "pngs" / "one.mp3.png").stat().st_size > 1000
    )
    records.write_text(json.dumps(lines[1]) + "\n")
    with pytest.raises(DataError, match="holds no taggram"):
        list(plot_records(records, tmp_path / "pngs"))
    with pytest.raises(MissingFileError, match="no records file at"):
        list(plot_records(tmp_path / "none.jsonl", tmp_path / "pngs"))


def test_cli_plot_option_and_plot_command(song, tmp_path, capsys):
    get_model("crnn")
    out = tmp_path / "tags.jsonl"
    code = cli.main(
        ["tag", song, "--hop", "15", "--plot", str(tmp_path / "png"), "--output", str(out), "--workers", "0"]
    )
    assert code == 0
    record = json.loads(out.read_text())
    assert len(record["taggram"]["start"]) == 2
    assert (tmp_path / "png" / "song.flac.png").exists()
    capsys.readouterr()
    assert cli.main(["plot", str(out), "--out", str(tmp_path / "again"), "--top", "5"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "again" / "song.flac.png")
    assert cli.main(["tag", song, "--taggram", "--format", "csv"]) == 2  # no room for it in CSV
