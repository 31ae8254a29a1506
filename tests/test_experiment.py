"""The paper's study on a tiny grid: results table, figures, skipping finished runs."""

import json
import math

import pytest

from music_tagger.cli import main
from music_tagger.datasets import cache
from music_tagger.datasets.synth import TAGS
from music_tagger.models.architectures import parse_budgets
from music_tagger.training import experiment
from music_tagger.training import loop as training
from music_tagger.training.experiment import GRID_COLUMNS, Config, grid, read_grid_results
from music_tagger.training.figures import FIGURES, plot_per_tag, tag_groups

#: trains networks or prepares stores: left out of the contributor's `-m "not slow"` run
pytestmark = pytest.mark.slow

FRAMES = 1280  # the fewest frames k2c2 takes (its time pooling is 4 x 4 x 4 x 5 x 4)
ARCHS, BUDGETS = ("k2c2", "crnn"), (100_000, 250_000)
#: Small stand-ins of the 0.1M and 0.25M models (a few thousand parameters), 1 epoch.
GRID = ["--archs", ",".join(ARCHS), "--budgets", "0.1,0.25", "--width-scale", "0.1",
        "--epochs", "1", "--quiet"]  # fmt: skip
SYNTH_GROUPS = {"source": ["guitar", "organ", "noisy", "tonal", "chord"],
                "register": ["low", "high"], "rhythm": ["fast", "slow", "percussive"]}  # fmt: skip


@pytest.fixture(scope="module")
def stores(synthetic_stores):
    """Stores of 40 synthetic 3 s clips (24 train, 6 valid, 10 test), zero-padded."""
    return synthetic_stores(40, frames=FRAMES, splits=("train", "valid", "test"))


