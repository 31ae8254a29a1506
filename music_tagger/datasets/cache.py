"""Feature cache: the log-mel spectrograms of a data set, computed once per split.

:func:`prepare` turns a :class:`music_tagger.datasets.dataset.Dataset` into one HDF5 store per
split (``<out_dir>/<split>.h5``). The spectrograms are computed in parallel worker
processes (which import no TensorFlow), with a progress bar. Work in progress lives
in ``<out_dir>/<split>.partial/`` as memory-mapped arrays plus a per-clip status, so
a run that is interrupted (Ctrl-C, or even SIGKILL) continues where it stopped.
Only a finished split is renamed (atomically) to ``<split>.h5``: a store that
exists is complete.

A store holds

* ``melgrams``: float32, shape ``(n, 96, frames)``, contiguous (stores written before the
  contiguous layout: one HDF5 chunk per clip; :mod:`music_tagger.datasets.store` reads both);
* ``y``: uint8 label matrix ``(n, n_tags)``; ``ids`` and ``paths``: strings;
* attributes ``tags``, ``settings`` (the preprocessing, see
  :func:`preprocessing_settings`), ``failures`` (clips left out, with the error)
  and ``split``, the last three as JSON.

Examples
--------
>>> from music_tagger.datasets.mtt import read_mtt
>>> from music_tagger.datasets.cache import prepare, load_store
>>> stores = prepare(read_mtt("mtt"), "features", frames=1366)   # doctest: +SKIP
>>> info = load_store(stores["train"])                           # doctest: +SKIP
>>> info.n, info.frames, len(info.tags)                          # doctest: +SKIP
(15250, 1366, 50)
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import h5py
import numpy as np
from tqdm.auto import tqdm

from .. import audio
from ..audio.reading import READ_MODULES, iter_melgrams
from ..errors import DataError, MissingFileError, OutputExistsError, ParameterError
from ..util.checks import int_between, open_h5
from ..util.files import atomic_path, check_output
from ..util.workers import failure_text, imap_jobs, resolve_workers

__all__ = [
    "FORMAT_VERSION",
    "MSD_SETTINGS",
    "Store",
    "check_msd_settings",
    "load_store",
    "melgram",
    "prepare",
    "preprocessing_settings",
    "read_melgrams",
    "store_path",
]

FORMAT_VERSION = 1
_PENDING, _DONE, _FAILED = 0, 1, 2
_COPY_BLOCK = 64  # clips per block when the finished memmap is copied into HDF5
_FLUSH_EVERY = 64  # results between flushes of the memory maps


def preprocessing_settings(frames: int = audio.N_FRAMES, resampler: str = audio.KAISER_BEST_2016) -> dict[str, Any]:
    """The settings that define a cached spectrogram, as stored with it.

    Parameters
    ----------
    frames : int
        Frames per clip: the centre ``(frames - 1) * 256`` samples at 12 kHz (zero
        padded at the end when shorter). 1366 is the original 29.12 s crop.
    resampler : {"kaiser_best_2016", "soxr_hq"}

    Returns
    -------
    dict

    Examples
    --------
    >>> preprocessing_settings(frames=128)["frames"]
    128
    >>> preprocessing_settings() == MSD_SETTINGS
    True
    """
    frames = int_between(frames, "frames", 2)
    audio.check_resampler(resampler)
    return {
        "sr": audio.SR,
        "n_fft": audio.N_FFT,
        "hop_length": audio.HOP_LENGTH,
        "n_mels": audio.N_MELS,
        "frames": int(frames),
        "crop": "centre, zero padding at the end",
        "scale": "power-4 mel in dB, ref 1, 80 dB floor",
        "resampler": resampler,
    }


#: What the MSD-pretrained weights were trained on (the 2016 preprocessing).
MSD_SETTINGS = preprocessing_settings()


def check_msd_settings(settings: dict[str, Any]) -> None:
    """Raise unless ``settings`` are the preprocessing the MSD weights expect.

    Both resamplers are accepted (they differ by about 0.03 dB); everything else,
    the 1366 frames included, must match.

    Raises
    ------
    DataError
        Naming each setting that differs.

    Examples
    --------
    >>> check_msd_settings(preprocessing_settings(resampler="soxr_hq"))
    >>> check_msd_settings(preprocessing_settings(frames=128))
    Traceback (most recent call last):
    ...
    music_tagger.errors.DataError: the store's preprocessing differs from what the MSD weights expect (frames: 128, expected 1366); prepare the features again with the defaults (music-tagger prepare without --frames)
    """
    diffs = [
        f"{key}: {settings.get(key)!r}, expected {value!r}"
        for key, value in MSD_SETTINGS.items()
        if key != "resampler" and settings.get(key) != value
    ]
    if diffs:
        raise DataError(
            "the store's preprocessing differs from what the MSD weights expect ("
            + "; ".join(diffs)
            + "); prepare the features again with the defaults (music-tagger prepare "
            "without --frames)"
        )


def melgram(
    path: str | os.PathLike, frames: int = audio.N_FRAMES, resampler: str = audio.KAISER_BEST_2016
) -> np.ndarray:
    """The log-mel of an audio file's centre ``frames`` frames, reading only that window.

    The centre ``(frames - 1) * 256`` samples at 12 kHz (zero-padded at the end for a
    shorter track) are read as consecutive crops of
    :func:`music_tagger.audio.reading.iter_melgrams`, which decodes and resamples
    only the audio they need. With the 2016 resampler the log-mel equals the
    whole-file path's (``log_melgram(center_crop(load_audio(path), ...))``; with
    ``frames=1366`` :func:`music_tagger.audio.compute_melgram`) bit for bit; with
    soxr too when the file fits in one window, and to float rounding (up to 1e-4 in
    the log-mel, measured in the tests) where soxr's blocks fall differently on a
    longer file.

    Returns
    -------
    np.ndarray, shape (96, frames), float32

    Raises
    ------
    music_tagger.audio.AudioError
        The file is missing or unreadable.

    Examples
    --------
    >>> melgram("song.mp3", frames=128).shape       # doctest: +SKIP
    (96, 128)
    """
    n_keep = (frames - 1) * audio.HOP_LENGTH

    def starts(n: int) -> np.ndarray:  # crops end to end over the centre n_keep samples of n
        first = int(audio.crop_starts(n, 1, n_keep)[0])
        return np.arange(first, max(first + 1, min(first + n_keep, n)), audio.N_SAMPLES)

    ((_, crops, _, _),) = iter_melgrams(path, starts=starts, chunk=None, input="audio", resampler=resampler)
    y = crops.reshape(-1)[:n_keep]  # each crop zero-padded at the end, as center_crop pads
    return audio.log_melgram(np.concatenate([y, np.zeros(n_keep - len(y), np.float32)]))


def _clip(job: tuple[int, str, int, str]) -> Iterator[tuple[int, np.ndarray | None, str | None]]:
    """A job of the pool: one clip's spectrogram, or why it could not be read."""
    index, path, frames, resampler = job
    try:
        yield index, melgram(path, frames, resampler), None
    except Exception as err:  # an unreadable file is reported, not fatal
        yield index, None, failure_text(path, err)


