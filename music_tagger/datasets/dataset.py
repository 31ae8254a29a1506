"""Reading tagging data sets into one small structure, :class:`Dataset`.

Three readers share one row check:

- :func:`read_mtt`: MagnaTagATune as downloaded (``annotations_final.csv`` and the
  audio folders ``0`` .. ``f``), top-n tags, the conventional or a published split;
- :func:`read_msd`: the Million Song Dataset setting of the paper (50 last.fm tags,
  train/valid/test lists of track ids as in ``keunwoochoi/MSD_split_for_tagging``);
- :func:`read_csv`: any data set as a CSV of ``path,tags,split``.

A row that cannot be used (missing or empty audio file, unknown tags, no tags, a bad
split name, a duplicate id, a malformed line, ...) is neither kept nor fatal: it is
recorded as a :class:`Problem` in :attr:`Dataset.problems` and all problems of one
read are logged in a single warning with counts and a few examples
(:meth:`Dataset.report`). Errors in the arguments themselves (a missing annotation
file, an unknown split name in a mapping, labels of the wrong shape) raise.

Examples
--------
>>> from music_tagger.datasets.dataset import read_mtt
>>> data = read_mtt("/data/magnatagatune", top_n=50)    # doctest: +SKIP
>>> train = data.subset("train")                        # doctest: +SKIP
>>> train.y.shape                                       # doctest: +SKIP
(15247, 50)
"""
from __future__ import annotations

import csv
import logging
import os
import re
from collections import Counter
from numbers import Integral
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, NamedTuple, Sequence, Union

import numpy as np
from ..errors import DataError, MissingFileError

logger = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
#: Conventional MagnaTagATune split by the first character of ``mp3_path``.
MTT_FOLDER_SPLIT = {
    **{c: "train" for c in "0123456789ab"}, "c": "valid", **{c: "test" for c in "def"},
}
#: Extensions of the list files looked for in a split folder, in order.
LIST_EXTENSIONS = ("", ".txt", ".tsv", ".csv", ".npy")

PathLike = Union[str, os.PathLike]
SplitSpec = Union[None, PathLike, Mapping[str, Iterable[str]]]


@dataclass(frozen=True)
class Problem:
    """A row left out of a :class:`Dataset`, and why.

    Attributes
    ----------
    id : str
        The row's id (clip id, track id, path) or its line in the source.
    reason : str
        A short category: ``"missing audio"``, ``"empty audio"``, ``"unknown tags"``,
        ``"no tags"``, ``"bad split"``, ``"not in split"``, ``"duplicate id"``,
        ``"bad row"``, ``"unknown id in split"``.
    detail : str
        Specifics, e.g. the missing path or the unknown tags.
    """

    id: str
    reason: str
    detail: str = ""


@dataclass(eq=False)
class Dataset:
    """Audio paths with multi-hot tags and a train/valid/test split.

    Attributes
    ----------
    paths : list of str
        Audio file of each row.
    y : numpy.ndarray of uint8, shape (n, n_tags)
        ``y[i, j] == 1`` when row ``i`` has tag ``tags[j]``.
    tags : list of str
        Tag of each column of ``y``.
    split : numpy.ndarray of str, shape (n,)
        ``"train"``, ``"valid"`` or ``"test"`` for each row.
    ids : list of str
        Id of each row (clip id, track id or path).
    problems : list of Problem
        Rows of the source that were left out, and why.

    Examples
    --------
    >>> import numpy as np
    >>> ds = Dataset(paths=["a.mp3", "b.mp3"], y=np.array([[1, 0], [0, 1]]),
    ...              tags=["rock", "jazz"], split=np.array(["train", "test"]),
    ...              ids=["a", "b"])
    >>> len(ds), ds.subset("test").ids
    (2, ['b'])
    """

    paths: list[str]
    y: np.ndarray
    tags: list[str]
    split: np.ndarray
    ids: list[str]
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.paths = [str(p) for p in self.paths]
        self.ids = [str(i) for i in self.ids]
        self.tags = [str(t) for t in self.tags]
        self.split = np.asarray(self.split, dtype=str).reshape(-1)
        n = len(self.paths)
        y = np.asarray(self.y)
        if n == 0 and y.size == 0:
            y = y.reshape(0, len(self.tags))
        if y.shape != (n, len(self.tags)):
            raise DataError(
                f"y must have shape (n_paths, n_tags) = {(n, len(self.tags))}; got {y.shape}"
            )
        if not np.isin(y, (0, 1)).all():
            raise DataError("y must be binary with values in {0, 1}")
        self.y = y.astype(np.uint8)
        if len(self.ids) != n or len(self.split) != n:
            raise DataError(
                f"paths, ids and split must have equal lengths; got {n}, "
                f"{len(self.ids)} and {len(self.split)}"
            )
        bad = sorted(map(str, set(self.split) - set(SPLITS)))
        if bad:
            raise DataError(f"split values must be in {SPLITS}; got {bad}")

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, split: str) -> Dataset:
        """The rows of one split (``"train"``, ``"valid"`` or ``"test"``).

        The subset keeps all ``tags`` and shares ``problems`` with this data set.
        """
        if split not in SPLITS:
            raise DataError(f"split must be one of {SPLITS}; got {split!r}")
        keep = np.flatnonzero(self.split == split)
        return Dataset(
            paths=[self.paths[i] for i in keep],
            y=self.y[keep],
            tags=list(self.tags),
            split=self.split[keep],
            ids=[self.ids[i] for i in keep],
            problems=self.problems,
        )

    def report(self, n_examples: int = 2) -> str:
        """One-paragraph summary: rows kept, problems counted by reason, examples."""
        counts = Counter(p.reason for p in self.problems)
        text = f"kept {len(self)} rows; left out {len(self.problems)}"
        if not counts:
            return text
        text += ": " + ", ".join(f"{n} {reason}" for reason, n in counts.most_common())
        examples = [
            f"{p.id} ({p.reason}: {p.detail})" if p.detail else f"{p.id} ({p.reason})"
            for reason in counts
            for p in [q for q in self.problems if q.reason == reason][:n_examples]
        ]
        return text + ". Examples: " + "; ".join(examples)