@pytest.fixture(scope="module")
def runs(stores, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert main(["experiment", "--data", str(stores), "--out", str(out), *GRID]) == 0
    return out


def _snapshot(out):
    return {p: p.stat().st_mtime_ns for p in sorted(out.rglob("*")) if p.is_file()}


def test_grid_writes_every_configuration_with_finite_aucs(runs, stores):
    rows = read_grid_results(runs)
    assert [(r["arch"], r["budget"]) for r in rows] == [(a, b) for a in ARCHS for b in BUDGETS]
    n_train = cache.load_store(cache.store_path(stores, "train")).n
    for row, config in zip(rows, grid(ARCHS, BUDGETS, width_scale=0.1)):
        assert row["widths"] == list(config.widths)
        assert 1_000 < row["params"] < 10_000
        assert row["epochs"] == row["best_epoch"] == 1
        assert row["n_train"] == n_train
        assert row["seconds_per_sample"] == pytest.approx(row["train_seconds"] / n_train)
        aucs = [row["best_val_roc_auc"], row["test_roc_auc"], *row["per_tag"].values()]
        assert all(0 <= a <= 1 and math.isfinite(a) for a in aucs)
        assert sorted(row["per_tag"]) == sorted(TAGS)
        assert (runs / config.name / "model.keras").exists()

    header, *lines = (runs / "results.csv").read_text().splitlines()
    assert header.split(",") == [*GRID_COLUMNS, *(f"auc:{t}" for t in rows[0]["per_tag"])]
    assert len(lines) == len(rows) and lines[0].startswith("k2c2,100000,2x4x4x6x8,")


def test_running_again_trains_nothing(runs, stores, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("a finished configuration was trained again")

    before = _snapshot(runs)
    monkeypatch.setattr(training, "train", no_training)
    assert main(["experiment", "--data", str(stores), "--out", str(runs), *GRID]) == 0
    after = _snapshot(runs)
    results = {runs / "results.json", runs / "results.csv"}
    assert {p: t for p, t in after.items() if p not in results} == {p: t for p, t in before.items() if p not in results}


def test_figures_of_the_grid(runs, tmp_path):
    groups = tmp_path / "groups.json"
    groups.write_text(json.dumps(SYNTH_GROUPS))
    figs = tmp_path / "figs"
    argv = ["figures", str(runs), "--out", str(figs), "--reference", "0.851",
            "--groups", str(groups), "--title", "generated data"]  # fmt: skip
    assert main(argv) == 0
    for name in FIGURES:
        for fmt in ("png", "pdf"):
            assert (figs / f"{name}.{fmt}").stat().st_size > 1000


def test_parse_budgets_and_grid():
    assert parse_budgets("0.1,0.25,0.5,1,3") == [100_000, 250_000, 500_000, 1_000_000, 3_000_000]
    with pytest.raises(ValueError, match="millions"):
        parse_budgets("0.1,lots")
    with pytest.raises(ValueError, match="positive"):
        parse_budgets("-1")
    assert grid(["crnn"], [1_000_000]) == [Config("crnn", 1_000_000, (96, 195, 195, 195, 96))]
    assert Config("k2c2", 250_000, ()).name == "k2c2-0.25M"
    with pytest.raises(ValueError, match="no widths"):
        grid(["crnn"], [123])
    with pytest.raises(ValueError, match="width_scale"):
        grid(["crnn"], [100_000], width_scale=0)


def test_tag_groups():
    from music_tagger.registry import TAGS as MSD_TAGS
    from music_tagger.training.figures import MSD_TAG_GROUPS

    grouped = [t for ts in MSD_TAG_GROUPS.values() for t in ts]
    assert sorted(grouped) == sorted(MSD_TAGS)  # every MSD tag in exactly one group
    assert list(tag_groups(MSD_TAGS)) == ["genre", "mood", "instrument", "era"]
    assert tag_groups(TAGS) == {"all": TAGS}
    assert tag_groups(TAGS, SYNTH_GROUPS)["other"] == ["loud", "quiet"]


def test_per_tag_figure_needs_the_baseline():
    rows = [{"arch": "crnn", "budget": 100_000, "params": 99_000, "per_tag": {"a": 0.7}}]
    with pytest.raises(ValueError, match="no k2c2 results"):
        plot_per_tag(rows)


def test_cli_errors(tmp_path, capsys):
    assert main(["experiment", "--data", str(tmp_path), "--archs", "k3c3"]) == 2
    assert main(["experiment", "--data", str(tmp_path), "--budgets", "0.1,x"]) == 2
    assert main(["experiment", "--data", str(tmp_path), "--out", str(tmp_path / "r")]) == 1
    assert "no feature store" in capsys.readouterr().err
    assert main(["figures", str(tmp_path)]) == 1
    assert "no results table" in capsys.readouterr().err


def test_grid_as_independent_jobs_then_merge(runs, stores, tmp_path, capsys):
    """Job 1 of 4 trains configuration 1 (of 0-3); the other jobs' runs come from other
    machines (copied from the whole grid's); the merge gives the whole grid's table."""
    import shutil

    out = tmp_path / "runs"
    job = ["experiment", "--data", str(stores), "--out", str(out), *GRID]
    assert main([*job, "--job", "1", "--jobs", "4"]) == 0
    names = [c.name for c in grid(ARCHS, BUDGETS, width_scale=0.1)]
    assert sorted(p.name for p in out.iterdir()) == [names[1]]  # no table yet
    assert main([*job, "--merge"]) == 1
    assert f"3 of 4 configurations are not finished in {out}" in capsys.readouterr().err
    for name in names[:1] + names[2:]:
        shutil.copytree(runs / name, out / name)
    assert main([*job, "--merge"]) == 0
    merged, whole = read_grid_results(out), read_grid_results(runs)
    assert [(r["arch"], r["budget"]) for r in merged] == [(r["arch"], r["budget"]) for r in whole]
    for a, b in zip(merged, whole):  # seeded training: the job's runs are the grid's runs
        assert a["test_roc_auc"] == pytest.approx(b["test_roc_auc"], abs=1e-6)
        assert a["params"] == b["params"]
    assert main([*job, "--merge", "--epochs", "2"]) == 1  # other settings: not finished
    assert main([*job, "--merge", "--only", "crnn-0.1M"]) == 2  # usage error


def test_select():
    configs = grid(ARCHS, BUDGETS)
    parts = [experiment.select(configs, job=k, jobs=3) for k in range(3)]
    assert sorted(c.name for part in parts for c in part) == sorted(c.name for c in configs)
    assert experiment.select(configs, only=["crnn-0.25M"]) == [configs[3]]
    with pytest.raises(ValueError, match="no configuration"):
        experiment.select(configs, only=["crnn-7M"])
    with pytest.raises(ValueError, match="job must be"):
        experiment.select(configs, job=3, jobs=3)
