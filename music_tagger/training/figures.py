"""The paper's figures from a results table of :mod:`music_tagger.training.experiment`.

Three figures, drawn with matplotlib (Agg backend, no display needed):

* :func:`plot_auc_vs_params`: test ROC-AUC against the number of trainable
  parameters, one line per structure (the paper's Fig. 2);
* :func:`plot_auc_vs_time`: test ROC-AUC against the training time per sample and
  against the cumulative training time (its computation-controlled comparison);
* :func:`plot_per_tag`: per-tag test ROC-AUC of the models at one budget (by
  default the one nearest 1M), grouped by tag category and sorted within groups,
  with the baseline structure (k2c2) as bars and the others as differences from it
  (the paper's Fig. 3).

:func:`draw_figures` draws all three into a folder as PNG and PDF.

Examples
--------
>>> from music_tagger.training.figures import draw_figures
>>> draw_figures("runs", "figs", reference=0.851)        # doctest: +SKIP
[PosixPath('figs/auc_vs_params.png'), PosixPath('figs/auc_vs_params.pdf'), ...]
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, Formatter, FuncFormatter, NullFormatter

from ..errors import DataError, ParameterError
from ..models.architectures import ARCHS
from ..util.files import atomic_path
from .experiment import read_grid_results

__all__ = [
    "FIGURES",
    "MSD_TAG_GROUPS",
    "draw_figures",
    "plot_auc_vs_params",
    "plot_auc_vs_time",
    "plot_per_tag",
    "read_groups",
    "tag_groups",
]

#: Categories of the 50 MSD tags for the per-tag figure, as in the paper's Fig. 3.
MSD_TAG_GROUPS: dict[str, tuple[str, ...]] = {
    "genre": (
        "rock", "pop", "alternative", "indie", "electronic", "dance", "alternative rock",
        "jazz", "metal", "classic rock", "soul", "indie rock", "electronica", "folk",
        "punk", "blues", "hard rock", "ambient", "acoustic", "experimental", "Hip-Hop",
        "country", "funk", "electro", "heavy metal", "Progressive rock", "rnb",
        "indie pop", "House",
    ),
    "mood": (
        "beautiful", "chillout", "Mellow", "chill", "easy listening", "sexy", "catchy",
        "sad", "happy", "party",
    ),
    "instrument": (
        "female vocalists", "male vocalists", "guitar", "instrumental", "female vocalist",
    ),
    "era": ("00s", "80s", "90s", "70s", "60s", "oldies"),
}  # fmt: skip
#: The names and formats :func:`draw_figures` writes.
FIGURES = ("auc_vs_params", "auc_vs_time", "per_tag_auc")
#: Colour and marker of each structure, in the paper's order.
_STYLES = dict(zip(ARCHS, (("tab:blue", "o"), ("tab:orange", "s"), ("tab:green", "^"), ("tab:red", "D"))))
_AUC_LABEL = "Test ROC-AUC (macro mean over tags)"


def _style(arch: str, index: int) -> dict[str, Any]:
    color, marker = _STYLES.get(arch, (f"C{index % 10}", "o"))
    return {"color": color, "marker": marker}


def _by_arch(rows: Sequence[dict]) -> dict[str, list[dict]]:
    """Rows per structure (in first-seen order), each sorted by parameter count."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["arch"], []).append(row)
    return {arch: sorted(rs, key=lambda r: r["params"]) for arch, rs in groups.items()}


def _log_axis(axis, formatter: Formatter) -> None:
    """Log scale, labelled at up to 6 ticks m x 10^k inside the data's range.

    The finest of m in 1..9, (1, 2, 5), (1, 3), (1,) that gives at most 6 ticks.
    """
    getattr(axis.axes, f"set_{axis.axis_name}scale")("log")
    axis.axes.autoscale_view()
    low, high = axis.get_view_interval()
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    for mantissas in (range(1, 10), (1, 2, 5), (1, 3), (1,)):
        ticks = [m * 10.0**k for k in decades for m in mantissas if low <= m * 10.0**k <= high]
        if len(ticks) <= 6:
            break
    axis.set_ticks(ticks)
    axis.set_major_formatter(formatter)
    axis.set_minor_formatter(NullFormatter())


