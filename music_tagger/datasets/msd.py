"""The Million Song Dataset's tag annotations, read into a :class:`~music_tagger.datasets.dataset.Dataset`.

Examples
--------
>>> from music_tagger.datasets.msd import read_msd
>>> ds = read_msd("msd/", labels="msd/labels.tsv")   # doctest: +SKIP"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import DataError, MissingFileError
from .dataset import Dataset, PathLike, Problem, Row, assemble, read_list, read_tag_list, split_files

__all__ = ["read_msd"]

# ----------------------------------------------------------------------------- MSD


def _read_label_file(path: Path) -> dict[str, tuple[str, ...]]:
    """``track_id -> tags`` from lines ``track_id<TAB or comma>tag|tag|...``; a first
    line starting with ``track_id`` is a header."""
    mapping = {}
    for line in read_list(path):
        track, _, tags = line.partition("\t") if "\t" in line else line.partition(",")
        if track.strip().lower() == "track_id" and not mapping:
            continue
        mapping[track.strip()] = tuple(t.strip() for t in tags.split("|") if t.strip())
    return mapping


def _msd_audio(root: Path, track_id: str, extensions: Sequence[str]) -> Path:
    """``root/A/B/C/TRABC...<ext>`` for the first extension present (else the first)."""
    folder = root.joinpath(*track_id[2:5])
    candidates = [folder / (track_id + ext) for ext in extensions]
    return next((p for p in candidates if p.is_file()), candidates[0])


def read_msd(
    audio_root: PathLike,
    split_dir: PathLike,
    tags: PathLike | Sequence[str] | None = None,
    labels: PathLike | None = None,
    extensions: Sequence[str] = (".mp3", ".clip.mp3", ".wav"),
) -> Dataset:
    """Read the paper's Million Song Dataset setting: 50 tags, listed splits.

    Parameters
    ----------
    audio_root : str or path-like
        Audio by MSD track id in the usual three-level layout:
        ``audio_root/A/B/C/TRABC...`` + an extension from ``extensions``.
    split_dir : str or path-like
        Folder with one track-id list per split (one id per line; only the first
        tab- or comma-separated field counts), named as in
        ``keunwoochoi/MSD_split_for_tagging`` (``train_x_msd_id.txt``, ...) or
        ``train``, ``valid``, ``test`` with an extension among
        :data:`LIST_EXTENSIONS`.
    tags : path-like or sequence of str, optional
        The tag vocabulary (a file with one tag per line, or a list), in the order
        of the label columns. By default ``split_dir/50tagList.txt`` or
        ``split_dir/tags.txt`` if present, else the 50 tags of the original models
        (:data:`music_tagger.registry.TAGS`).
    labels : path-like, optional
        A file of lines ``track_id<TAB>tag|tag|...`` (comma instead of tab also
        works; an optional ``track_id`` header line). By default the public
        ``{train,valid,test}_y.npy`` in ``split_dir``: 0/1 arrays of shape
        ``(n_ids, n_tags)`` aligned with the id lists.
    extensions : sequence of str
        Audio file endings tried in order.

    Returns
    -------
    Dataset
        Ids without labels or tags, with unknown tags, without audio, or listed
        twice are in ``problems``, not in the data.

    Raises
    ------
    FileNotFoundError
        If a split list, the tag list or a label file is missing.
    ValueError
        If a ``*_y.npy`` array does not match its id list and the tags, or is not
        binary.

    Examples
    --------
    >>> data = read_msd("/data/msd/audio", "/data/MSD_split_for_tagging")  # doctest: +SKIP
    >>> data.tags[:3]                                                      # doctest: +SKIP
    ['rock', 'pop', 'alternative']
    """
    audio_root, split_dir = Path(audio_root), Path(split_dir)
    lists = {
        split: [re.split(r"[\t,]", entry)[0].strip() for entry in read_list(path)]
        for split, path in split_files(split_dir, ["{split}_x_msd_id.txt"]).items()
    }
    if tags is None:
        defaults = [split_dir / n for n in ("50tagList.txt", "tags.txt")]
        found = [p for p in defaults if p.is_file()]
        if found:
            tags = found[0]
        else:
            from ..registry import TAGS

            tags = TAGS
    tags = read_tag_list(tags)

    if labels is not None:
        mapping = _read_label_file(Path(labels))
        label_of = {s: [mapping.get(i) for i in ids] for s, ids in lists.items()}
    else:
        label_of = {s: _labels_from_npy(split_dir / f"{s}_y.npy", len(ids), tags) for s, ids in lists.items()}
    problems = []
    rows = []
    for split, ids in lists.items():
        for track_id, row_labels in zip(ids, label_of[split]):
            if row_labels is None:
                problems.append(Problem(track_id, "no tags", "not in the labels file"))
            else:
                rows.append(Row(track_id, _msd_audio(audio_root, track_id, extensions), row_labels, split))
    return assemble(rows, tags, problems, f"read_msd({audio_root})")


def _labels_from_npy(path: Path, n_ids: int, tags: list[str]) -> list[tuple[str, ...]]:
    """Tag names of each row of a public ``{split}_y.npy`` label array."""
    if not path.is_file():
        raise MissingFileError(f"{path} is missing; pass labels= a file of 'track_id<TAB>tag|tag' lines")
    y = np.load(path, allow_pickle=False)
    if y.shape != (n_ids, len(tags)):
        raise DataError(f"{path} has shape {y.shape}; expected (n_ids, n_tags) = {(n_ids, len(tags))}")
    if not np.isin(y, (0, 1)).all():
        raise DataError(f"{path} must be binary with values in {{0, 1}}")
    names = np.asarray(tags)
    return [tuple(names[row.astype(bool)]) for row in y]
