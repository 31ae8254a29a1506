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
elif os.environ.get(registry.ENV_DIR):
    # a relative folder (``../shared/...``) means from where pytest was started; the
    # tests that run Python in another working folder must see the same folder
    os.environ[registry.ENV_DIR] = os.path.abspath(os.path.expanduser(os.environ[registry.ENV_DIR]))

if os.environ.get("PYTEST_XDIST_WORKER"):
    # under -n 2 the two workers share the 2 cores: one TensorFlow compute thread each
    # (inherited by the Python processes the tests start), instead of two each that
    # contend for the cores, and spin while they wait
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")

CLIPS = registry.example_names()
#: every split a store folder can hold
SPLITS = ("train", "valid", "test")

#: (registry section, name) of every file the suite reads.
REFERENCE_FILES = (
    *[("weights", name) for name in registry.registry()["weights"]],
    *[(section, clip) for section in ("examples", "spectrograms") for clip in CLIPS],
    *[("audio", name) for name in registry.registry()["audio"]],
    ("documents", "original_readme"),
)


def _expected_md() -> Path | None:
    """EXPECTED.md beside a shared reference folder: the published scores, if there."""
    local = os.environ.get(registry.ENV_DIR)
    expected = Path(local).expanduser().resolve().parent / "EXPECTED.md" if local else None
    return expected if expected is not None and expected.is_file() else None


def _resolve_all() -> tuple[dict[tuple[str, str], Path], Path]:
    """Every reference file and the published scores' file, or stop with one message."""
    expected = _expected_md()
    wanted = [key for key in REFERENCE_FILES if expected is None or key[0] != "documents"]
    found, missing, reason = {}, [], ""
    for section, name in wanted:
        if not reason:  # after one failed download, do not try the others
            try:
                found[section, name] = registry.get_file(section, name)
                continue
            except WeightsError as err:
                reason = str(err.__cause__ or err)
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
    return found, expected or found["documents", "original_readme"]


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_FILES], session.config.stash[_SCORES] = _resolve_all()


_FILES = pytest.StashKey[dict]()
_SCORES = pytest.StashKey[Path]()


@pytest.fixture(scope="session")
def reference_files(request: pytest.FixtureRequest) -> dict[tuple[str, str], Path]:
    """``{(section, name): path}`` of every reference file, resolved once."""
    return request.config.stash[_FILES]


@pytest.fixture(scope="session")
def reference_data(reference_files: dict[tuple[str, str], Path]) -> Path:
    """The one folder that holds the original 2016 weights, clips and spectrograms (``data/``)."""
    folders = {path.parent for (section, name), path in reference_files.items()
               if section != "documents" and registry.registry()[section][name]["path"].startswith("data/")}  # fmt: skip
    assert len(folders) == 1, f"reference files are spread over {sorted(folders)}"
    return folders.pop()


@pytest.fixture(scope="session")
def published_scores(request: pytest.FixtureRequest) -> dict[str, list[tuple[str, float]]]:
    """The original's published top-ten scores of the four clips."""
    return registry.read_published_scores(request.config.stash[_SCORES])


@pytest.fixture(scope="session")
def reference_melgrams(reference_data):
    """The original code's own spectrograms of the four clips, (4, 96, 1366, 1) float32."""
    import numpy as np

    x = np.stack([np.load(reference_data / f"{c}.npy")[0, 0] for c in CLIPS])
    return x.astype("float32")[..., None]


@pytest.fixture(scope="session")
def crnn():
    """The MSD CRNN as ``tag`` builds it on TensorFlow (``get_model`` caches it: the CLI reuses it)."""
    from music_tagger.tagging.tagger import get_model

    return get_model("crnn", "tf")


@pytest.fixture(scope="session")
def synthetic_stores(tmp_path_factory):
    """``make(n_clips, seed=0, frames=128, splits=("train", "valid"), resampler=...)``:
    the folder of feature stores of a generated MTT-layout set of 3 s clips (60% train,
    15% valid, 25% test), made once per argument set; every test that trains or
    fine-tunes takes its stores from here."""
    from music_tagger import audio
    from music_tagger.datasets import cache
    from music_tagger.datasets.mtt import read_mtt
    from music_tagger.datasets.synth import TAGS, make_mtt_like

    made: dict[tuple, Path] = {}

    def make(n_clips: int, seed: int = 0, frames: int = 128, splits=("train", "valid"),
             resampler: str = audio.KAISER_BEST_2016) -> Path:  # fmt: skip
        key = (n_clips, seed, frames, tuple(splits), resampler)
        if key not in made:
            root = make_mtt_like(tmp_path_factory.mktemp("mtt"), n_clips=n_clips, seed=seed)
            out = tmp_path_factory.mktemp("features")
            # in this process: librosa is imported already, and a few hundred 3 s clips
            # take less than starting worker processes would (tests/test_cache.py runs those)
            cache.prepare(read_mtt(root, top_n=len(TAGS)), out, splits=splits, frames=frames,
                          resampler=resampler, workers=0, progress=False)  # fmt: skip
            made[key] = out
        return made[key]

    return make


@pytest.fixture(scope="session")
def msd_stores(synthetic_stores) -> Path:
    """Stores of 24 generated 3 s clips at the MSD preprocessing (1366 frames, zero
    padded), for the transfer tests: 14 train, 3 valid, 7 test clips."""
    return synthetic_stores(24, seed=3, frames=1366, splits=SPLITS, resampler="soxr_hq")


#: The longest files (they train networks, start processes or read long files),
#: longest first, as measured under ``-n 2``. They run before the rest, so that under
#: ``-n 2 --dist loadfile`` (CI) the two workers start on them and the many short
#: files even out the end, instead of one long file starting last and running alone.
LONGEST_FIRST = ("test_training.py", "test_distribute.py", "test_reading.py", "test_accelerators.py",
                 "test_processes.py", "test_deploy.py", "test_experiment.py", "test_deploy_docs.py",
                 "test_training_resume.py", "test_transfer.py", "test_architectures.py", "test_serve.py")  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order
