"""Tagging audio files with the pretrained taggers.

:func:`tag` tags files and folders end to end: it reads each file, computes its
log-mel crops, predicts them in batches shared across files, and returns one
:class:`~music_tagger.tagging.results.TagResult` per file (:func:`iter_tag` streams
them). A file that cannot be read gives a result with an ``error`` message; it never
costs the other files their results. Scores become tags with
:func:`~music_tagger.tagging.results.decode_predictions`.

Two modes
---------
``faithful=True``
    Exactly the original 2016 recipe: the single centre crop of 29.12 s with the
    rebuilt 2016 resampler, so ``result.scores`` equals
    ``model.predict(compute_melgram(path)[None, ..., None])[0]`` to float rounding (the
    network runs batches of several crops, which moves scores by up to 6e-8). Use it
    to reproduce the published numbers.
default (``faithful=False``)
    The mean of the sigmoid scores of ``crops`` (default :data:`DEFAULT_CROPS` = 8)
    crops spread evenly over the track (:func:`music_tagger.audio.compute_melgrams`),
    with the faster ``soxr_hq`` resampler. The CRNN's input BatchNorm is indexed by
    time frame, so a single crop is sensitive to alignment: per-tag scores move by
    up to 0.1 when the crop shifts by less than a second, and the top tag of a clip
    can flip. Averaging 8 crops removes most of that jitter at 8 network passes per
    file (about 1 s on a 2-core CPU); on a typical 3-4 minute song 8 crops of 29 s
    also cover nearly all of it. The resampler changes scores by about 2e-4 on
    ordinary music (up to 0.02 on the four example clips), far less than the crop
    jitter, and is 2-3 times faster than the faithful one on long tracks.

Scores are kept at full precision (Python floats in :func:`decode_predictions`,
float32 arrays in :class:`TagResult`); round them only for display.

Examples
--------
>>> from music_tagger import tag, example
>>> results = tag([example("bensound-cute")], top_n=3)        # doctest: +SKIP
>>> results[0].top                                           # doctest: +SKIP
[('jazz', 0.524...), ('instrumental', 0.158...), ('guitar', 0.073...)]
>>> tag([example("bensound-cute")], top_n=3, faithful=True)[0].top   # doctest: +SKIP
[('jazz', 0.444...), ('instrumental', 0.150...), ('folk', 0.103...)]
"""

from __future__ import annotations

import os
import sys
from functools import partial
from typing import Any, Iterable, Iterator, Sequence, Union

import numpy as np

from ..audio import KAISER_BEST_2016, RESAMPLERS, SOXR_HQ
from ..audio.files import AUDIO_EXTENSIONS, expand_paths
from ..errors import ParameterError
from ..util.checks import non_negative_int, positive_int, pretrained_name
from .networks import check_runtime, get_model, network_input
from .results import TagResult, _default_tags, decode_predictions
from .taggram import taggram_crops

__all__ = [
    "DEFAULT_CROPS",
    "DEFAULT_BATCH_SIZE",
    "get_model",
    "iter_tag",
    "predict_files",
    "resolve_mode",
    "tag",
]

PathLike = Union[str, "os.PathLike[str]"]

#: Crops per file in the default (non-faithful) mode; see the module docstring.
DEFAULT_CROPS = 8
#: Crops per network call. The CRNN needs about 100 MB of activations per crop; on
#: a 2-core CPU batches of 8 and 16 crops ran at the same speed (about 0.1 s a crop).
DEFAULT_BATCH_SIZE = 8
#: Resampler of the default mode (the faithful mode always uses kaiser_best_2016).
FAST_RESAMPLER = SOXR_HQ
FAITHFUL_RESAMPLER = KAISER_BEST_2016


# --------------------------------------------------------------------------- models


# --------------------------------------------------------------------------- prediction


def _progress_bar(total: int, progress: bool | None, desc: str):
    """A tqdm bar on stderr, or None. ``progress=None``: only on a terminal, > 1 file."""
    if progress is None:
        progress = total > 1 and hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="file", file=sys.stderr, leave=False)