class _Row(NamedTuple):
    id: str
    path: Path
    labels: tuple[str, ...]
    split: str


def _check_row(row: _Row, known: Mapping[str, int]) -> Problem | None:
    """The first reason the row is unusable, or None."""
    if row.split not in SPLITS:
        return Problem(row.id, "bad split", repr(row.split))
    unknown = [t for t in row.labels if t not in known]
    if unknown:
        return Problem(row.id, "unknown tags", ", ".join(unknown))
    if not row.labels:
        return Problem(row.id, "no tags")
    if not row.path.is_file():
        return Problem(row.id, "missing audio", str(row.path))
    if row.path.stat().st_size == 0:
        return Problem(row.id, "empty audio", str(row.path))
    return None


def _assemble(
    rows: Iterable[_Row], tags: Sequence[str], problems: list[Problem], source: str
) -> Dataset:
    """A Dataset of the usable rows; the others join ``problems``, logged once."""
    known = {t: j for j, t in enumerate(tags)}
    seen: set[str] = set()
    kept = []
    for row in rows:
        problem = _check_row(row, known)
        if problem is None and row.id in seen:
            problem = Problem(row.id, "duplicate id", row.split)
        if problem is None:
            seen.add(row.id)
            kept.append(row)
        else:
            problems.append(problem)
    y = np.zeros((len(kept), len(tags)), dtype=np.uint8)
    for i, row in enumerate(kept):
        y[i, [known[t] for t in row.labels]] = 1
    data = Dataset(
        paths=[str(r.path) for r in kept],
        y=y,
        tags=list(tags),
        split=np.array([r.split for r in kept], dtype="<U5"),
        ids=[r.id for r in kept],
        problems=problems,
    )
    if problems:
        logger.warning("%s: %s", source, data.report())
    return data


def _read_list(path: Path) -> list[str]:
    """Entries of a list file: non-empty lines, or the items of a ``.npy`` array."""
    if path.suffix == ".npy":
        array = np.load(path, allow_pickle=False)
        return ["\t".join(map(str, np.atleast_1d(item))) for item in array]
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]


def _split_files(folder: Path, names: Sequence[str] = ()) -> dict[str, Path]:
    """The list file of each split in ``folder``: ``names`` (``{split}`` templates)
    first, then ``train``, ``train.txt``, ... (:data:`LIST_EXTENSIONS`)."""
    if not folder.is_dir():
        raise MissingFileError(f"split folder {folder} does not exist")
    files = {}
    for split in SPLITS:
        candidates = [n.format(split=split) for n in names]
        candidates += [split + ext for ext in LIST_EXTENSIONS]
        found = [folder / c for c in candidates if (folder / c).is_file()]
        if not found:
            raise MissingFileError(
                f"no {split} list in {folder}; looked for {', '.join(candidates)}"
            )
        files[split] = found[0]
    return files


def _read_tag_list(tags: PathLike | Sequence[str]) -> list[str]:
    """Tags given as a sequence, or as a file with one tag per line."""
    if isinstance(tags, (str, os.PathLike)):
        return _read_list(Path(tags))
    return [str(t) for t in tags]


# ----------------------------------------------------------------------------- MTT


