"""Teach a tag from a handful of labelled files: a one-tag linear probe on cached features.

The 50 MSD tags are what the pretrained networks were taught; a library has its own
("my band's demos", "death metal", "rain sounds"). :func:`teach` fits a logistic
regression for one new tag on the multi-level features of
:mod:`music_tagger.embeddings.extract` of a few files that have it (``positives``)
and a few that do not (``negatives``), and returns a :class:`LinearProbe` with that
one tag: saved and loaded like any probe (``probe.npz`` + ``probe.json``), used by
``music-tagger probe OUT --tag FILES`` and by :func:`score`.

Features are cached per file (:func:`~music_tagger.embeddings.feature_cache.cached_features`), keyed by the file's real
path, size and modification time and by how they were computed: a second teaching
on the same library, and scoring the library with a taught tag, cost no forward
pass. An edited file is computed again; a damaged cache entry is computed again.

How many examples: at least :data:`MIN_EXAMPLES` per side (fewer is refused: with
two examples a side, which direction the probe learns is mostly chance). On the
real-music benchmark (``docs/quality.md``, its learning curve), 10 per side beat both
pretrained taggers and musicnn's MSD model on jazz, rock and guitar, and came
within 0.07 of musicnn on one they rank well (electronic); more keeps helping up to 20.
Refused with one line each: no files or too few on a side, a file on both sides, an
unreadable file, a tag named like one of the 50 MSD tags (the taught score would hide
the network's).

Examples
--------
>>> from music_tagger.embeddings.few_shot import teach, score
>>> probe = teach("chiptune", ["a.ogg", "b.ogg", "c.ogg"], ["d.mp3", "e.mp3", "f.mp3"])  # doctest: +SKIP
>>> probe.save("probes/chiptune")                                        # doctest: +SKIP
>>> scores, read, failed = score(probe, ["library/"])                    # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from typing import Any, Iterable

import numpy as np

from ..audio import KAISER_BEST_2016
from ..audio.files import expand_paths
from ..errors import AudioError, DataError, ParameterError
from ..registry import TAGS
from ..vocabulary import FEATURE_RUNTIME, RUNTIMES
from .feature_cache import cached_features, feature_cache_folder
from .linear_probe import LinearProbe

__all__ = [
    "DEFAULT_C",
    "MIN_EXAMPLES",
    "RUNTIMES",
    "cached_features",
    "describe",
    "default_probe_folder",
    "feature_cache_folder",
    "load_taught",
    "score",
    "taught_scores",
    "teach",
    "teach_and_save",
    "with_taught",
]

#: Fewest files on each side that :func:`teach` accepts.
MIN_EXAMPLES = 3
#: Inverse L2 regularisation of the taught logistic regression, on standardised
#: features: strong, as a handful of examples against 480 features needs.
DEFAULT_C = 0.01


def check_tag_name(tag: Any) -> str:
    """A taught tag's name, stripped; ParameterError if empty or one of the MSD tags (any case).

    Examples
    --------
    >>> check_tag_name(" chiptune ")
    'chiptune'
    """
    if not isinstance(tag, str) or not tag.strip():
        raise ParameterError(f"the tag to teach must be a non-empty name, got {tag!r}")
    tag = tag.strip()
    msd = {t.lower(): t for t in TAGS}
    if tag.lower() in msd:
        raise ParameterError(
            f"the tag {tag!r} shadows the MSD tag {msd[tag.lower()]!r} the network already scores; "
            f"name the taught one differently (e.g. 'my {tag}')"
        )
    return tag


def _check_examples(positives: Any, negatives: Any, min_examples: int) -> tuple[list[str], list[str]]:
    pos, neg = expand_paths(positives), expand_paths(negatives)
    if not pos or not neg:
        side = "positive (--yes)" if not pos else "negative (--no)"
        raise ParameterError(f"no {side} examples: a tag is taught from files that have it and files that do not")
    both = {os.path.realpath(p) for p in pos} & {os.path.realpath(n) for n in neg}
    if both:
        first = next(p for p in pos if os.path.realpath(p) in both)
        raise ParameterError(f"{first} is both a positive and a negative example ({len(both)} file(s) on both sides)")
    if len(pos) < min_examples or len(neg) < min_examples:
        raise ParameterError(
            f"teaching needs at least {min_examples} files on each side (10 or more work well); "
            f"got {len(pos)} positive and {len(neg)} negative"
        )
    return pos, neg


def teach(
    tag: str,
    positives: Iterable[str | os.PathLike] | str | os.PathLike,
    negatives: Iterable[str | os.PathLike] | str | os.PathLike,
    *,
    C: float = DEFAULT_C,
    min_examples: int = MIN_EXAMPLES,
    cache_dir: str | os.PathLike | None = None,
    arch: str = "crnn",
    level: str = "multi",
    crops: int = 1,
    resampler: str = KAISER_BEST_2016,
    batch_size: int = 8,
    progress: bool = False,
    runtime: str = FEATURE_RUNTIME,
) -> LinearProbe:
    """Fit one new tag from files that have it and files that do not.

    Parameters
    ----------
    tag : str
        The new tag's name; not one of the 50 MSD tags (any case).
    positives, negatives : path or sequence of paths
        Audio files and folders with and without the tag; at least
        ``min_examples`` files each, none on both sides, every one readable.
    C : float
        Inverse L2 regularisation on standardised features.
    min_examples : int
        Fewest files accepted on each side.
    cache_dir : path, optional
        The per-file feature cache (:func:`feature_cache_folder`).
    arch, level, crops, resampler, batch_size, progress
        How the features are computed (:func:`~music_tagger.embeddings.extract.features`).
    runtime : {"tf", "onnx"}
        See :func:`cached_features`; kept in the probe, which :func:`score` then uses.

    Returns
    -------
    LinearProbe
        One tag (``probe.tags == [tag]``); ``probe.save(folder)`` keeps it, and
        ``feature_meta["taught"]`` records the examples.

    Raises
    ------
    ParameterError
        A bad tag name, too few or one-sided examples, a file on both sides.
    AudioError
        An example cannot be read (the message names it).

    Examples
    --------
    >>> p = teach("chiptune", ["a.ogg", "b.ogg", "c.ogg"], ["d.mp3", "e.mp3", "f.mp3"])  # doctest: +SKIP
    >>> p.tags  # doctest: +SKIP
    ['chiptune']
    """
    from ..util.checks import positive_float, positive_int

    tag = check_tag_name(tag)
    positive_float(C, "C")
    pos, neg = _check_examples(positives, negatives, positive_int(min_examples, "min_examples"))
    options = dict(arch=arch, level=level, crops=crops, resampler=resampler)
    x, _, failed = cached_features(pos + neg, cache_dir=cache_dir, batch_size=batch_size,
                                      progress=progress, runtime=runtime, **options)  # fmt: skip
    if failed:
        raise AudioError(f"{failed[0][1]} (an example of {tag!r}: every example must be readable)")
    y = np.array([[1]] * len(pos) + [[0]] * len(neg), np.uint8)
    meta = dict(options, bn_semantics=None, taught={"tag": tag, "positives": pos, "negatives": neg})
    if runtime == "onnx":
        meta["runtime"] = runtime
    return LinearProbe(Cs=[C], tags=[tag], feature_meta=meta).fit(x, y)


def default_probe_folder(tag: str) -> str:
    """Where a taught tag is kept unless told: ``probes/<the tag as a file name>``.

    Examples
    --------
    >>> default_probe_folder("lo-fi hip hop!")
    'probes/lo-fi-hip-hop'
    >>> default_probe_folder("???")
    'probes/tag'
    """
    return f"probes/{re.sub(r'[^A-Za-z0-9._-]+', '-', tag.strip()).strip('-.') or 'tag'}"


def teach_and_save(
    tag: str,
    positives: Iterable[str | os.PathLike] | str | os.PathLike,
    negatives: Iterable[str | os.PathLike] | str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    overwrite: bool = False,
    **options: Any,
) -> tuple[LinearProbe, str]:
    """:func:`teach` a tag and save the probe in ``out``, checked before any feature is computed.

    Parameters
    ----------
    tag, positives, negatives, options
        As for :func:`teach`.
    out : path-like, optional
        The probe's folder (default :func:`default_probe_folder`).
    overwrite : bool
        Replace a probe already there (else :class:`~music_tagger.errors.OutputExistsError`).

    Returns
    -------
    probe : LinearProbe
    out : str
        Where it was saved.

    Raises
    ------
    DataError
        ``out`` cannot be written (also what no check foresees: a read-only file
        system, a full disk).

    Examples
    --------
    >>> probe, out = teach_and_save("chiptune", ["a.ogg", "b.ogg", "c.ogg"], ["d.mp3", "e.mp3", "f.mp3"])  # doctest: +SKIP
    >>> out                                                                                  # doctest: +SKIP
    'probes/chiptune'
    """
    from ..util.checks import writable_output
    from ..util.files import check_outputs
    from .linear_probe import probe_files

    out = os.fspath(default_probe_folder(tag) if out is None else out)
    writable_output(out, "taught probe", folder=True)
    check_outputs(probe_files(out)[:2], overwrite=overwrite)
    probe = teach(tag, positives, negatives, **options)
    try:
        probe.save(out)
    except OSError as err:  # what the checks cannot foresee (a read-only file system, /proc, a full disk)
        raise DataError(f"cannot write the taught probe {out}: {err.strerror or err}") from None
    return probe, out


def score(
    probe: LinearProbe,
    paths: Any,
    *,
    cache_dir: str | os.PathLike | None = None,
    batch_size: int = 8,
    progress: bool = False,
) -> tuple[np.ndarray, list[str], list[tuple[str, str]]]:
    """:meth:`LinearProbe.tag_files <music_tagger.embeddings.linear_probe.LinearProbe.tag_files>`
    through the feature cache: ``(scores, read, failed)``, unreadable files reported.

    Examples
    --------
    >>> scores, read, failed = score(load_probe("probes/chiptune"), ["library/"])   # doctest: +SKIP
    """
    options = dict(probe._feature_options(), runtime=(probe.feature_meta or {}).get("runtime", FEATURE_RUNTIME))
    x, read, failed = cached_features(paths, cache_dir=cache_dir, batch_size=batch_size, progress=progress, **options)
    scores = probe.predict_proba(x) if read else np.zeros((0, len(probe.intercept_)))
    return scores, read, failed


def load_taught(probes: Iterable[str | os.PathLike | LinearProbe]) -> tuple[list[LinearProbe], list[str]]:
    """Saved probes (folders, or probes already loaded) and their tags' names, checked.

    A missing or damaged probe, one that cannot say how its features are computed, a tag
    named like an MSD tag, or a tag taught by two probes raises one line, before any
    file is featured.

    Examples
    --------
    >>> probes, tags = load_taught(["probes/chiptune"])   # doctest: +SKIP
    >>> tags                                              # doctest: +SKIP
    ['chiptune']
    """
    from .linear_probe import load_probe

    loaded, tags = [], []
    for item in probes:
        probe = item if isinstance(item, LinearProbe) else load_probe(item)
        probe._feature_options()  # a probe that cannot say how its features are computed: refused now
        for tag in probe.tags or [f"tag_{j}" for j in range(len(probe.intercept_))]:
            if check_tag_name(tag) in tags:
                raise ParameterError(f"the tag {tag!r} is taught by two of the probes given (the second: {item})")
            tags.append(tag)
        loaded.append(probe)
    return loaded, tags


def taught_scores(
    probes: Iterable[str | os.PathLike | LinearProbe],
    paths: Iterable[str | os.PathLike],
    *,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> tuple[list[str], dict[str, np.ndarray]]:
    """The taught tags of saved probes on ``paths``: ``(tags, {path: scores})``.

    What ``music-tagger tag --probe`` adds beside the 50 MSD tags. The probes are
    checked by :func:`load_taught` before any file is featured. The files' features
    come from the cache of :func:`~music_tagger.embeddings.feature_cache.cached_features`
    (a forward pass only for uncached files); an unreadable file is left out (the
    tagger reports it).

    Examples
    --------
    >>> tags, rows = taught_scores(["probes/chiptune"], ["song.mp3"])   # doctest: +SKIP
    >>> tags, rows["song.mp3"]                                        # doctest: +SKIP
    (['chiptune'], array([0.91], dtype=float32))
    """
    loaded, tags = load_taught(probes)
    paths = [str(p) for p in paths]
    columns, read = [], set(paths)
    for probe in loaded:
        scores, done, _ = score(probe, paths, cache_dir=cache_dir, progress=progress)
        columns.append(dict(zip(done, scores)))
        read &= set(done)
    return tags, {p: np.concatenate([c[p] for c in columns]) for p in paths if p in read}


def with_taught(record: dict[str, Any], tags: list[str], scores: np.ndarray | None) -> dict[str, Any]:
    """A tag record (``{"path", "tags": [[tag, score], ...], ...}``) with the taught
    tags' scores among its ranked tags, best first; unchanged when ``scores`` is None.

    Examples
    --------
    >>> with_taught({"path": "a.mp3", "tags": [["rock", 0.5], ["pop", 0.1]]}, ["mine"], np.array([0.3]))
    {'path': 'a.mp3', 'tags': [['rock', 0.5], ['mine', 0.3], ['pop', 0.1]]}
    """
    if scores is None:
        return record
    ranked = record["tags"] + [[t, float(s)] for t, s in zip(tags, scores)]
    return dict(record, tags=sorted(ranked, key=lambda item: -item[1]))


def describe(probe: LinearProbe) -> str:
    """One line on what a taught probe was taught from.

    Examples
    --------
    >>> describe(p)                                                  # doctest: +SKIP
    "'chiptune': taught from 3 positive and 3 negative files (crnn/multi features, C=0.01)"
    """
    meta = probe.feature_meta or {}
    taught = meta.get("taught") or {}
    return (
        f"{taught.get('tag', (probe.tags or ['?'])[0])!r}: taught from "
        f"{len(taught.get('positives', []))} positive and {len(taught.get('negatives', []))} negative files "
        f"({meta.get('arch')}/{meta.get('level')} features, C={probe.C_:g})"
    )
