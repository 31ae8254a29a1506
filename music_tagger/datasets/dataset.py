"""Reading tagging data sets into one small structure, :class:`Dataset`.

Three readers share one row check:

- :func:`~music_tagger.datasets.mtt.read_mtt` (:mod:`.mtt`): MagnaTagATune as downloaded (``annotations_final.csv`` and the
  audio folders ``0`` .. ``f``), top-n tags, the conventional or a published split;
- :func:`~music_tagger.datasets.msd.read_msd` (:mod:`.msd`): the Million Song Dataset setting of the paper (50 last.fm tags,
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
>>> from music_tagger.datasets.mtt import read_mtt
>>> data = read_mtt("/data/magnatagatune", top_n=50)    # doctest: +SKIP
>>> train = data.subset("train")                        # doctest: +SKIP
>>> train.y.shape                                       # doctest: +SKIP
(15247, 50)
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, NamedTuple, Sequence, Union

import numpy as np

from ..errors import DataError, MissingFileError
from ..util.checks import read_text

logger = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
#: Conventional MagnaTagATune split by the first character of ``mp3_path``.
MTT_FOLDER_SPLIT = {
    **{c: "train" for c in "0123456789ab"},
    "c": "valid",
    **{c: "test" for c in "def"},
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
            raise DataError(f"y must have shape (n_paths, n_tags) = {(n, len(self.tags))}; got {y.shape}")
        if not np.isin(y, (0, 1)).all():
            raise DataError("y must be binary with values in {0, 1}")
        self.y = y.astype(np.uint8)
        if len(self.ids) != n or len(self.split) != n:
            raise DataError(
                f"paths, ids and split must have equal lengths; got {n}, {len(self.ids)} and {len(self.split)}"
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


class Row(NamedTuple):
    id: str
    path: Path
    labels: tuple[str, ...]
    split: str


def check_row(row: Row, known: Mapping[str, int]) -> Problem | None:
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


def assemble(rows: Iterable[Row], tags: Sequence[str], problems: list[Problem], source: str) -> Dataset:
    """A Dataset of the usable rows; the others join ``problems``, logged once."""
    known = {t: j for j, t in enumerate(tags)}
    seen: set[str] = set()
    kept = []
    for row in rows:
        problem = check_row(row, known)
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


def read_list(path: Path) -> list[str]:
    """Entries of a list file: non-empty lines, or the items of a ``.npy`` array."""
    if path.suffix == ".npy":
        array = np.load(path, allow_pickle=False)
        return ["\t".join(map(str, np.atleast_1d(item))) for item in array]
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]


def split_files(folder: Path, names: Sequence[str] = ()) -> dict[str, Path]:
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
            raise MissingFileError(f"no {split} list in {folder}; looked for {', '.join(candidates)}")
        files[split] = found[0]
    return files


def read_tag_list(tags: PathLike | Sequence[str]) -> list[str]:
    """Tags given as a sequence, or as a file with one tag per line."""
    if isinstance(tags, (str, os.PathLike)):
        return read_list(Path(tags))
    return [str(t) for t in tags]


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
    reader = csv.DictReader(io.StringIO(read_text(path, "labelled CSV (path,tags,split)")))
    missing = {"path", "tags", "split"} - set(reader.fieldnames or [])
    if missing:
        raise DataError(f"{path} lacks the column(s) {sorted(missing)}; found {reader.fieldnames}")
    records = list(reader)
    rows = [
        Row(
            id=(r.get("id") or r["path"] or "").strip(),
            path=path.parent / (r["path"] or "").strip(),
            labels=tuple(t.strip() for t in (r["tags"] or "").split("|") if t.strip()),
            split=(r["split"] or "").strip().lower(),
        )
        for r in records
    ]
    vocabulary = sorted({t for r in rows for t in r.labels}) if tags is None else list(tags)
    return assemble(rows, vocabulary, [], f"read_csv({path})")
