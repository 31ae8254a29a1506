"""The registry of the original files, and the MSD tag names: no Keras needed.

Known files (weights and example clips) are listed, with their public address and
sha256, in the registry ``music_tagger/registry.json`` (package data, so it is in every
wheel and every editable install). :func:`get_file` resolves an entry from the folder named by
``$MUSIC_TAGGER_WEIGHTS_DIR`` when it holds the file, else downloads it with
``keras.utils.get_file``; either way the sha256 is checked.

Reading the tag names or the registry imports neither Keras nor TensorFlow (Keras is
imported by :func:`get_file` only when it must download). Loading the weights into a
model is :func:`music_tagger.legacy.load_legacy_weights`.

Examples
--------
>>> from music_tagger import registry
>>> registry.TAGS[:3]
('rock', 'pop', 'alternative')
>>> path = registry.example("bensound-cute")   # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import WeightsError

ENV_DIR = "MUSIC_TAGGER_WEIGHTS_DIR"


@lru_cache(maxsize=1)
def registry() -> dict[str, Any]:
    """The registry of known files (``music_tagger/registry.json``)."""
    text = resources.files("music_tagger").joinpath("registry.json").read_text()
    return json.loads(text)


#: The 50 last.fm tags of the MSD weights, in the order of the models' outputs.
TAGS: tuple[str, ...] = tuple(registry()["tag_sets"]["msd50"])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _entry(section: str, name: str) -> dict[str, Any]:
    entries = registry()[section]
    if name not in entries:
        raise WeightsError(f"unknown {section[:-1]} {name!r}; known: {', '.join(entries)}")
    return entries[name]


def get_file(section: str, name: str) -> Path:
    """Path to a registry file: local copy first, else a checked download.

    Parameters
    ----------
    section : {"weights", "examples"}
    name : str
        Registry key, e.g. ``"crnn_msd_theano"`` or ``"bensound-cute"``.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    WeightsError
        If the local copy has the wrong sha256, or there is none and the download
        fails (the message says how to provide the file).
    """
    entry = _entry(section, name)
    local_dir = os.environ.get(ENV_DIR)
    if local_dir:
        local = (Path(local_dir).expanduser() / entry["path"]).resolve()
        if local.is_file():
            if _sha256(local) != entry["sha256"]:
                raise WeightsError(
                    f"{local} does not have the sha256 of the original {name} "
                    f"({entry['sha256']}); the file is corrupt or a different version"
                )
            return local
    import keras  # only needed for a download

    try:
        path = keras.utils.get_file(
            fname=Path(entry["path"]).name,
            origin=entry["url"],
            file_hash=entry["sha256"],
            hash_algorithm="sha256",
            cache_subdir="music_tagger",
        )
    except Exception as err:  # network, HTTP or hash failure
        raise WeightsError(
            f"could not obtain {name} ({err}). Download {entry['url']} yourself (sha256 "
            f"{entry['sha256']}) and set {ENV_DIR} to the folder that holds "
            f"{entry['path']}"
        ) from err
    return Path(path)


def example(name: str) -> Path:
    """Path to one of the four clips of the original example (like ``librosa.example``).

    Parameters
    ----------
    name : str
        One of ``"bensound-actionable"``, ``"bensound-cute"``, ``"bensound-dubstep"``,
        ``"bensound-thejazzpiano"``.

    Examples
    --------
    >>> import music_tagger
    >>> music_tagger.example("bensound-cute").name   # doctest: +SKIP
    'bensound-cute.mp3'
    """
    return get_file("examples", name)


def example_names() -> list[str]:
    """Names accepted by :func:`example`."""
    return list(registry()["examples"])


def read_published_scores(path: str | os.PathLike) -> dict[str, list[tuple[str, float]]]:
    """The original's published top-ten scores, from the table of its ``EXPECTED.md``.

    Parameters
    ----------
    path : path-like
        ``EXPECTED.md`` of the reference material: a markdown table with one row per
        clip, cells like ``jazz .444, instrumental .151, ...``.

    Returns
    -------
    dict
        ``{clip: [(tag, score), ...]}`` in rank order.

    Examples
    --------
    >>> read_published_scores("../shared/reference/EXPECTED.md")["bensound-cute"][0]  # doctest: +SKIP
    ('jazz', 0.444)
    """
    table = {}
    for line in Path(path).read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("bensound-"):
            pairs = re.findall(r"([^,]+?) (\.\d+)", ", ".join(cells[1:]))
            table[cells[0]] = [(tag.strip(), float(score)) for tag, score in pairs]
    return table
