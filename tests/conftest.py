"""Shared fixtures: the original reference files, found the way a user's files are found.

Every file comes through the package's own resolver, :func:`music_tagger.registry.get_file`:
from ``$MUSIC_TAGGER_WEIGHTS_DIR`` when it is set (CI sets it to
``../shared/reference/music-auto_tagging-keras``; a checkout with that folder beside it
gets the same default), otherwise downloaded once into the Keras cache (or from
``$MUSIC_TAGGER_BASE_URL``) and checked against its sha256. When a file can be had
neither way, the run stops before any test with one message naming what is missing.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from music_tagger import registry
from music_tagger.errors import WeightsError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "music-auto_tagging-keras"

if registry.ENV_DIR not in os.environ and DEFAULT_REFERENCE.is_dir():
    os.environ[registry.ENV_DIR] = str(DEFAULT_REFERENCE)

CLIPS = registry.example_names()

#: (registry section, name) of every file the suite reads.
REFERENCE_FILES = (
    *[("weights", name) for name in registry.registry()["weights"]],
    *[(section, clip) for section in ("examples", "spectrograms") for clip in CLIPS],
    ("documents", "original_readme"),
)


def _published_scores_file() -> tuple[str, str] | Path:
    """EXPECTED.md beside a shared reference folder, else the original README."""
    local = os.environ.get(registry.ENV_DIR)
    expected = Path(local).expanduser().resolve().parent / "EXPECTED.md" if local else None
    return expected if expected is not None and expected.is_file() else ("documents", "original_readme")


def _resolve_all() -> dict[tuple[str, str], Path]:
    """Resolve every reference file, or stop the run with one message."""
    found, missing, reason = {}, [], ""
    for section, name in REFERENCE_FILES:
        if (section, name) == ("documents", "original_readme") and isinstance(_published_scores_file(), Path):
            continue  # the scores come from EXPECTED.md
        if not reason:  # after one failed download, do not try the others
            try:
                found[section, name] = registry.get_file(section, name)
                continue
            except WeightsError as err:
                reason = str(err).split(". Download it yourself")[0]
        missing.append(registry.registry()[section][name]["path"])
    if missing:
        raise pytest.UsageError(
            f"the tests need the original reference files; {len(missing)} could not be had "
            f"({reason}):\n  " + "\n  ".join(missing) + "\n"
            "Provide them one of two ways:\n"
            f"  - set {registry.ENV_DIR} to a folder that holds those paths (a copy of the "
            "original repository keunwoochoi/music-auto_tagging-keras), or\n"
            "  - run once with a network: each file is downloaded into ~/.keras/music_tagger "
            f"and checked against its sha256 (or from the mirror named by {registry.ENV_BASE_URL})."
        )
    return found


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_FILES] = _resolve_all()


_FILES = pytest.StashKey[dict]()


@pytest.fixture(scope="session")
def reference_files(request: pytest.FixtureRequest) -> dict[tuple[str, str], Path]:
    """``{(section, name): path}`` of every reference file, resolved once."""
    return request.config.stash[_FILES]


@pytest.fixture(scope="session")
def reference_data(reference_files: dict[tuple[str, str], Path]) -> Path:
    """The one folder that holds the original weights, clips and spectrograms."""
    folders = {path.parent for key, path in reference_files.items() if key[0] != "documents"}
    assert len(folders) == 1, f"reference files are spread over {sorted(folders)}"
    return folders.pop()


@pytest.fixture(scope="session")
def published_scores() -> dict[str, list[tuple[str, float]]]:
    """The original's published top-ten scores of the four clips."""
    source = _published_scores_file()
    path = source if isinstance(source, Path) else registry.get_file(*source)
    return registry.read_published_scores(path)
