"""Shared fixtures: where the original reference files live.

Tests read the original weights, clips and spectrograms from
``$MUSIC_TAGGER_WEIGHTS_DIR`` (CI sets it to
``../shared/reference/music-auto_tagging-keras``). Nothing is downloaded at test time.
"""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "music-auto_tagging-keras"

if "MUSIC_TAGGER_WEIGHTS_DIR" not in os.environ and DEFAULT_REFERENCE.is_dir():
    os.environ["MUSIC_TAGGER_WEIGHTS_DIR"] = str(DEFAULT_REFERENCE)

CLIPS = ["bensound-cute", "bensound-actionable", "bensound-dubstep", "bensound-thejazzpiano"]


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The folder with the original ``data/`` and ``compact_cnn/`` files."""
    path = Path(os.environ["MUSIC_TAGGER_WEIGHTS_DIR"]).resolve()
    assert (path / "data").is_dir(), f"reference files missing under {path}"
    return path


@pytest.fixture(scope="session")
def reference_data(reference_dir: Path) -> Path:
    return reference_dir / "data"


@pytest.fixture(scope="session")
def msd_stores(tmp_path_factory) -> Path:
    """Stores of 24 generated 3 s clips at the MSD preprocessing (1366 frames, zero
    padded), for the transfer tests: 14 train, 3 valid, 7 test clips."""
    from music_tagger import cache
    from music_tagger.data import read_mtt
    from music_tagger.synth import TAGS, make_mtt_like

    root = make_mtt_like(tmp_path_factory.mktemp("mtt_msd"), n_clips=24, seed=3)
    out = tmp_path_factory.mktemp("msd_stores")
    cache.prepare(read_mtt(root, top_n=len(TAGS)), out, resampler="soxr_hq", workers=2, progress=False)
    return out