def resolve_mode(crops: int | None, faithful: bool, resampler: str | None) -> tuple[int, str]:
    """The checked ``(crops, resampler)`` of a tagging mode: the one place of the rule.

    ``faithful`` means the single centre crop and the 2016 resampler; otherwise the
    defaults are :data:`DEFAULT_CROPS` crops and :data:`FAST_RESAMPLER`.

    Raises
    ------
    ParameterError
        ``faithful`` with several crops or another resampler, or a bad value.

    Examples
    --------
    >>> resolve_mode(None, True, None)
    (1, 'kaiser_best_2016')
    >>> resolve_mode(None, False, None)
    (8, 'soxr_hq')
    """
    if crops is None:
        crops = 1 if faithful else DEFAULT_CROPS
    crops = positive_int(crops, "crops")
    if faithful:
        if crops != 1:
            raise ParameterError(f"the faithful mode uses the single centre crop; got crops={crops}")
        if resampler not in (None, FAITHFUL_RESAMPLER):
            raise ParameterError(f"the faithful mode uses the {FAITHFUL_RESAMPLER!r} resampler; got {resampler!r}")
        resampler = FAITHFUL_RESAMPLER
    elif resampler is None:
        resampler = FAST_RESAMPLER
    if resampler not in RESAMPLERS:
        raise ParameterError(f"resampler must be one of {RESAMPLERS}, got {resampler!r}")
    return crops, resampler


def predict_files(
    files: Sequence[PathLike],
    model: Any = None,
    *,
    crops: int | None = None,
    faithful: bool = False,
    resampler: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool | None = None,
    desc: str = "tagging",
    workers: int | None = None,
    runtime: str | None = None,
) -> list[tuple[np.ndarray | None, int, str | None]]:
    """Mean model output over the crops of each file: the engine of :func:`tag`.

    Works with any model on the ``(96, 1366, 1)`` input, e.g. an
    ``include_top=False`` feature extractor (then each output is a mean feature).
    Crops of several files are predicted together in batches of ``batch_size``
    crops; in inference mode a clip's output does not depend on the other clips of
    its batch (BatchNorm uses its moving statistics). The work runs in
    :func:`music_tagger.tagging.pipeline.run`.

    Parameters
    ----------
    files : sequence of path-like
        Audio files (not folders; see :func:`expand_paths`).
    model : None, "crnn", "cnn" or keras.Model
    crops : int, optional
        Crops per file, spread over the track; default :data:`DEFAULT_CROPS`, or 1
        (and only 1) when ``faithful``.
    faithful : bool
        The original single centre crop with the 2016 resampler.
    resampler : {"kaiser_best_2016", "soxr_hq"}, optional
        Default: "kaiser_best_2016" when faithful, else :data:`FAST_RESAMPLER`.
    batch_size : int
        Crops per network call.
    progress : bool or None
        tqdm bar on stderr; None shows it only on a terminal for more than one file.
    workers : int, optional
        Processes reading audio; default the cores this process may use; 0 reads
        in this process.

    Returns
    -------
    list of (output or None, n_crops, error or None)
        One entry per file, in order. ``output`` is the float32 mean over crops.
    """
    from .pipeline import run

    crops, resampler = resolve_mode(crops, faithful, resampler)
    batch_size = positive_int(batch_size, "batch_size")
    runtime = check_runtime(model, runtime)
    input = network_input(model, runtime)
    get_model(model, runtime, input)  # fail on a bad model before any work
    files = [os.fspath(f) for f in files]
    stream = run(
        files, partial(get_model, model, runtime, input), crops=crops, resampler=resampler,
        batch_size=batch_size, workers=workers, input=input,
    )  # fmt: skip
    return [(r.scores, r.n_crops, r.error) for r in _with_progress(stream, len(files), progress, desc)]


def _with_progress(stream, total: int, progress: bool | None, desc: str):
    bar = _progress_bar(total, progress, desc)
    if bar is None:
        yield from stream
        return
    try:
        for item in stream:
            bar.update(1)
            yield item
    finally:
        bar.close()


def _check_tags(keras_model_or_name: Any, tags: list[str]) -> None:
    """ParameterError when the model's output does not have one column per tag."""
    if isinstance(keras_model_or_name, str) or keras_model_or_name is None:
        n_out = len(_default_tags())  # the MSD taggers: 50 outputs
    else:
        n_out = keras_model_or_name.output_shape[-1]
    if n_out != len(tags):
        raise ParameterError(
            f"the model outputs {n_out} values per clip but {len(tags)} tags were "
            "given; pass tags= with one name per output (an include_top=False model "
            "gives features, not tag scores: use predict_files for those)"
        )