def store_path(out_dir: str | os.PathLike, split: str) -> Path:
    """Where :func:`prepare` puts the finished store of ``split``.

    Examples
    --------
    >>> store_path("features", "train").as_posix()
    'features/train.h5'
    """
    return Path(out_dir) / f"{split}.h5"


@dataclass
class _Partial:
    """A split in progress: memory maps of the spectrograms and of each clip's status."""

    folder: Path
    melgrams: np.memmap
    status: np.memmap

    @classmethod
    def open(cls, folder: Path, meta: dict[str, Any], n_mels: int) -> "_Partial":
        """Open ``folder`` if it holds the same work, else start it afresh."""
        if folder.is_dir():
            try:
                same = json.loads((folder / "meta.json").read_text()) == meta
                if same:
                    return cls(
                        folder,
                        np.load(folder / "melgrams.npy", mmap_mode="r+"),
                        np.load(folder / "status.npy", mmap_mode="r+"),
                    )
                warnings.warn(f"{folder} holds other work (clips or settings); starting again")
            except (OSError, ValueError) as err:
                warnings.warn(f"{folder} is unreadable ({err}); starting again")
            shutil.rmtree(folder)
        with atomic_path(folder) as tmp:  # the folder appears only once it is whole
            tmp.mkdir(parents=True)
            n, frames = len(meta["ids"]), meta["settings"]["frames"]
            open_memmap = np.lib.format.open_memmap
            open_memmap(tmp / "melgrams.npy", "w+", np.float32, (n, n_mels, frames)).flush()
            open_memmap(tmp / "status.npy", "w+", np.int8, (n,)).flush()
            (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        return cls.open(folder, meta, n_mels)

    def flush(self) -> None:
        self.melgrams.flush()
        self.status.flush()


def _finish(partial: _Partial, dest: Path, meta: dict[str, Any], y: np.ndarray, failures: list[dict]) -> None:
    """Copy the clips that succeeded into ``dest`` (atomically), then drop the partial."""
    keep = np.flatnonzero(np.asarray(partial.status) == _DONE)
    with atomic_path(dest) as tmp:
        strings = h5py.string_dtype()
        with h5py.File(tmp, "w") as f:
            shape = (len(keep),) + partial.melgrams.shape[1:]
            # contiguous: every clip at a fixed offset, for store.MelgramFile
            data = f.create_dataset("melgrams", shape, np.float32)
            for start in range(0, len(keep), _COPY_BLOCK):
                block = keep[start : start + _COPY_BLOCK]
                data[start : start + len(block)] = partial.melgrams[block]
            f.create_dataset("y", data=y[keep].astype(np.uint8))
            f.create_dataset("ids", data=[meta["ids"][i] for i in keep], dtype=strings)
            f.create_dataset("paths", data=[meta["paths"][i] for i in keep], dtype=strings)
            f.attrs["tags"] = json.dumps(meta["tags"])
            f.attrs["settings"] = json.dumps(meta["settings"])
            f.attrs["failures"] = json.dumps(failures)
            f.attrs["split"] = meta["split"]
            f.attrs["format_version"] = FORMAT_VERSION
    shutil.rmtree(partial.folder)


def _prepare_split(
    dataset, split: str, out_dir: Path, settings: dict[str, Any], workers: int | None, progress: bool
) -> tuple[Path, list[dict]]:
    sub = dataset.subset(split)
    dest = store_path(out_dir, split)
    meta = {
        "format_version": FORMAT_VERSION,
        "split": split,
        "tags": list(sub.tags),
        "ids": [str(i) for i in sub.ids],
        "paths": [os.path.abspath(p) for p in sub.paths],  # the audio, from any folder (compact features)
        "settings": settings,
    }
    if dest.exists():
        info = load_store(dest)
        if info.settings != settings or info.tags != meta["tags"]:
            raise OutputExistsError(
                f"{dest} exists with other settings or tags; choose another output folder or delete it"
            )
        return dest, info.failures
    partial = _Partial.open(out_dir / f"{split}.partial", meta, audio.N_MELS)
    todo = np.flatnonzero(np.asarray(partial.status) != _DONE)
    jobs = [(int(i), meta["paths"][i], settings["frames"], settings["resampler"]) for i in todo]
    failures = []
    bar = tqdm(
        total=len(meta["ids"]), initial=len(meta["ids"]) - len(todo),
        desc=f"prepare {split}", unit="clip", disable=not progress,
    )  # fmt: skip
    try:
        for count, (i, x, error) in enumerate(imap_jobs(_clip, jobs, workers, preload=READ_MODULES), 1):
            if error is None:
                partial.melgrams[i] = x
                partial.status[i] = _DONE  # only after the data: a done clip is whole
            else:
                partial.status[i] = _FAILED
                failures.append({"id": meta["ids"][i], "path": meta["paths"][i], "error": error})
            bar.update()
            if count % _FLUSH_EVERY == 0:
                partial.flush()
    finally:
        bar.close()
        partial.flush()
    if len(failures) == len(meta["ids"]):
        raise DataError(f"every clip of split {split!r} failed, e.g. {failures[0]['path']}: {failures[0]['error']}")
    _finish(partial, dest, meta, np.asarray(sub.y), failures)
    return dest, failures


def prepare(
    dataset,
    out_dir: str | os.PathLike,
    *,
    splits: Sequence[str] = ("train", "valid", "test"),
    frames: int = audio.N_FRAMES,
    resampler: str = audio.KAISER_BEST_2016,
    workers: int | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Compute the spectrograms of a data set into one HDF5 store per split.

    Resumable: a split whose store exists is skipped, and a split that was
    interrupted continues from its last computed clip. Clips whose audio cannot be
    read are left out and reported in one warning (and in the store's
    ``failures``).

    Parameters
    ----------
    dataset : music_tagger.datasets.dataset.Dataset
        Paths, labels, tags and splits, e.g. from :func:`music_tagger.datasets.mtt.read_mtt`.
    out_dir : str or path-like
        Folder of the stores (created if missing).
    splits : sequence of str
        Which splits to prepare.
    frames : int
        Frames per clip (the centre crop); 1366 (29.12 s) is the original input and
        what the MSD weights need; fewer make small experiments fast.
    resampler : {"kaiser_best_2016", "soxr_hq"}
        The 2016 resampler (default, faithful) or the faster soxr.
    workers : int, optional
        Worker processes (default: the CPU cores this process may use); 0
        computes in this process.
    progress : bool
        Show a progress bar per split.

    Returns
    -------
    dict
        Split name -> path of its store.

    Raises
    ------
    FileExistsError
        A store of a split exists with other settings or tags.
    RuntimeError
        Every clip of a split failed.

    Examples
    --------
    >>> from music_tagger.datasets.synth import make_mtt_like
    >>> from music_tagger.datasets.mtt import read_mtt
    >>> root = make_mtt_like("mtt_like", n_clips=60)                   # doctest: +SKIP
    >>> prepare(read_mtt(root), "features", frames=128, workers=2)     # doctest: +SKIP
    {'train': PosixPath('features/train.h5'), ...}
    """
    settings = preprocessing_settings(frames, resampler)
    workers = resolve_workers(workers)
    available = set(np.unique(np.asarray(dataset.split)))
    missing = [s for s in splits if s not in available]
    if missing:
        raise ParameterError(f"the data set has no split {missing}; it has {sorted(available)}")
    check_output(Path(out_dir).resolve(), "stores folder", kind="folder", overwrite=True)  # (written into)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stores, failures = {}, []
    # the package's pool (music_tagger.util.workers.imap_jobs), never more workers
    # than the clips left to compute; 0: this process
    for split in splits:
        stores[split], failed = _prepare_split(dataset, split, out_dir, settings, workers, progress)
        failures += failed
    if failures:
        lines = [f"  {f['error']}" for f in failures[:10]]
        more = [f"  ... and {len(failures) - 10} more"] if len(failures) > 10 else []
        warnings.warn(
            "\n".join([f"{len(failures)} clip(s) could not be read and were left out:"] + lines + more),
            stacklevel=2,
        )
    return stores


@dataclass(frozen=True)
class Store:
    """Everything in a store except the spectrograms (read those with :func:`read_melgrams`).

    Attributes
    ----------
    path : pathlib.Path
    split : str
    tags : list of str
    ids, paths : list of str
    y : np.ndarray, shape (n, n_tags), uint8
    settings : dict
        See :func:`preprocessing_settings`.
    failures : list of dict
        Clips left out: ``{"id", "path", "error"}``.
    """

    path: Path
    split: str
    tags: list[str]
    ids: list[str]
    paths: list[str]
    y: np.ndarray
    settings: dict[str, Any]
    failures: list[dict]

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def frames(self) -> int:
        return int(self.settings["frames"])


def load_store(path: str | os.PathLike) -> Store:
    """Read a store's labels and metadata.

    Raises
    ------
    FileNotFoundError
        No store at ``path`` (an unfinished one does not count).
    ValueError
        The file is not a store of this format.

    Examples
    --------
    >>> store = load_store("features/valid.h5")       # doctest: +SKIP
    >>> store.y.shape                                  # doctest: +SKIP
    (1529, 50)
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(
            f"no feature store at {path}; create it with music-tagger prepare "
            "(an interrupted prepare leaves only a .partial folder: run it again)"
        )
    with open_h5(path) as f:  # random bytes, truncated, locked, missing parts: one line
        if f.attrs.get("format_version") != FORMAT_VERSION:
            raise DataError(f"{path} is not a music_tagger feature store (format {FORMAT_VERSION})")
        try:
            return Store(
                path=path,
                split=str(f.attrs["split"]),
                tags=json.loads(f.attrs["tags"]),
                ids=[s.decode() for s in f["ids"][:]],
                paths=[s.decode() for s in f["paths"][:]],
                y=f["y"][:],
                settings=json.loads(f.attrs["settings"]),
                failures=json.loads(f.attrs["failures"]),
            )
        except (TypeError, ValueError, AttributeError) as err:  # ValueError: JSON too
            raise DataError(f"{path} is not a readable feature store: {err}") from None


def read_melgrams(path: str | os.PathLike, index: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """Spectrograms of a store, all or those at ``index`` (in the order given).

    Returns
    -------
    np.ndarray, shape (len(index), 96, frames), float32

    Examples
    --------
    >>> read_melgrams("features/valid.h5", [3, 1]).shape   # doctest: +SKIP
    (2, 96, 1366)
    """
    with open_h5(path) as f:
        data = f["melgrams"]
        if index is None:
            return data[:]
        index = np.asarray(index, dtype=np.int64)
        order = np.argsort(index)
        out = np.empty((len(index),) + data.shape[1:], np.float32)
        if len(index):
            out[order] = data[index[order]]  # h5py reads increasing indices only
        return out
