"""Finding the original files and importing Keras 1 HDF5 weights into Keras 3 models.

Known files (weights and example clips) are listed, with their public address and
sha256, in the registry ``music_tagger/registry.json`` (package data, so it is in every
wheel and every editable install). :func:`get_file` resolves an entry from the folder named by
``$MUSIC_TAGGER_WEIGHTS_DIR`` when it holds the file, else downloads it with
``keras.utils.get_file``; either way the sha256 is checked.

:func:`load_legacy_weights` reads an original Keras 1 HDF5 file with h5py and sets
it into a model built by :mod:`music_tagger.architectures`, through the conversions of
:mod:`music_tagger.legacy`.

Examples
--------
>>> from music_tagger import weights
>>> weights.TAGS[:3]
['rock', 'pop', 'alternative']
>>> path = weights.example("bensound-cute")   # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

if TYPE_CHECKING:
    from . import legacy

ENV_DIR = "MUSIC_TAGGER_WEIGHTS_DIR"
ENV_BASE_URL = "MUSIC_TAGGER_BASE_URL"


class WeightsError(ValueError):
    """A weight file is missing, corrupt, or does not match the architecture."""


@lru_cache(maxsize=1)
def registry() -> dict[str, Any]:
    """The registry of known files (``music_tagger/registry.json``)."""
    text = resources.files("music_tagger").joinpath("registry.json").read_text()
    return json.loads(text)


TAGS: list[str] = list(registry()["tag_sets"]["msd50"])


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


def get_file(section: str, name: str, *, cache_dir: str | os.PathLike | None = None) -> Path:
    """Path to a registry file: local copy first, else a checked download.

    Parameters
    ----------
    section : {"weights", "examples", "spectrograms", "documents"}
    name : str
        Registry key, e.g. ``"crnn_msd_theano"`` or ``"bensound-cute"``.
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
        cache_dir = os.environ.get("KERAS_HOME") or Path("~/.keras").expanduser()
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


#: Suffixes of the weight files Keras 3 writes; any other file is read as Keras 1.
KERAS3_SUFFIXES = (".keras", ".weights.h5")


def is_keras3_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a Keras 3 ``.keras`` / ``.weights.h5`` file (by its name).

    Examples
    --------
    >>> is_keras3_file("run/model.keras"), is_keras3_file("music_tagger_crnn_weights_theano.h5")
    (True, False)
    """
    return str(path).endswith(KERAS3_SUFFIXES)


def _read_keras1_file(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """``{layer: {short weight name: array}}`` from a Keras 1 HDF5 weight file."""
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as err:
        raise WeightsError(f"{path} is not a readable HDF5 file ({err})") from err
    with f:
        if "layer_names" not in f.attrs:
            raise WeightsError(f"{path} is not a Keras 1 weight file (no 'layer_names')")
        out = {}
        for layer in (n.decode() for n in f.attrs["layer_names"]):
            group = f[layer]
            arrays = {}
            for full in (n.decode() for n in group.attrs["weight_names"]):
                short = full.split(":")[0]
                if short.endswith("_1"):  # tensorflow files: 'conv1_W_1:0'
                    short = short[:-2]
                arrays[short[len(layer) + 1 :]] = group[full][()]
            out[layer] = arrays
    return out


def _is_theano_file(path: Path) -> bool:
    """Files saved from the tensorflow backend name their variables ``...:0``."""
    with h5py.File(path, "r") as f:
        for layer in (n.decode() for n in f.attrs["layer_names"]):
            names = [n.decode() for n in f[layer].attrs["weight_names"]]
            if names:
                return not names[0].endswith(":0")
    raise WeightsError(f"{path} holds no weights")


def _layer_arrays(layer, arrays: dict[str, np.ndarray], flip: bool, bn_semantics: str):
    """The Keras 3 weight list of ``layer`` from its Keras 1 arrays."""
    from . import legacy  # Keras: imported on use, so that TAGS and the registry stay light

    kind = type(layer).__name__
    if kind == "Conv2D":
        return [legacy.convert_conv_kernel(arrays["W"], flip), arrays["b"]]
    if kind == "BatchNormalization":
        mean, var = legacy.convert_bn_statistics(
            arrays["running_mean"], arrays["running_std"], bn_semantics, layer.epsilon
        )
        return [arrays["gamma"], arrays["beta"], mean, var]
    if kind == "GRU":
        return legacy.pack_gru_weights(arrays)
    if kind == "Dense":
        return [arrays["W"], arrays["b"]]
    raise WeightsError(f"no Keras 1 conversion for layer {layer.name!r} of type {kind}")


def load_legacy_weights(
    model,
    path: str | os.PathLike,
    *,
    bn_semantics: legacy.BNSemantics = "variance",
    flip: bool | None = None,
) -> None:
    """Set an original Keras 1 HDF5 weight file into ``model``, layer by layer by name.

    Parameters
    ----------
    model : keras.Model
        Built by :mod:`music_tagger.architectures` (layer names as in the original).
    path : path-like
        A Keras 1 weight file, theano or tensorflow variant.
    bn_semantics : {"variance", "std_keras106"}
        How to read ``running_std`` (see :func:`legacy.convert_bn_statistics`).
    flip : bool, optional
        Flip conv kernels; default: detected from the file (theano files flip).

    Raises
    ------
    WeightsError
        Not HDF5, not a Keras 1 file, a layer of the model missing in the file, or
        an array whose shape does not fit; the message names the layer and shapes.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weight file not found: {path}")
    stored = _read_keras1_file(path)
    flip = _is_theano_file(path) if flip is None else flip
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in stored:
            raise WeightsError(
                f"{path.name} has no weights for layer {layer.name!r} "
                f"(the file has: {', '.join(n for n, a in stored.items() if a)})"
            )
        try:
            arrays = _layer_arrays(layer, stored[layer.name], flip, bn_semantics)
        except KeyError as err:
            raise WeightsError(
                f"{path.name}: layer {layer.name!r} lacks weight {err}"
            ) from err
        expected = [tuple(w.shape) for w in layer.weights]
        found = [tuple(a.shape) for a in arrays]
        if expected != found:
            raise WeightsError(
                f"{path.name}: layer {layer.name!r} expects weights of shapes {expected}, "
                f"the file gives {found}"
            )
        layer.set_weights(arrays)
