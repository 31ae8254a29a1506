"""Tags over time: per-crop scores with their times, and the taggram picture.

``tag(..., taggram=True, hop=...)`` scores crops of 29.12 s starting every ``hop``
seconds and keeps each crop's scores as a :class:`Taggram` (time x tags, like
musicnn's taggram, at the CRNN's 29.12 s resolution). :func:`plot_taggram` draws
it: tags on the y-axis (the ``top_n`` by mean score), time on the x-axis;
:func:`plot_records` draws every taggram of a records file of ``tag --taggram``.

This module owns the hop, in seconds, wherever it comes from (``tag``, the server,
the command line): :func:`check_hop` is its one check, :func:`taggram_crops` its
one conversion to samples (once, at the top, as musicnn's extractor converts seconds
to frames) and the rule that a hop goes with a taggram alone; :meth:`Taggram.from_crops`
converts back to seconds. It is not the spectrogram's hop
(:data:`music_tagger.audio.HOP_LENGTH`, 256 samples between STFT frames), which is
its lower bound (:data:`FINEST_HOP`).

Plots use a private ``matplotlib.figure.Figure`` with an Agg canvas: nothing of
pyplot's global state (backend, current figure) is touched, and matplotlib is
imported only when a plot is drawn.

Examples
--------
>>> from music_tagger import tag
>>> from music_tagger.tagging.taggram import plot_taggram
>>> r = tag("song.mp3", taggram=True, hop=5.0)[0]        # doctest: +SKIP
>>> r.taggram.scores.shape                               # doctest: +SKIP
(37, 50)
>>> plot_taggram(r.taggram, "song.png", top_n=10)        # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .. import audio
from ..errors import DataError, MissingFileError, OutputExistsError, ParameterError
from ..util.checks import positive_float, positive_int

__all__ = [
    "DEFAULT_HOP",
    "FINEST_HOP",
    "Taggram",
    "check_hop",
    "check_plot_folder",
    "plot_names",
    "plot_records",
    "plot_taggram",
    "taggram_crops",
    "taggram_starts",
]

#: Seconds between crop starts of a taggram by default.
DEFAULT_HOP = 5.0
#: The finest hop, in seconds: one frame of the log-mel (the STFT hop,
#: :data:`music_tagger.audio.HOP_LENGTH` samples); finer hops repeat the same crops,
#: by the million.
FINEST_HOP = audio.HOP_LENGTH / audio.SR


def check_hop(hop: float | None) -> float:
    """The taggram's hop in seconds: :data:`DEFAULT_HOP` when None, else ``hop`` if it
    is a finite number of at least :data:`FINEST_HOP`; else ParameterError.

    The one check of the hop, for every caller (``tag``, the server's library).

    Examples
    --------
    >>> check_hop(None), check_hop(2)
    (5.0, 2.0)
    >>> check_hop(0.001)
    Traceback (most recent call last):
    ...
    music_tagger.errors.ParameterError: hop must be at least one spectrogram frame (0.0213 s), got 0.001
    """
    if hop is None:
        return DEFAULT_HOP
    hop = positive_float(hop, "hop")
    if hop < FINEST_HOP:
        raise ParameterError(f"hop must be at least one spectrogram frame ({FINEST_HOP:.4f} s), got {hop!r}")
    return hop


def taggram_crops(
    taggram: bool, hop: float | None = None, *, crops: int | None = None, faithful: bool = False
) -> Callable[[int], np.ndarray] | None:
    """Where a run's crops start: every ``hop`` seconds for a taggram, else None.

    The hop is checked (:func:`check_hop`) and converted to samples at 12 kHz here,
    once; the result is what :func:`music_tagger.tagging.pipeline.run` takes as
    ``starts`` (picklable: the workers call it with each track's length). A taggram
    places its crops itself, so ``crops`` and ``faithful`` must be left unset with
    it, and a ``hop`` without a taggram is an error, not ignored.

    Examples
    --------
    >>> starts = taggram_crops(True, 1.0)
    >>> starts(349440 + 25000)
    array([    0, 12000, 24000])
    >>> taggram_crops(False) is None
    True
    """
    if not taggram:
        if hop is not None:
            raise ParameterError("hop is the taggram's crop spacing: pass taggram=True with it")
        return None
    if crops is not None or faithful:
        raise ParameterError("a taggram places its crops every hop seconds: leave crops and faithful unset")
    # a hop longer than any track (1e308 s) is its first crop alone
    return partial(taggram_starts, hop=max(1, round(min(check_hop(hop) * audio.SR, 2.0**62))))


def taggram_starts(n: int, hop: int) -> np.ndarray:
    """Crop starts every ``hop`` samples (at 12 kHz) while a crop fits in ``n`` samples.

    A track no longer than one crop gives ``[0]``. The last crop may end before
    the track does (by less than ``hop``).

    Examples
    --------
    >>> from music_tagger.tagging.taggram import taggram_starts
    >>> taggram_starts(349440 + 25000, 12000)
    array([    0, 12000, 24000])
    >>> taggram_starts(1000, 12000)
    array([0])
    """
    hop = positive_int(hop, "hop (samples)")
    return np.arange(0, max(0, n - audio.N_SAMPLES) + 1, int(hop), dtype=np.int64)


@dataclass
class Taggram:
    """Scores of every crop of a track.

    Attributes
    ----------
    start, end : np.ndarray of float, shape (n_crops,)
        Each crop's start and end in seconds (the end is clipped to the track).
    scores : np.ndarray of float32, shape (n_crops, n_tags)
    tags : list of str
    """

    start: np.ndarray
    end: np.ndarray
    scores: np.ndarray
    tags: list[str]

    @classmethod
    def from_crops(cls, starts: np.ndarray, length: int, scores: np.ndarray, tags: Sequence[str]) -> "Taggram":
        """From crop starts and the track length in samples at 12 kHz."""
        start = np.asarray(starts, dtype=np.float64) / audio.SR
        end = np.minimum(start + audio.DURATION, max(length, 1) / audio.SR)
        return cls(start, end, np.asarray(scores, np.float32), list(tags))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``{"start": [...], "end": [...], "scores": [[...], ...]}`` (tags by column)."""
        return {
            "start": [float(s) for s in self.start],
            "end": [float(e) for e in self.end],
            "scores": [[float(v) for v in row] for row in self.scores],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], tags: Sequence[str] | None = None) -> "Taggram":
        """Inverse of :meth:`to_dict`, checked: DataError names what does not fit.

        ``tags`` default to the dict's own ``"tags"`` (as records hold them).
        ``scores`` must be ``len(start)`` rows of ``len(tags)`` finite numbers, and
        ``start`` and ``end`` as long.
        """
        if not isinstance(d, dict) or not all(k in d for k in ("start", "end", "scores")):
            raise DataError('a taggram is an object with "start", "end" and "scores"')
        tags = d.get("tags") if tags is None else tags
        if not isinstance(tags, (list, tuple)) or not all(isinstance(t, str) for t in tags):
            raise DataError(f"a taggram's tags are a list of names, got {tags!r}"[:200])
        try:
            start, end = np.asarray(d["start"], float), np.asarray(d["end"], float)
            scores = np.asarray(d["scores"], np.float32)
        except (TypeError, ValueError) as err:  # strings, ragged rows, null
            raise DataError(f"a taggram holds something other than numbers ({err})") from None
        n = len(start) if start.ndim == 1 else -1
        if n < 1 or end.shape != (n,) or scores.shape != (n, len(tags)):
            raise DataError(
                f"a taggram's shapes do not fit: start {start.shape}, end {end.shape}, scores "
                f"{scores.shape} for {len(tags)} tags (expected (n,), (n,) and (n, {len(tags)}))"
            )
        if not (np.isfinite(start).all() and np.isfinite(end).all() and np.isfinite(scores).all()):
            raise DataError("a taggram holds NaN or infinite values")
        return cls(start, end, scores, list(tags))


def plot_taggram(
    taggram: Taggram,
    path: str | os.PathLike | None = None,
    *,
    top_n: int = 10,
    title: str | None = None,
    dpi: int = 100,
):
    """Draw a taggram: the ``top_n`` tags by mean score on the y-axis, time on the x-axis.

    Each column is one crop, drawn at its centre and ``hop`` wide; colour is the
    sigmoid score (viridis, from 0 to the highest score shown), the best tag on top.

    Parameters
    ----------
    taggram : Taggram
    path : path-like, optional
        Write the figure there (PNG or any format matplotlib knows by suffix).
    top_n : int
        Tags shown.
    title : str, optional
    dpi : int

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from music_tagger.tagging.taggram import Taggram, plot_taggram
    >>> t = Taggram(np.arange(3.0), np.arange(3.0) + 29.12, np.arange(12.0).reshape(3, 4) / 12, list("abcd"))
    >>> fig = plot_taggram(t, top_n=2)
    >>> [label.get_text() for label in fig.axes[0].get_yticklabels()]
    ['d', 'c']
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    top_n = positive_int(top_n, "top_n")
    scores = np.asarray(taggram.scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape != (len(taggram.start), len(taggram.tags)):
        raise ParameterError(
            f"taggram scores have shape {scores.shape}, expected ({len(taggram.start)}, {len(taggram.tags)})"
        )
    order = np.argsort(-scores.mean(axis=0), kind="stable")[:top_n]
    centres = (np.asarray(taggram.start) + np.asarray(taggram.end)) / 2
    hop = float(np.median(np.diff(centres))) if len(centres) > 1 else float(taggram.end[0] - taggram.start[0])
    fig = Figure(figsize=(8, 0.35 * len(order) + 1.4), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(
        scores[:, order].T, aspect="auto", origin="upper", cmap="viridis", vmin=0.0,
        vmax=max(float(scores[:, order].max()), 1e-3),
        interpolation="nearest",
        extent=(centres[0] - hop / 2, centres[-1] + hop / 2, len(order) - 0.5, -0.5),
    )  # fmt: skip
    ax.set_yticks(range(len(order)), [taggram.tags[j] for j in order])
    ax.set_xlabel("time (s), crop centres")
    if title:
        ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, label="score", pad=0.01)
    if path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path)
    return fig


def plot_records(records: str | os.PathLike, folder: str | os.PathLike, *, top_n: int = 10) -> Iterator[str]:
    """Draw the taggram of every record of ``tag --taggram`` that holds one, as PNGs in ``folder``.

    The records file is the jsonl or json of ``music-tagger tag --taggram``; each
    file's PNG is named by :func:`plot_names` (a file tagged twice is drawn once) and
    titled with the file's name. The folder is made (:func:`check_plot_folder`) before
    the records are read.

    Yields
    ------
    str
        Each PNG as it is written.

    Raises
    ------
    MissingFileError
        There is no file at ``records``.
    DataError
        It holds no taggram.

    Examples
    --------
    >>> list(plot_records("records.jsonl", "taggrams"))     # doctest: +SKIP
    ['taggrams/song.mp3.png']
    """
    from .readback import read_records

    if not os.path.isfile(records):
        raise MissingFileError(f"no records file at {os.fspath(records)}")
    check_plot_folder(folder)
    found = [r for r in read_records(records) if r.get("taggram")]
    if not found:
        raise DataError(f"{os.fspath(records)} holds no taggram: tag with --taggram --format jsonl")
    drawn = set()
    for record, png in zip(found, plot_names([r["path"] for r in found], folder)):
        if png not in drawn:  # else the same file tagged twice
            drawn.add(png)
            plot_taggram(Taggram.from_dict(record["taggram"]), png, top_n=top_n, title=os.path.basename(record["path"]))
            yield png


def check_plot_folder(folder: str | os.PathLike) -> None:
    """Make the folder of taggrams, before any work; an existing file there is an error.

    Raises
    ------
    OutputExistsError
        ``folder`` exists and is not a folder.
    ParameterError
        It cannot be made (no permission, a file in its path).

    Examples
    --------
    >>> check_plot_folder("taggrams")       # doctest: +SKIP
    """
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise OutputExistsError(f"{os.fspath(folder)} is a file: the taggrams need a folder")
    try:  # through a symlink to a folder not made yet, too
        os.makedirs(os.path.realpath(folder), exist_ok=True)
    except OSError as err:
        raise ParameterError(f"cannot make the folder {os.fspath(folder)} for the taggrams ({err.strerror})") from None


def plot_names(paths: Sequence[str | os.PathLike], folder: str | os.PathLike) -> list[str]:
    """A PNG path in ``folder`` for each audio path, one per file: no two files share one.

    Each file keeps its folders below the folder that holds them all, so that
    ``album1/01.mp3`` and ``album2/01.mp3`` become ``DIR/album1/01.mp3.png`` and
    ``DIR/album2/01.mp3.png``, and files of one folder ``DIR/<name>.png``. The same
    file named twice gets one PNG; names that differ only in case (one file on
    some file systems) get a numbered suffix.

    Examples
    --------
    >>> plot_names(["/m/a/01.mp3", "/m/b/01.mp3"], "out")
    ['out/a/01.mp3.png', 'out/b/01.mp3.png']
    >>> plot_names(["/m/a/01.mp3", "/m/a/02.mp3"], "out")
    ['out/01.mp3.png', 'out/02.mp3.png']
    """
    files = [os.path.abspath(os.fspath(p)) for p in paths]
    if not files:
        return []
    root = os.path.commonpath([os.path.dirname(f) for f in files])
    names: list[str] = []
    owner: dict[str, str] = {}  # case-folded PNG -> the file it is for
    for f in files:
        base = os.path.join(os.fspath(folder), os.path.relpath(f, root))
        png, n = base + ".png", 1
        while owner.setdefault(png.casefold(), f) != f:
            n += 1
            png = f"{base} ({n}).png"
        names.append(png)
    return names
