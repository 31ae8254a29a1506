"""The tagging pipeline: spectrograms on every core, overlapped with batched inference.

:func:`run` is the engine behind :func:`music_tagger.tag` and ``music-tagger tag``:

* worker processes (``workers``, default every core) read each file's crops with
  :func:`music_tagger.audio.reading.iter_melgrams` (only the audio the crops need) and
  hand them over a chunk at a time through one pipe per worker (:func:`read_chunks`),
  so memory grows neither with the number of files nor with the length of a
  track (the taggram of a 2-hour file included);
* the main process feeds the crops to the network in fixed batches of
  ``batch_size`` (a batch may mix files) while the workers go on decoding;
* every finished file is yielded at once, in input order, as a
  :class:`FileScores`. A file that cannot be read is a :class:`FileScores` with
  an ``error``; it never costs the others their results.

The worker processes are started and given their first files before the model is
built (right after, when one of those files exists; otherwise with the first
crops), so they fork before TensorFlow is loaded and model loading overlaps with
the first decodes; a single file is read in one worker for that overlap alone.
Several workers fork after this process has imported the audio stack
(:data:`music_tagger.audio.reading.READ_MODULES`), so that no worker spends two seconds
of a core importing it again. Once TensorFlow is loaded, forking is unsafe:
workers then come from a forkserver that has imported the audio stack once (the
first pool pays for it, later ones nothing) and that does not import the
caller's main module, so a script without ``if __name__ == "__main__":`` works.
Every worker dies with this process, even after a SIGKILL
(:mod:`music_tagger.util.workers`).

Examples
--------
>>> from music_tagger.tagging.pipeline import run
>>> from music_tagger.tagging.tagger import get_model
>>> for r in run(["a.mp3", "b.ogg"], lambda: get_model("crnn")):   # doctest: +SKIP
...     print(r.path, r.error or r.scores.argmax())
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..audio import KAISER_BEST_2016
from ..audio.reading import CHUNK_CROPS, DECODE_MODULES, READ_MODULES
from ..errors import ParameterError
from ..util.checks import one_of
from ..util.workers import JOBS_PER_WORKER, default_workers, failure_text, imap_jobs, resolve_workers
from ..vocabulary import INPUTS

__all__ = ["FileScores", "read_chunks", "run"]


@dataclass
class FileScores:
    """The network output of one file.

    Attributes
    ----------
    index : int
        Position of the file in the input.
    path : str
    scores : np.ndarray of float32, shape (n_outputs,), or None
        Mean output over the crops; None when the file failed.
    crop_scores : np.ndarray of float32, shape (n_crops, n_outputs), or None
        Output of every crop, in time order (kept only when asked).
    starts : np.ndarray of int64, shape (n_crops,), or None
        Start of each crop in samples at 12 kHz.
    length : int
        Length of the track in samples at 12 kHz (0 on failure).
    error : str or None
    outputs : list of np.ndarray of float32, or None
        A network with several outputs: the mean of each over the crops (``scores``
        is the first); None for a network with one.
    """

    index: int
    path: str
    scores: np.ndarray | None
    crop_scores: np.ndarray | None = None
    starts: np.ndarray | None = None
    length: int = 0
    error: str | None = None
    outputs: list[np.ndarray] | None = None

    @property
    def n_crops(self) -> int:
        """Crops averaged (0 on failure)."""
        return 0 if self.starts is None or self.error is not None else len(self.starts)


def _read_file(job: tuple) -> Iterator[tuple]:
    """The messages of one file: one per chunk of crops, or an error.

    ``job`` is ``(index, path, n_crops, resampler, starts, chunk, input)``; each message
    ``(index, path, first, melgrams, starts, length, error)``: crops
    ``first...`` of the file, or ``error`` (:func:`~music_tagger.util.workers.failure_text`;
    no crops) when it cannot be read, which never raises: one bad file must not
    cost the others.
    """
    from ..audio import reading

    index, path, n_crops, resampler, starts, chunk, input = job
    try:
        for first, mels, at, length in reading.iter_melgrams(
            path, n_crops, resampler=resampler, starts=starts, chunk=chunk, input=input
        ):
            yield index, path, first, mels, at, length, None
    except Exception as err:  # one bad file must not cost the others
        yield index, path, 0, None, None, 0, failure_text(path, err)


def read_chunks(
    files: Sequence[str],
    *,
    crops: int = 1,
    resampler: str = KAISER_BEST_2016,
    starts: Callable[[int], np.ndarray] | None = None,
    workers: int = 0,
    chunk: int = CHUNK_CROPS,
    input: str = "melgram",
) -> Iterator[tuple]:
    """The crops of ``files`` as worker processes read them, a chunk at a time.

    The reading stage of :func:`run` (and of the benchmark's stage alone): each
    file is read by one worker (:func:`music_tagger.audio.reading.iter_melgrams`) of
    the package's pool (:func:`music_tagger.util.workers.imap_jobs`: a few files
    per worker given out at a time, chunks back through one pipe per worker), so
    memory is bounded by chunks, not by files or by the length of a track.

    Parameters
    ----------
    files, crops, resampler, starts, chunk, input
        As for :func:`run`.
    workers : int
        Worker processes; 0 reads in this process, when asked.

    Yields
    ------
    tuple
        ``(index, path, first, melgrams, starts, length, error)``, the chunks
        of a file in order, files in the order they finish (see :func:`_read_file`).

    Raises
    ------
    RuntimeError
        A worker process died (killed, out of memory); the files in flight then
        have no result.
    """
    one_of(input, "input", INPUTS)  # here, not in each worker's read of each file
    jobs = [(i, os.fspath(f), crops, resampler, starts, chunk, input) for i, f in enumerate(files)]
    return imap_jobs(_read_file, jobs, workers, preload=READ_MODULES if input == "melgram" else DECODE_MODULES)


def run(
    files: Sequence[str],
    model: Any = None,
    *,
    crops: int = 1,
    resampler: str = KAISER_BEST_2016,
    starts: Callable[[int], np.ndarray] | None = None,
    batch_size: int = 8,
    workers: int | None = None,
    keep_crops: bool = False,
    chunk: int = CHUNK_CROPS,
    input: str = "melgram",
) -> Iterator[FileScores]:
    """Yield the network output of each file as soon as it and those before it are done.

    Parameters
    ----------
    files : sequence of str
        Audio files (a folder gives an error entry).
    model : Predictor or callable
        The network (a Keras model, an :class:`~music_tagger.runtime.sessions.OnnxModel`:
        see :class:`music_tagger.tagging.networks.Predictor`; one output or several,
        see :attr:`FileScores.outputs`), or a function without arguments that
        builds it: called once the workers have their first files (model loading
        overlaps with the first decodes), or with the first crops when none of
        those files exists or the files are read in this process.
    crops : int
        Crops per file spread over the track; 1 when ``starts`` is given (``starts``
        places the crops; another value is an error, not ignored).
    resampler : {"kaiser_best_2016", "soxr_hq"}
    starts : callable, optional
        Crop starts as a function of the track's length at 12 kHz (a taggram's hop).
        It must be picklable (a module-level function or a ``functools.partial``).
    batch_size : int
        Crops per network call.
    workers : int, optional
        Worker processes, never more than the files; 0 reads in this process.
        Default: the cores this process may use
        (:func:`music_tagger.util.workers.default_workers`); then a single file is
        read in one worker process while this one loads the model, if it has one to
        load, else here.
    keep_crops : bool
        Keep every crop's output in ``crop_scores``.
    chunk : int
        Crops a worker hands over at a time (a long file's taggram is read and
        scored chunk by chunk).
    input : {"melgram", "audio"}
        What the network takes (:data:`music_tagger.vocabulary.INPUTS`): log-mels, sent
        by the workers and given to the network as ``(n, 96, 1366, 1)``; or each
        crop's 12 kHz samples, ``(n, 349440)``, for a network that computes the front
        end itself (the ONNX runtime's), and the workers never import librosa.

    Yields
    ------
    FileScores
        One per file, in the order of ``files``.
    """
    if starts is not None and crops != 1:
        raise ParameterError(f"starts places the crops: crops must be 1 with it, got {crops!r}")
    files = [os.fspath(f) for f in files]
    built = hasattr(model, "predict_on_batch")
    n_workers = resolve_workers(workers, n_jobs=len(files))
    if workers is None and n_workers == 1:
        # by default, one file (or one core): read it in this process, or in one
        # worker while this process loads the model, when there is one to load
        overlap = default_workers() > 1 and not built and "tensorflow" not in sys.modules
        n_workers = 1 if overlap and os.path.isfile(files[0]) else 0
    results = read_chunks(
        files,
        crops=crops,
        resampler=resampler,
        starts=starts,
        workers=n_workers,
        chunk=chunk,
        input=input,
    )
    build = (lambda: model) if built else model
    network = None

    done: dict[int, FileScores] = {}
    waiting: dict[int, tuple] = {}  # index -> (path, starts, length, outputs so far)
    queue: list[np.ndarray] = []  # crops waiting for a batch
    owners: list[int] = []
    next_out = 0
    padded_shape = False  # a full batch has run: later partial ones are padded to it

    def predict(n: int) -> None:
        nonlocal network, padded_shape
        if network is None:
            network = build()
        x = np.stack(queue[:n])
        x = x[..., None] if input == "melgram" else x  # log-mels get their channel axis
        pad = batch_size - len(x) if padded_shape else 0
        if pad > 0:
            # after full batches, the last, partial one is padded with zeros (outputs
            # do not depend on the rest of the batch): cheaper than tracing
            # predict_on_batch again for a new shape; a run of fewer crops than one
            # batch traces its own shape instead of computing the padding
            x = np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)])
        y = network.predict_on_batch(x)
        ys = [np.asarray(o, dtype=np.float32)[:n] for o in (y if isinstance(y, (list, tuple)) else [y])]
        padded_shape = padded_shape or n == batch_size
        for k, i in enumerate(owners[:n]):
            if i not in waiting:  # the file failed after its first chunk
                continue
            path, at, length, outs = waiting[i]
            outs.append([o[k] for o in ys])
            if len(outs) == len(at):
                del waiting[i]
                per_crop = [np.stack(crops_of) for crops_of in zip(*outs)]  # one per output
                means = [p.mean(axis=0, dtype=np.float64).astype(np.float32) for p in per_crop]
                done[i] = FileScores(
                    i, path, means[0], per_crop[0] if keep_crops else None, at, length,
                    outputs=means if len(means) > 1 else None,
                )  # fmt: skip
        del queue[:n], owners[:n]

    try:
        if n_workers and any(os.path.isfile(f) for f in files[: JOBS_PER_WORKER * n_workers]):
            # the workers have started (forked before TensorFlow loads): load the
            # model while they read the first files (when there is a file to read);
            # otherwise it is loaded with the first crops
            network = build()
        for index, path, first, mels, at, length, error in results:
            if error is not None:  # crops of its earlier chunks are dropped when predicted
                waiting.pop(index, None)
                done[index] = FileScores(index, path, None, error=error)
            else:
                if first == 0:
                    waiting[index] = (path, at, length, [])
                queue.extend(mels)
                owners.extend([index] * len(mels))
                while len(queue) >= batch_size:
                    predict(batch_size)
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1
        if queue:
            predict(len(queue))
        while next_out in done:
            yield done.pop(next_out)
            next_out += 1
    finally:  # a consumer that stops early (a closed pipe): stop the workers
        results.close()