def _reference_line(ax, reference: float | None, label: str) -> None:
    if reference is not None:
        ax.axhline(reference, color="0.4", linestyle="--", linewidth=1,
                   label=f"{label} ({reference:.3f})")  # fmt: skip


def plot_auc_vs_params(
    rows: Sequence[dict], *, reference: float | None = None,
    reference_label: str = "reference", title: str = "",
) -> Figure:  # fmt: skip
    """Test ROC-AUC against trainable parameters (log scale), one line per structure.

    Parameters
    ----------
    rows : sequence of dict
        Rows of :func:`music_tagger.training.experiment.read_grid_results`.
    reference : float, optional
        Draw a dashed horizontal line at this AUC (e.g. the paper's 0.851).
    reference_label : str
        Its legend entry.
    title : str
        Prefix of the title (e.g. the data set).

    Examples
    --------
    >>> fig = plot_auc_vs_params(read_grid_results("runs"), reference=0.851)   # doctest: +SKIP
    """
    # a Figure of its own, not pyplot's: drawing changes no global backend or state
    fig = Figure(figsize=(6.4, 4.6), layout="constrained")
    ax = fig.subplots()
    for i, (arch, rs) in enumerate(_by_arch(rows).items()):
        ax.plot([r["params"] for r in rs], [r["test_roc_auc"] for r in rs],
                label=arch, **_style(arch, i))  # fmt: skip
    _reference_line(ax, reference, reference_label)
    _log_axis(ax.xaxis, EngFormatter())
    ax.set_xlabel("Trainable parameters (count, log scale)")
    ax.set_ylabel(_AUC_LABEL)
    ax.set_title(f"{title}: AUC vs. parameters" if title else "AUC vs. parameters")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(title="structure")
    return fig