def iter_tag(
    paths: PathLike | Iterable[PathLike],
    model: Any = None,
    top_n: int | None = 10,
    crops: int | None = None,
    faithful: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool | None = None,
    *,
    resampler: str | None = None,
    tags: Sequence[str] | None = None,
    workers: int | None = None,
    taggram: bool = False,
    hop: float | None = None,
    thresholds: Any = None,
    runtime: str | None = None,
) -> Iterator[TagResult]:
    """:func:`tag`, one result at a time: each file's result as soon as it is ready.

    Same parameters and checks as :func:`tag` (the checks run at the call, before
    the first result is asked for). Results come in input order; stopping early
    stops the worker processes.

    Examples
    --------
    >>> from music_tagger.tagging.tagger import iter_tag
    >>> for r in iter_tag(["albums/"], top_n=3):          # doctest: +SKIP
    ...     print(r.path, r.top)
    """
    from .pipeline import run

    options, tags, top_n, threshold_of = prepare_run(
        model, top_n, crops, faithful, batch_size, resampler=resampler, tags=tags,
        taggram=taggram, hop=hop, thresholds=thresholds,
    )  # fmt: skip
    runtime = check_runtime(model, runtime)
    workers = non_negative_int(workers, "workers", allow_none=True)
    files = expand_paths(paths)
    input = network_input(model, runtime)
    stream = run(files, partial(get_model, model, runtime, input), workers=workers, input=input, **options)
    results = _with_progress(stream, len(files), progress, "tagging")
    return (_result(r, tags, top_n, taggram, threshold_of) for r in results)


def prepare_run(
    model: Any,
    top_n: int | None,
    crops: int | None,
    faithful: bool,
    batch_size: int,
    *,
    resampler: str | None,
    tags: Sequence[str] | None,
    taggram: bool,
    hop: float | None,
    thresholds: Any,
) -> tuple[dict[str, Any], list[str], int | None, dict[str, float] | None]:
    """Check the arguments of :func:`tag` once, for every engine.

    Returns the keyword arguments of :func:`music_tagger.tagging.pipeline.run` (without
    ``workers``), the tags, ``top_n`` and the thresholds (or None). Raises
    ParameterError before any model is built or file read.
    """
    tags = _default_tags() if tags is None else list(tags)
    top_n = positive_int(top_n, "top_n", allow_none=True)
    batch_size = positive_int(batch_size, "batch_size")
    starts = taggram_crops(taggram, hop, crops=crops, faithful=faithful)
    crops, resampler = resolve_mode(1 if taggram else crops, faithful, resampler)
    threshold_of = None
    if thresholds is not None:
        from .thresholds import load_thresholds

        threshold_of = load_thresholds(thresholds, tags)
    if isinstance(model, str):
        pretrained_name(model, or_model=True)  # built by pipeline.run, once its workers have their first files
    elif model is not None:
        get_model(model)
    _check_tags(model, tags)
    options = dict(crops=crops, resampler=resampler, starts=starts, batch_size=batch_size, keep_crops=taggram)
    return options, tags, top_n, threshold_of


def _result(r, tags: list[str], top_n: int | None, taggram: bool, threshold_of) -> TagResult:
    """A :class:`TagResult` from a :class:`music_tagger.tagging.pipeline.FileScores`."""
    if r.error is not None:
        error = r.error
        if os.path.isdir(r.path):  # kept by expand_paths: a folder without audio
            error = f"{r.path}: folder holds no audio files (looked for {', '.join(AUDIO_EXTENSIONS)})"
        return TagResult(r.path, None, [], error, 0, tags)
    top = decode_predictions(r.scores[None], top_n=top_n, tags=tags)[0]
    result = TagResult(r.path, r.scores, top, None, r.n_crops, tags)
    if taggram:
        from .taggram import Taggram

        result.taggram = Taggram.from_crops(r.starts, r.length, r.crop_scores, tags)
    if threshold_of is not None:
        ranked = decode_predictions(r.scores[None], top_n=None, tags=tags)[0]
        result.passed = [t for t, s in ranked if s >= threshold_of[t]]
    return result


