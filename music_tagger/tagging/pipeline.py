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

import itertools
import os
import sys
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..audio import KAISER_BEST_2016
from ..audio.reading import CHUNK_CROPS, DECODE_MODULES, READ_MODULES
from ..errors import ParameterError
from ..util.workers import default_workers, resolve_workers, worker_context, worker_init

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
    """

    index: int
    path: str
    scores: np.ndarray | None
    crop_scores: np.ndarray | None = None
    starts: np.ndarray | None = None
    length: int = 0
    error: str | None = None

    @property
    def n_crops(self) -> int:
        """Crops averaged (0 on failure)."""
        return 0 if self.starts is None or self.error is not None else len(self.starts)


def _read_file(job: tuple) -> Iterator[tuple]:
    """The messages of one file: one per chunk of crops, or an error.

    ``job`` is ``(index, path, n_crops, resampler, starts, chunk, melgram)``; each message
    ``(index, path, first, melgrams, starts, length, error, last)``: crops
    ``first...`` of the file, or ``error`` (a message; no crops) when it cannot be
    read, which never raises: one bad file must not cost the others. ``last``
    marks the file's last message.
    """
    from .. import audio
    from ..audio import reading

    index, path, n_crops, resampler, starts, chunk, melgram = job
    try:
        pending = None  # a chunk is sent once the next is known, so `last` is right
        for first, mels, at, length in reading.iter_melgrams(
            path, n_crops, resampler=resampler, starts=starts, chunk=chunk, melgram=melgram
        ):
            if pending is not None:
                yield pending
            pending = (index, path, first, mels, at, length, None, False)
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except Exception as err:  # one bad file must not cost the others
        message = str(err) if isinstance(err, audio.AudioError) else f"{path}: {type(err).__name__}: {err}"
        yield index, path, 0, None, None, 0, message, True
        return
    yield pending[:-1] + (True,)


def _work(tasks, results) -> None:
    """A worker process: read the files of ``tasks`` until None, chunks to ``results``
    (the sending end of this worker's own pipe).

    One BLAS thread per worker (the cores are shared out by process); Ctrl-C is
    left to the main process, which stops the workers.
    """
    from threadpoolctl import threadpool_limits

    worker_init()  # dies with this run's process, even after a SIGKILL
    threadpool_limits(1)
    for job in iter(tasks.get, None):
        for message in _read_file(job):
            results.send(message)


def read_chunks(
    files: Sequence[str],
    *,
    crops: int = 1,
    resampler: str = KAISER_BEST_2016,
    starts: Callable[[int], np.ndarray] | None = None,
    workers: int = 0,
    chunk: int = CHUNK_CROPS,
    melgram: bool = True,
) -> Iterator[tuple]:
    """The crops of ``files`` as worker processes read them, a chunk at a time.

    The reading stage of :func:`run` (and of the benchmark's stage alone): each
    file is read by one worker (:func:`music_tagger.audio.reading.iter_melgrams`), at
    most 4 files per worker are given out at a time, and chunks come back through
    one pipe per worker: a worker waits in its send while the consumer is behind, so
    memory is bounded by chunks, not by files or by the length of a track. A worker
    that dies, even half-way through a send, closes its pipe, which ends the run
    with an error instead of a read that never returns. The workers start at once,
    before the first chunk is asked for.

    Parameters
    ----------
    files, crops, resampler, starts, chunk, melgram
        As for :func:`run`.
    workers : int
        Worker processes; 0 reads in this process, when asked.

    Yields
    ------
    tuple
        ``(index, path, first, melgrams, starts, length, error, last)``, the chunks
        of a file in order, files in the order they finish (see :func:`_read_file`).

    Raises
    ------
    RuntimeError
        A worker process died (killed, out of memory); the files in flight then
        have no result.
    """
    jobs = ((i, os.fspath(f), crops, resampler, starts, chunk, melgram) for i, f in enumerate(files))
    if workers == 0:
        return (message for job in jobs for message in _read_file(job))
    # several workers inherit the audio stack imported here; a single one imports it
    # itself, while this process goes on
    modules = READ_MODULES if melgram else DECODE_MODULES
    context = worker_context([__name__, *modules], inherit=workers > 1)
    tasks = context.Queue()
    pipes = [context.Pipe(duplex=False) for _ in range(workers)]
    procs = [context.Process(target=_work, args=(tasks, send), daemon=True) for _, send in pipes]
    for proc in procs:
        proc.start()
    for _, send in pipes:
        send.close()  # the worker's end lives in the worker alone: its death is EOF here
    results = [receive for receive, _ in pipes]
    in_flight = _hand_out(jobs, 4 * workers, tasks)  # the workers start reading now
    stream = _stream(jobs, in_flight, procs, tasks, results)
    # a stream dropped before it started (the model failed to load) stops them too
    weakref.finalize(stream, _stop, procs, tasks, results)
    return stream


def _hand_out(jobs: Iterator[tuple], n: int, tasks) -> int:
    """Put the next ``n`` jobs (fewer at the end) on ``tasks``; return how many."""
    given = 0
    for job in itertools.islice(jobs, n):
        tasks.put(job)
        given += 1
    return given


def _stop(procs: list, tasks, results: list) -> None:
    """Stop the workers that are still running; close their pipes and queue."""
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout=10)
        if proc.exitcode is None:  # stuck where SIGTERM cannot end it
            proc.kill()
            proc.join()
    tasks.cancel_join_thread()
    tasks.close()
    for receive in results:
        receive.close()


def _stream(jobs: Iterator[tuple], in_flight: int, procs: list, tasks, results: list) -> Iterator[tuple]:
    """Yield the messages of the started workers ``procs`` (``results``: the
    receiving end of each one's pipe), which have ``in_flight`` jobs, handing them
    the rest of ``jobs`` one per finished file; stop the workers when done or
    stopped early."""
    from multiprocessing.connection import wait

    try:
        while in_flight:
            for receive in wait(results):
                try:
                    message = receive.recv()
                except (EOFError, OSError):
                    # its pipe closed, maybe half-way through a message: the worker died
                    dead = procs[results.index(receive)]
                    dead.join(timeout=5)
                    raise RuntimeError(
                        f"a reading worker process died (exit code {dead.exitcode}); "
                        "the files it was reading have no result"
                    ) from None
                yield message
                if message[-1]:
                    in_flight += _hand_out(jobs, 1, tasks) - 1
        for _ in procs:
            tasks.put(None)
        for proc in procs:
            proc.join(timeout=10)
    finally:  # stopped early (an error, a closed pipe, Ctrl-C): stop the workers
        _stop(procs, tasks, results)


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
    melgram: bool = True,
) -> Iterator[FileScores]:
    """Yield the network output of each file as soon as it and those before it are done.

    Parameters
    ----------
    files : sequence of str
        Audio files (a folder gives an error entry).
    model : Predictor or callable
        The network (a Keras model, an :class:`~music_tagger.deploy.runtime.OnnxModel`:
        see :class:`music_tagger.tagging.networks.Predictor`), or a function without
        arguments that builds it: called when the first crops are ready.
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
    melgram : bool
        True: the workers send log-mels, and the network gets ``(n, 96, 1366, 1)``;
        False: they send each crop's 12 kHz samples, ``(n, 349440)``, for a network
        that computes the front end itself (the ONNX runtime's), and the workers
        never import librosa.

    Yields
    ------
    FileScores
        One per file, in the order of ``files``.
    """
    if starts is not None and crops != 1:
        raise ParameterError(f"starts places the crops: crops must be 1 with it, got {crops!r}")
    files = [os.fspath(f) for f in files]
    built = hasattr(model, "predict_on_batch")
    processes = resolve_workers(workers, n_jobs=len(files))
    if workers is None and processes == 1:
        # by default, one file (or one core): read it in this process, or in one
        # worker while this process loads the model, when there is one to load
        overlap = default_workers() > 1 and not built and "tensorflow" not in sys.modules
        processes = 1 if overlap and os.path.isfile(files[0]) else 0
    results = read_chunks(
        files, crops=crops, resampler=resampler, starts=starts, workers=processes, chunk=chunk,
        melgram=melgram,
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
        x = x[..., None] if melgram else x  # log-mels get their channel axis
        pad = batch_size - len(x) if padded_shape else 0
        if pad > 0:
            # after full batches, the last, partial one is padded with zeros (outputs
            # do not depend on the rest of the batch): cheaper than tracing
            # predict_on_batch again for a new shape; a run of fewer crops than one
            # batch traces its own shape instead of computing the padding
            x = np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)])
        y = np.asarray(network.predict_on_batch(x), dtype=np.float32)[:n]
        padded_shape = padded_shape or n == batch_size
        for out, i in zip(y, owners[:n]):
            if i not in waiting:  # the file failed after its first chunk
                continue
            path, at, length, outs = waiting[i]
            outs.append(out)
            if len(outs) == len(at):
                del waiting[i]
                per_crop = np.stack(outs)
                mean = per_crop.mean(axis=0, dtype=np.float64).astype(np.float32)
                done[i] = FileScores(i, path, mean, per_crop if keep_crops else None, at, length)
        del queue[:n], owners[:n]

    try:
        if processes and any(os.path.isfile(f) for f in files[: 4 * processes]):
            # the workers have started (forked before TensorFlow loads): load the
            # model while they read the first files (when there is a file to read);
            # otherwise it is loaded with the first crops
            network = build()
        for index, path, first, mels, at, length, error, _ in results:
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
