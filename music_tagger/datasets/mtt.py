"""MagnaTagATune's annotations, read into a :class:`~music_tagger.datasets.dataset.Dataset`.

Examples
--------
>>> from music_tagger.datasets.mtt import read_mtt
>>> ds = read_mtt("mtt/", top_n=50)                    # doctest: +SKIP"""

from __future__ import annotations

import csv
import io
import os
import re
from numbers import Integral
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..errors import DataError, MissingFileError
from ..util.checks import read_text
from .dataset import (
    MTT_FOLDER_SPLIT,
    SPLITS,
    Dataset,
    PathLike,
    Problem,
    Row,
    SplitSpec,
    assemble,
    read_list,
    split_files,
)  # fmt: skip

__all__ = ["read_mtt"]

# ----------------------------------------------------------------------------- MTT


def _read_mtt_annotations(
    path: Path,
) -> tuple[list[str], list[tuple[str, np.ndarray, str]], list[Problem]]:
    """Tag columns, ``(clip_id, multi-hot, mp3_path)`` rows and malformed lines."""
    lines = list(csv.reader(io.StringIO(read_text(path, "MagnaTagATune annotation file")), delimiter="\t"))
    if not lines or len(lines[0]) < 3 or lines[0][0] != "clip_id" or lines[0][-1] != "mp3_path":
        raise DataError(
            f"{path} is not a MagnaTagATune annotation file: the tab-separated header "
            "must start with 'clip_id' and end with 'mp3_path'"
        )
    columns = lines[0][1:-1]
    records, problems = [], []
    for number, fields in enumerate(lines[1:], start=2):
        clip = fields[0] if fields else f"line {number}"
        if len(fields) != len(columns) + 2:
            problems.append(
                Problem(clip, "bad row", f"line {number}: {len(fields)} fields, expected {len(columns) + 2}")
            )
        elif not set(fields[1:-1]) <= {"0", "1"}:
            problems.append(Problem(clip, "bad row", f"line {number}: tag values not 0/1"))
        else:
            labels = np.array(fields[1:-1]) == "1"
            records.append((clip, labels, fields[-1]))
    return columns, records, problems


def _top_tags(columns: list[str], labels: np.ndarray, top_n: int | None) -> list[str]:
    """The ``top_n`` most frequent columns, most frequent first; ties by column order."""
    if top_n is None:
        return list(columns)
    if not isinstance(top_n, Integral) or not 1 <= top_n <= len(columns):
        raise DataError(
            f"top_n must be an integer in [1, {len(columns)}] (the number of tag "
            f"columns) or None for all; got {top_n!r}"
        )
    counts = labels.sum(axis=0) if len(labels) else np.zeros(len(columns))
    order = np.argsort(-counts, kind="stable")[: int(top_n)]
    return [columns[j] for j in order]


def _assign_splits(
    lists: Mapping[str, Iterable[str]], keys: Mapping[str, int], ids: Sequence[str]
) -> tuple[list[str | None], list[Problem]]:
    """Split of each row from id lists; an entry matches a row when one of its tab-
    or comma-separated fields is one of the row's ``keys``."""
    unknown = sorted(set(lists) - set(SPLITS))
    if unknown:
        raise DataError(f"split names must be in {SPLITS}; got {unknown}")
    found: list[set[str]] = [set() for _ in ids]
    problems = []
    for split, entries in lists.items():
        if isinstance(entries, (str, bytes)):
            raise DataError(f"split[{split!r}] must be a list of ids or paths, not a string")
        for entry in entries:
            fields = re.split(r"[\t,]", str(entry).strip())
            matches = [keys[f.strip()] for f in fields if f.strip() in keys]
            if matches:
                found[matches[0]].add(split)
            else:
                problems.append(Problem(str(entry), "unknown id in split", split))
    splits: list[str | None] = []
    for clip, where in zip(ids, found):
        if len(where) == 1:
            splits.append(where.pop())
            continue
        splits.append(None)
        if where:
            problems.append(Problem(clip, "bad split", "listed in " + ", ".join(sorted(where))))
        else:
            problems.append(Problem(clip, "not in split"))
    return splits, problems


def read_mtt(root: PathLike, top_n: int | None = 50, split: SplitSpec = None) -> Dataset:
    """Read MagnaTagATune as downloaded, with its ``top_n`` most frequent tags.

    Parameters
    ----------
    root : str or path-like
        Folder with ``annotations_final.csv`` (tab-separated: ``clip_id``, one 0/1
        column per tag, ``mp3_path``) and the audio under ``0`` .. ``f``.
    top_n : int or None
        Keep the ``top_n`` most frequent tags, counted over every row of the
        annotation file (ties broken by column order), most frequent first; None
        keeps every column.
    split : None, mapping or path-like
        None: the conventional split by folder, ``0``-``b`` train, ``c`` valid and
        ``d``-``f`` test. A mapping ``{"train": [...], "valid": [...], "test": [...]}``
        of clip ids or mp3 paths (an entry may also be a line such as
        ``"2\\tf/clip.mp3"``). A path: a folder with one list file per split, named
        ``train``, ``valid`` and ``test`` with an extension among
        :data:`LIST_EXTENSIONS` (text: one entry per line; ``.npy``: an array of
        entries). Clips listed in no split are left out and reported.

    Returns
    -------
    Dataset
        Rows without audio (missing or 0-byte file), without any of the kept tags,
        outside the split or malformed are in ``problems``, not in the data.

    Raises
    ------
    FileNotFoundError
        If the annotation file or a split list is missing.
    ValueError
        If the annotation header is not MagnaTagATune's, ``top_n`` is out of range,
        or ``split`` names an unknown split.

    Examples
    --------
    >>> data = read_mtt("/data/magnatagatune")           # doctest: +SKIP
    >>> data.tags[:3]                                    # doctest: +SKIP
    ['guitar', 'classical', 'slow']
    >>> len(data.subset("valid"))                        # doctest: +SKIP
    1529
    """
    root = Path(root)
    annotations = root / "annotations_final.csv"
    if not annotations.is_file():
        raise MissingFileError(f"no annotations_final.csv in {root}")
    columns, records, problems = _read_mtt_annotations(annotations)
    labels = np.array([r[1] for r in records], dtype=bool).reshape(len(records), len(columns))
    tags = _top_tags(columns, labels, top_n)
    keep = np.array([columns.index(t) for t in tags], dtype=int)
    ids = [clip for clip, _, _ in records]

    if split is None:
        splits = [MTT_FOLDER_SPLIT.get(mp3.split("/")[0]) for _, _, mp3 in records]
        problems += [
            Problem(clip, "bad split", f"{mp3!r} is not in a folder 0-f")
            for (clip, _, mp3), s in zip(records, splits)
            if s is None
        ]
    else:
        if isinstance(split, (str, os.PathLike)):
            split = {s: read_list(p) for s, p in split_files(Path(split)).items()}
        keys = {key: i for i, (clip, _, mp3) in enumerate(records) for key in (clip, mp3)}
        splits, split_problems = _assign_splits(split, keys, ids)
        problems += split_problems
    names = np.asarray(columns)[keep]
    rows = (
        Row(clip, root / mp3, tuple(map(str, names[hot[keep]])), s)
        for (clip, hot, mp3), s in zip(records, splits)
        if s is not None
    )
    return assemble(rows, tags, problems, f"read_mtt({root})")
