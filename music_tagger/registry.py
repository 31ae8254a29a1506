"""The registry of the original files, and the MSD tag names: no Keras needed.

Known files (weights and example clips) are listed, with their public address and
sha256, in the registry ``music_tagger/registry.json`` (package data, so it is in every
wheel and every editable install). :func:`get_file` resolves an entry from the folder named by
``$MUSIC_TAGGER_WEIGHTS_DIR`` when it holds the file, else downloads it with
``keras.utils.get_file``; either way the sha256 is checked.

Reading the tag names or the registry imports neither Keras nor TensorFlow (Keras is
imported by :func:`get_file` only when it must download). Loading the weights into a
model is :func:`music_tagger.models.legacy.load_legacy_weights`.

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
ENV_BASE_URL = "MUSIC_TAGGER_BASE_URL"


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


def url(section: str, name: str) -> str:
    """Where a registry file is downloaded from.

    The public address of the registry, unless ``$MUSIC_TAGGER_BASE_URL`` names a
    mirror: then ``<base>/<path>`` for every file (a company mirror of model files, an
    offline cluster's file server).

    Examples
    --------
    >>> import os
    >>> os.environ["MUSIC_TAGGER_BASE_URL"] = "http://models.example.org/crnn/"
    >>> url("weights", "crnn_msd_theano")
    'http://models.example.org/crnn/data/music_tagger_crnn_weights_theano.h5'
    >>> del os.environ["MUSIC_TAGGER_BASE_URL"]
    """
    entry = _entry(section, name)
    base = os.environ.get(ENV_BASE_URL, "").strip()
    return f"{base.rstrip('/')}/{entry['path']}" if base else entry["url"]


def cache_folder() -> Path:
    """Where downloaded files (and files made from them) are kept.

    ``<$KERAS_HOME or ~/.keras>/music_tagger``: the Keras cache, as for
    ``keras.utils.get_file``. Nothing is created.

    Examples
    --------
    >>> cache_folder().name
    'music_tagger'
    """
    return Path(os.environ.get("KERAS_HOME") or Path("~/.keras").expanduser()) / "music_tagger"


def get_file(section: str, name: str, *, cache_dir: str | os.PathLike | None = None) -> Path:
    """Path to a registry file: local copy first, else a checked download.

    Parameters
    ----------
    section : {"weights", "examples", "spectrograms", "audio", "documents"}
    name : str
        Registry key, e.g. ``"crnn_msd_theano"``, ``"compact_msd_layer4"`` or ``"bensound-cute"``.
    cache_dir : path-like, optional
        Where downloads are kept (``<cache_dir>/music_tagger/``); by default the Keras
        cache, ``~/.keras`` (or ``$KERAS_HOME``).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    WeightsError
        If the local copy has the wrong sha256, or there is none and the download
        fails or has the wrong sha256 (nothing is then left in the cache; the message
        says how to provide the file).
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

    origin = url(section, name)
    fname = Path(entry["path"]).name
    if cache_dir is None:
        cache_dir = cache_folder().parent
    Path(cache_dir).mkdir(parents=True, exist_ok=True)  # else Keras falls back to /tmp
    try:
        path = keras.utils.get_file(
            fname=fname,
            origin=origin,
            file_hash=entry["sha256"],
            hash_algorithm="sha256",
            cache_dir=os.fspath(cache_dir),
            cache_subdir="music_tagger",
        )
    except Exception as err:  # network, HTTP or hash failure
        # Keras keeps a download that fails its hash check: never leave one to be used.
        Path(cache_dir, "music_tagger", fname).unlink(missing_ok=True)
        raise WeightsError(
            f"could not obtain {name} from {origin} ({err}). Download it yourself "
            f"(sha256 {entry['sha256']}) and set {ENV_DIR} to the folder that holds "
            f"{entry['path']}, or set {ENV_BASE_URL} to a mirror"
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
    """The original's published top-ten scores of the four example clips.

    Reads either the original repository's ``README.md`` (registry entry
    ``documents/original_readme``: a clip's path, then lines of ``('tag', '0.444')``
    pairs) or the table of a reference ``EXPECTED.md`` (one row per clip, cells like
    ``jazz .444, instrumental .151, ...``).

    Parameters
    ----------
    path : path-like
        One of the two files.

    Returns
    -------
    dict
        ``{clip: [(tag, score), ...]}`` in rank order.

    Raises
    ------
    WeightsError
        If the file holds no scores.

    Examples
    --------
    >>> scores = read_published_scores(get_file("documents", "original_readme"))  # doctest: +SKIP
    >>> scores["bensound-cute"][0]  # doctest: +SKIP
    ('jazz', 0.444)
    """
    table: dict[str, list[tuple[str, float]]] = {}
    clip = None
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        named = re.fullmatch(r"\s*data/(bensound-[\w-]+)\.mp3\s*", line)
        if len(cells) == 3 and cells[0].startswith("bensound-"):  # EXPECTED.md table
            pairs = re.findall(r"([^,]+?) (\.\d+)", ", ".join(cells[1:]))
            table[cells[0]] = [(tag.strip(), float(score)) for tag, score in pairs]
        elif named:  # original README: the clip's path, then its scores
            clip = named.group(1)
            table[clip] = []
        elif clip and line.startswith("[("):
            pairs = re.findall(r"\('([^']+)', '([\d.]+)'\)", line)
            table[clip] += [(tag, float(score)) for tag, score in pairs]
        else:
            clip = None
    table = {name: pairs for name, pairs in table.items() if pairs}
    if not table:
        raise WeightsError(f"{path} holds no published scores")
    return table