def _read_mtt_annotations(
    path: Path,
) -> tuple[list[str], list[tuple[str, np.ndarray, str]], list[Problem]]:
    """Tag columns, ``(clip_id, multi-hot, mp3_path)`` rows and malformed lines."""
    with open(path, newline="", encoding="utf-8") as f:
        lines = list(csv.reader(f, delimiter="\t"))
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
                Problem(clip, "bad row", f"line {number}: {len(fields)} fields, "
                        f"expected {len(columns) + 2}")
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
            split = {s: _read_list(p) for s, p in _split_files(Path(split)).items()}
        keys = {key: i for i, (clip, _, mp3) in enumerate(records) for key in (clip, mp3)}
        splits, split_problems = _assign_splits(split, keys, ids)
        problems += split_problems
    names = np.asarray(columns)[keep]
    rows = (
        _Row(clip, root / mp3, tuple(map(str, names[hot[keep]])), s)
        for (clip, hot, mp3), s in zip(records, splits)
        if s is not None
    )
    return _assemble(rows, tags, problems, f"read_mtt({root})")


# ----------------------------------------------------------------------------- MSD


def _read_label_file(path: Path) -> dict[str, tuple[str, ...]]:
    """``track_id -> tags`` from lines ``track_id<TAB or comma>tag|tag|...``; a first
    line starting with ``track_id`` is a header."""
    mapping = {}
    for line in _read_list(path):
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
        split: [re.split(r"[\t,]", entry)[0].strip() for entry in _read_list(path)]
        for split, path in _split_files(split_dir, ["{split}_x_msd_id.txt"]).items()
    }
    if tags is None:
        defaults = [split_dir / n for n in ("50tagList.txt", "tags.txt")]
        found = [p for p in defaults if p.is_file()]
        if found:
            tags = found[0]
        else:
            from ..registry import TAGS

            tags = TAGS
    tags = _read_tag_list(tags)

    if labels is not None:
        mapping = _read_label_file(Path(labels))
        label_of = {s: [mapping.get(i) for i in ids] for s, ids in lists.items()}
    else:
        label_of = {s: _labels_from_npy(split_dir / f"{s}_y.npy", len(ids), tags)
                    for s, ids in lists.items()}
    problems = []
    rows = []
    for split, ids in lists.items():
        for track_id, row_labels in zip(ids, label_of[split]):
            if row_labels is None:
                problems.append(Problem(track_id, "no tags", "not in the labels file"))
            else:
                rows.append(_Row(track_id, _msd_audio(audio_root, track_id, extensions),
                                 row_labels, split))
    return _assemble(rows, tags, problems, f"read_msd({audio_root})")


def _labels_from_npy(path: Path, n_ids: int, tags: list[str]) -> list[tuple[str, ...]]:
    """Tag names of each row of a public ``{split}_y.npy`` label array."""
    if not path.is_file():
        raise MissingFileError(
            f"{path} is missing; pass labels= a file of 'track_id<TAB>tag|tag' lines"
        )
    y = np.load(path, allow_pickle=False)
    if y.shape != (n_ids, len(tags)):
        raise DataError(
            f"{path} has shape {y.shape}; expected (n_ids, n_tags) = {(n_ids, len(tags))}"
        )
    if not np.isin(y, (0, 1)).all():
        raise DataError(f"{path} must be binary with values in {{0, 1}}")
    names = np.asarray(tags)
    return [tuple(names[row.astype(bool)]) for row in y]


# ----------------------------------------------------------------------------- CSV


def read_csv(path: PathLike, tags: Sequence[str] | None = None) -> Dataset:
    """Read a data set listed in a CSV with the columns ``path``, ``tags``, ``split``.

    Parameters
    ----------
    path : str or path-like
        The CSV. ``path``: audio file, relative paths resolved against the CSV's
        folder; ``tags``: tags separated by ``|``; ``split``: ``train``, ``valid``
        or ``test``. An optional ``id`` column names the rows (default: the
        ``path`` value as written).
    tags : sequence of str, optional
        The tag vocabulary, in column order; rows with other tags are reported as
        problems. By default every tag in the file, sorted.

    Returns
    -------
    Dataset

    Raises
    ------
    FileNotFoundError
        If the CSV does not exist.
    ValueError
        If a required column is missing.

    Examples
    --------
    >>> # path,tags,split
    >>> # audio/a.mp3,rock|guitar,train
    >>> data = read_csv("my_tags.csv")          # doctest: +SKIP
    >>> data.tags                               # doctest: +SKIP
    ['guitar', 'rock']
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path} does not exist")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"path", "tags", "split"} - set(reader.fieldnames or [])
        if missing:
            raise DataError(
                f"{path} lacks the column(s) {sorted(missing)}; found {reader.fieldnames}"
            )
        records = list(reader)
    rows = [
        _Row(
            id=(r.get("id") or r["path"] or "").strip(),
            path=path.parent / (r["path"] or "").strip(),
            labels=tuple(t.strip() for t in (r["tags"] or "").split("|") if t.strip()),
            split=(r["split"] or "").strip().lower(),
        )
        for r in records
    ]
    vocabulary = sorted({t for r in rows for t in r.labels}) if tags is None else list(tags)
    return _assemble(rows, vocabulary, [], f"read_csv({path})")