def tag(
    paths: PathLike | Iterable[PathLike],
    model: Any = None,
    top_n: int | None = 10,
    crops: int | None = None,
    faithful: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool | None = None,
    *,
    resampler: str | None = None,
    tags: Sequence[str] | None = None,
    workers: int | None = None,
    taggram: bool = False,
    hop: float | None = None,
    thresholds: Any = None,
    runtime: str | None = None,
) -> list[TagResult]:
    """Tag audio files and folders with a pretrained tagger.

    Parameters
    ----------
    paths : path-like or iterable of path-like
        Audio files and folders (searched recursively for audio files, sorted; see
        :func:`expand_paths`).
    model : None, "crnn", "cnn" or keras.Model
        None or "crnn": the MSD MusicTaggerCRNN (built once and cached); "cnn": the
        MSD MusicTaggerCNN; or any Keras model on ``(96, 1366, 1)`` inputs whose
        output has one column per entry of ``tags``.
    top_n : int or None
        Tags kept in each result's ``top``; None keeps all, sorted.
    crops : int, optional
        Crops per file, spread evenly over the track, whose sigmoid scores are
        averaged; default :data:`DEFAULT_CROPS` (8), or 1 with ``faithful``.
    faithful : bool
        True: the original single centre crop and 2016 resampler, so that the
        scores equal ``model.predict(compute_melgram(path)[None, ..., None])[0]``
        (to 1e-6; only the audio the crop needs is read, see
        :mod:`music_tagger.audio.reading`). ``crops`` must then be None or 1.
    batch_size : int
        Crops per network call (shared across files); memory grows with it.
    progress : bool or None
        A tqdm progress bar on stderr; None (default) shows it only when stderr is
        a terminal and there is more than one file.
    resampler : {"kaiser_best_2016", "soxr_hq"}, optional
        Override the default mode's "soxr_hq" (faithful mode needs
        "kaiser_best_2016").
    tags : sequence of str, optional
        Column names of the model's output; default :data:`music_tagger.TAGS`.
    workers : int, optional
        Processes that read audio and compute spectrograms while the network runs
        (default: the cores this process may use; never more than the files; 0
        works in this process). They never run the calling script again, so a
        script needs no ``if __name__ == "__main__":`` guard, and they end with
        this process, even when it is killed.
    taggram : bool
        Also keep every crop's scores (``result.taggram``): crops start every
        ``hop`` seconds, and ``scores`` is their mean.
    hop : float, optional
        Seconds between taggram crops (default
        :data:`music_tagger.tagging.taggram.DEFAULT_HOP`); only with ``taggram``.
    thresholds : mapping, path or None
        Per-tag thresholds (a JSON file of ``music-tagger calibrate`` or a mapping
        ``{tag: threshold}``); each result's ``passed`` lists the tags that reach
        theirs.
    runtime : {"tf", "onnx"}, optional
        What runs the pretrained model: ``"tf"`` (Keras on TensorFlow) or ``"onnx"``
        (onnxruntime on an ONNX file built from the same weights on first use,
        without importing TensorFlow; scores equal to 2e-5; needs
        ``music_tagger[onnx]``). Default: ``"onnx"`` when ``music_tagger[onnx]``
        is installed, else ``"tf"``
        (:func:`music_tagger.vocabulary.default_runtime`).

    Returns
    -------
    list of TagResult
        One per file, in order. A missing or unreadable file gives a result with
        ``error`` set and ``scores=None``; the other files are still tagged.

    Raises
    ------
    ValueError
        Bad arguments (unknown model, ``faithful`` with several crops, a model
        output that does not match ``tags``), before any file is read.

    See Also
    --------
    iter_tag : the same, one result at a time.

    Examples
    --------
    >>> from music_tagger import tag
    >>> for r in tag(["song.mp3", "albums/"], top_n=3):       # doctest: +SKIP
    ...     print(r.path, r.error or r.top)
    """
    return list(
        iter_tag(
            paths, model, top_n, crops, faithful, batch_size, progress,
            resampler=resampler, tags=tags, workers=workers, taggram=taggram, hop=hop,
            thresholds=thresholds, runtime=runtime,
        )
    )  # fmt: skip
