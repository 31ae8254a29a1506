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


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The folder with the original ``data/`` and ``compact_cnn/`` files."""
    path = Path(os.environ["MUSIC_TAGGER_WEIGHTS_DIR"]).resolve()
    assert (path / "data").is_dir(), f"reference files missing under {path}"
    return path


@pytest.fixture(scope="session")
def reference_data(reference_dir: Path) -> Path:
    return reference_dir / "data"