def plot_auc_vs_time(
    rows: Sequence[dict], *, reference: float | None = None,
    reference_label: str = "reference", title: str = "",
) -> Figure:  # fmt: skip
    """Test ROC-AUC against training time per sample and cumulative training time.

    Left: seconds of training per sample and epoch (``seconds_per_sample``); right:
    total training time of the run (``train_seconds``), both log scale. Parameters as
    for :func:`plot_auc_vs_params`.

    Examples
    --------
    >>> fig = plot_auc_vs_time(read_grid_results("runs"))     # doctest: +SKIP
    """
    fig = Figure(figsize=(10, 4.6), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    columns = (
        ("seconds_per_sample", "Training time per sample and epoch (ms, log scale)", 1e3),
        ("train_seconds", "Cumulative training time (s, log scale)", 1.0),
    )
    for ax, (column, label, factor) in zip(axes, columns):
        for i, (arch, rs) in enumerate(_by_arch(rows).items()):
            ax.plot([r[column] * factor for r in rs], [r["test_roc_auc"] for r in rs],
                    label=arch, **_style(arch, i))  # fmt: skip
        _reference_line(ax, reference, reference_label)
        _log_axis(ax.xaxis, FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel(_AUC_LABEL)
    axes[0].legend(title="structure")
    fig.suptitle(f"{title}: AUC vs. training time" if title else "AUC vs. training time")
    return fig


def read_groups(path: str | os.PathLike) -> dict[str, list[str]]:
    """A tag grouping from a JSON file ``{"group": ["tag", ...], ...}``.

    Raises
    ------
    ValueError
        The file is not such an object.

    Examples
    --------
    >>> read_groups("groups.json")                       # doctest: +SKIP
    {'source': ['guitar', 'organ'], 'tempo': ['fast', 'slow']}
    """
    groups = json.loads(Path(path).read_text())
    if not isinstance(groups, dict) or not all(
        isinstance(tags, list) and all(isinstance(t, str) for t in tags) for tags in groups.values()
    ):
        raise DataError(f'{path} must hold a JSON object {{"group": ["tag", ...], ...}}')
    return groups


def tag_groups(tags: Sequence[str], groups: Mapping[str, Sequence[str]] | None = None) -> dict[str, list[str]]:
    """Split ``tags`` into named groups, keeping only groups that hold some.

    With ``groups`` given, tags it does not name go to a last group ``"other"``;
    without, the MSD tags are grouped by :data:`MSD_TAG_GROUPS` and any other tag
    set is one group ``"all"``.

    Examples
    --------
    >>> tag_groups(["rock", "sad", "90s"])
    {'genre': ['rock'], 'mood': ['sad'], 'era': ['90s']}
    >>> tag_groups(["fast", "loud", "slow"], {"tempo": ["fast", "slow"]})
    {'tempo': ['fast', 'slow'], 'other': ['loud']}
    >>> tag_groups(["fast", "loud"])
    {'all': ['fast', 'loud']}
    """
    known = set(tags)
    if groups is None:
        msd = {t for ts in MSD_TAG_GROUPS.values() for t in ts}
        groups = MSD_TAG_GROUPS if known <= msd else {"all": list(tags)}
    result = {name: [t for t in ts if t in known] for name, ts in groups.items()}
    grouped = {t for ts in result.values() for t in ts}
    result["other"] = [t for t in tags if t not in grouped]
    return {name: ts for name, ts in result.items() if ts}


def _pick_budget(rows: Sequence[dict], baseline: str) -> int:
    """The budget nearest 1M (on a log scale) at which ``baseline`` was trained."""
    budgets = sorted({r["budget"] for r in rows if r["arch"] == baseline})
    if not budgets:
        archs = sorted({r["arch"] for r in rows})
        raise ParameterError(f"no {baseline} results to use as the baseline; have {', '.join(archs)}")
    return min(budgets, key=lambda b: abs(math.log(b / 1e6)))


def _auc(row: dict, tag: str) -> float:
    value = row["per_tag"].get(tag)
    return math.nan if value is None else value


def plot_per_tag(
    rows: Sequence[dict], *, budget: int | None = None, baseline: str = "k2c2",
    groups: Mapping[str, Sequence[str]] | None = None, title: str = "",
) -> Figure:  # fmt: skip
    """Per-tag test ROC-AUC at one budget: the baseline, and the others' differences.

    Top: the baseline structure's AUC per tag, as bars; bottom: every other
    structure's AUC minus the baseline's. Tags are grouped (see :func:`tag_groups`)
    and sorted by the baseline's AUC within each group.

    Parameters
    ----------
    rows : sequence of dict
        Rows of :func:`music_tagger.training.experiment.read_grid_results`.
    budget : int, optional
        Which budget's models (default: the one nearest 1M among the baseline's).
    baseline : str
        The structure drawn as bars (the paper: k2c2).
    groups : mapping, optional
        Group name -> tags (default: :data:`MSD_TAG_GROUPS` for MSD tags).
    title : str
        Prefix of the title.

    Raises
    ------
    ValueError
        No baseline result at ``budget``.

    Examples
    --------
    >>> fig = plot_per_tag(read_grid_results("runs"), baseline="k2c2")   # doctest: +SKIP
    """
    budget = _pick_budget(rows, baseline) if budget is None else budget
    at_budget = {r["arch"]: r for r in rows if r["budget"] == budget}
    if baseline not in at_budget:
        raise ParameterError(f"no {baseline} result at budget {budget}; have {sorted(at_budget)}")
    base = at_budget[baseline]
    others = [arch for arch in at_budget if arch != baseline]
    grouped = tag_groups(list(base["per_tag"]), groups)
    order = [
        (name, sorted(tags, key=lambda t: -np.nan_to_num(_auc(base, t), nan=-1.0))) for name, tags in grouped.items()
    ]
    tags = [t for _, ts in order for t in ts]
    x = np.arange(len(tags))

    width = max(7.0, 0.24 * len(tags) + 2.5)
    fig = Figure(figsize=(width, 6.4), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": (1, 1)})
    base_auc = np.array([_auc(base, t) for t in tags])
    top.bar(x, base_auc, width=0.7, color=_style(baseline, 0)["color"], label=baseline)
    low = np.nanmin(base_auc) if np.isfinite(base_auc).any() else 0.5
    top.set_ylim(max(0.0, min(0.5, low) - 0.05), 1.0)
    top.set_ylabel(f"{baseline} test ROC-AUC")
    top.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))

    bar = 0.8 / max(1, len(others))
    for i, arch in enumerate(others):
        diff = np.array([_auc(at_budget[arch], t) for t in tags]) - base_auc
        bottom.bar(x - 0.4 + bar * (i + 0.5), diff, width=bar, label=arch,
                   color=_style(arch, i + 1)["color"])  # fmt: skip
    bottom.axhline(0, color="black", linewidth=0.8)
    bottom.set_ylabel(f"ROC-AUC minus {baseline}'s")
    if others:
        bottom.legend(title="structure", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    bottom.set_xticks(x, tags, rotation=90, fontsize=8)
    bottom.set_xlim(-0.6, len(tags) - 0.4)

    start = 0
    for name, ts in order:
        end = start + len(ts)
        for ax in (top, bottom):
            if start:
                ax.axvline(start - 0.5, color="0.5", linewidth=0.8)
        top.text((start + end - 1) / 2, 1.0, name, ha="center", va="bottom",
                 transform=top.get_xaxis_transform(), fontsize=9, fontweight="bold")  # fmt: skip
        start = end
    for ax in (top, bottom):
        ax.grid(True, axis="y", alpha=0.3)
    label = f"{budget / 1e6:g}M budget ({base['params']:,} parameters in {baseline})"
    fig.suptitle(f"{title}: per-tag AUC, {label}" if title else f"Per-tag AUC, {label}")
    return fig


def _save(fig: Figure, out_dir: Path, name: str, formats: Sequence[str]) -> list[Path]:
    """Save ``fig`` as ``<out_dir>/<name>.<format>`` for each format, atomically."""
    paths = []
    for fmt in formats:
        path = out_dir / f"{name}.{fmt}"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=110)
        paths.append(path)
    return paths


def draw_figures(
    results: str | os.PathLike | Sequence[dict],
    out_dir: str | os.PathLike,
    *,
    reference: float | None = None,
    reference_label: str = "reference",
    groups: Mapping[str, Sequence[str]] | None = None,
    budget: int | None = None,
    baseline: str = "k2c2",
    title: str = "",
    formats: Sequence[str] = ("png", "pdf"),
) -> list[Path]:
    """Draw :data:`FIGURES` from a results table into ``out_dir``.

    Parameters
    ----------
    results : path or sequence of dict
        A run folder of :func:`music_tagger.training.experiment.run_experiment`, its
        ``results.json``, or its rows.
    out_dir : str or path-like
        Created if missing.
    reference, reference_label
        Horizontal reference line of the AUC figures.
    groups, budget, baseline
        For the per-tag figure (:func:`plot_per_tag`).
    title : str
        Prefix of every title, e.g. the data set.
    formats : sequence of str
        File formats matplotlib can write.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Examples
    --------
    >>> draw_figures("runs", "figs", reference=0.851, reference_label="paper")  # doctest: +SKIP
    """
    rows = read_grid_results(results) if isinstance(results, (str, os.PathLike)) else list(results)
    if not rows:
        raise DataError("the results table is empty")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    line = {"reference": reference, "reference_label": reference_label, "title": title}
    draw = {
        "auc_vs_params": lambda: plot_auc_vs_params(rows, **line),
        "auc_vs_time": lambda: plot_auc_vs_time(rows, **line),
        "per_tag_auc": lambda: plot_per_tag(rows, budget=budget, baseline=baseline, groups=groups, title=title),
    }
    return [p for name in FIGURES for p in _save(draw[name](), out_dir, name, formats)]
