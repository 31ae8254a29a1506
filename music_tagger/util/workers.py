"""Worker processes that die with the run and never run the caller's script again.

Every pool of the package (the tagging pipeline's readers, the feature cache)
starts its processes through :func:`worker_context` and runs
:func:`worker_init` first in each of them:

* **start method**: ``fork`` on Linux while TensorFlow is not loaded (fast: the
  audio stack is inherited); afterwards, when forking a process with TensorFlow's
  threads is unsafe, a ``forkserver`` (``spawn`` where there is none). Neither
  imports the caller's main module in the workers, as multiprocessing otherwise
  does: a script without ``if __name__ == "__main__":`` that builds a model at
  module level and calls :func:`music_tagger.tag` works, instead of running
  itself again in every worker.
* **parent death**: a worker asks Linux to kill it when its parent dies
  (``prctl(PR_SET_PDEATHSIG, SIGKILL)``, even after a SIGKILL of the parent) and
  watches the pipe multiprocessing keeps to the process that started it; either
  ends it within a fraction of a second, so no reader outlives a killed run.
* **workers**: one meaning everywhere (:func:`resolve_workers`): 0 works in the
  calling process, N starts N worker processes, None means the CPU cores this
  process may use (:func:`default_workers`); never more processes than jobs.
* **the pool**: :func:`imap_jobs` is the package's one pool (the tagging
  pipeline's readers and ``prepare``'s spectrograms): :data:`JOBS_PER_WORKER` jobs
  in flight per worker, one pipe per worker so that a worker waits in its send
  while the consumer is behind (memory bounded by messages, not by jobs), one
  BLAS thread per worker, one rule for what the workers import first, and one
  text for a file a job cannot read (:func:`failure_text`).

Examples
--------
>>> from music_tagger.util.workers import resolve_workers
>>> resolve_workers(0)
0
>>> resolve_workers(3, n_jobs=2)
2
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import multiprocessing
import multiprocessing.context as mp_context
import os
import signal
import sys
import threading
import weakref
from typing import Any, Callable, Iterable, Iterator, Sequence

from ..errors import AudioError
from .checks import non_negative_int, positive_int

__all__ = [
    "JOBS_PER_WORKER",
    "Terminated",
    "default_workers",
    "exit_on_sigterm",
    "failure_text",
    "imap_jobs",
    "in_worker",
    "resolve_workers",
    "threads",
    "worker_context",
    "worker_init",
]


def default_workers() -> int:
    """The worker processes of a pool by default: the CPU cores this process may use.

    Examples
    --------
    >>> default_workers() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_workers(workers: Any, n_jobs: int | None = None) -> int:
    """The number of worker processes ``workers`` asks for: 0 means this process.

    Parameters
    ----------
    workers : int or None
        0: work in the calling process; N: N worker processes; None:
        :func:`default_workers`.
    n_jobs : int, optional
        Never more processes than jobs.

    Raises
    ------
    ParameterError
        ``workers`` is not a non-negative integer or None.

    Examples
    --------
    >>> resolve_workers(4, n_jobs=1)
    1
    """
    count = default_workers() if workers is None else non_negative_int(workers, "workers")
    return count if n_jobs is None else min(count, max(0, n_jobs))


# ------------------------------------------------------------------ start methods

_LAUNCH = threading.Lock()


@contextlib.contextmanager
def _main_left_out(name: str) -> Iterator[None]:
    """While a process named ``name`` starts: leave the main module out of what it
    prepares, so that it does not import (and run) the caller's script."""
    from multiprocessing import spawn

    with _LAUNCH:
        original = spawn.get_preparation_data

        def preparation_data(process_name: str) -> dict:
            data = original(process_name)
            if process_name == name:
                data.pop("init_main_from_path", None)
                data.pop("init_main_from_name", None)
            return data

        spawn.get_preparation_data = preparation_data
        try:
            yield
        finally:
            spawn.get_preparation_data = original


class _MainLeftOut:
    """Mixin of a Process class whose start leaves the main module out (see
    :func:`_main_left_out`); the classes are module-level so that they pickle."""

    @classmethod
    def _Popen(cls, process_obj):
        with _main_left_out(process_obj.name):
            return super()._Popen(process_obj)


class _SpawnProcess(_MainLeftOut, mp_context.SpawnProcess):
    pass


class _SpawnContext(mp_context.SpawnContext):
    Process = _SpawnProcess


if hasattr(mp_context, "ForkServerProcess"):  # not on Windows

    class _ForkServerProcess(_MainLeftOut, mp_context.ForkServerProcess):
        pass

    class _ForkServerContext(mp_context.ForkServerContext):
        Process = _ForkServerProcess


def worker_context(preload: Sequence[str] = (), *, inherit: bool = True):
    """The multiprocessing context to start a pool's workers with.

    ``fork`` on Linux, from the main thread, while TensorFlow is not loaded
    (after importing ``preload`` here when ``inherit``, so that the workers inherit
    those modules instead of each importing them); otherwise a forkserver that has
    imported ``preload`` once (``spawn`` where there is none). Processes of the
    latter two never import the caller's main module.

    Examples
    --------
    >>> worker_context().get_start_method() in ("fork", "forkserver", "spawn")
    True
    """
    import importlib

    forkable = (
        sys.platform.startswith("linux")
        and "tensorflow" not in sys.modules
        and threading.current_thread() is threading.main_thread()
    )
    if forkable:
        for module in preload if inherit else ():
            importlib.import_module(module)
        return multiprocessing.get_context("fork")
    if "forkserver" not in multiprocessing.get_all_start_methods():  # Windows
        return _SpawnContext()
    context = _ForkServerContext()
    context.set_forkserver_preload(list(preload))
    return context


# ------------------------------------------------------------------ in the worker


def worker_init() -> None:
    """Set up a worker process: die with the parent, leave Ctrl-C to the parent, die on SIGTERM.

    Call it first in every worker (a pool's ``initializer``). On Linux the kernel
    kills the worker when the process that forked it dies
    (``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the run, or the forkserver, which exits
    with the run); everywhere a thread watches the pipe to the process that
    started the worker and ends the worker when that pipe closes.

    Examples
    --------
    >>> import multiprocessing
    >>> with multiprocessing.get_context("spawn").Pool(1, initializer=worker_init) as pool:  # doctest: +SKIP
    ...     pool.map(abs, [-1])
    [1]
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # SIGTERM ends a worker at once; a handler the parent had when it forked (the
    # CLI's exit_on_sigterm) would unwind into multiprocessing's exit, which waits
    # to flush results nobody reads any more
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        _kill_on_parent_death()
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    if not parent.is_alive():  # it died before this process was set up
        os._exit(1)
    threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _kill_on_parent_death() -> None:
    """``prctl(PR_SET_PDEATHSIG, SIGKILL)``: Linux kills this process with its parent."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # no prctl (another libc): the watcher thread remains
        pass


def _exit_with(parent) -> None:
    """Block until ``parent`` has ended (the pipe to it closes), then end this process."""
    parent.join()
    os._exit(1)


# ------------------------------------------------------------------ the pool

#: Jobs a pool hands out per worker process at a time: enough that a worker never
#: waits for its next job, few enough that nothing grows with the number of jobs.
JOBS_PER_WORKER = 4


def in_worker() -> bool:
    """Whether this process was started by another Python process (``in_worker()`` is False here)."""
    return multiprocessing.parent_process() is not None


def threads(n: int, name: str) -> concurrent.futures.ThreadPoolExecutor:
    """``n`` threads ``music-tagger-<name>`` for a server's blocking calls (they keep their buffers).

    Examples
    --------
    >>> threads(1, "draw").submit(sum, [1, 2]).result()
    3
    """
    return concurrent.futures.ThreadPoolExecutor(positive_int(n, "threads"), thread_name_prefix=f"music-tagger-{name}")


def failure_text(path: str, err: BaseException) -> str:
    """The one-line message of a file a job could not read, the same from every command.

    An :class:`~music_tagger.errors.AudioError` names the file already; any other
    error gets the path and its type in front.

    Raises
    ------
    MemoryError, KeyboardInterrupt, SystemExit
        ``err`` itself: running out of memory or being stopped is not one file's
        fault, it ends the run.

    Examples
    --------
    >>> failure_text("a.mp3", AudioError("a.mp3: contains no audio samples"))
    'a.mp3: contains no audio samples'
    >>> failure_text("a.mp3", OSError("disk on fire"))
    'a.mp3: OSError: disk on fire'
    """
    if isinstance(err, (MemoryError, KeyboardInterrupt, SystemExit)):
        raise err
    return str(err) if isinstance(err, AudioError) else f"{path}: {type(err).__name__}: {err}"


def imap_jobs(
    work: Callable[[Any], Iterable[Any]],
    jobs: Sequence[Any],
    workers: int | None,
    *,
    preload: Sequence[str] = (),
) -> Iterator[Any]:
    """The messages of ``work(job)`` for every job, from worker processes: the package's one pool.

    Each job runs in one worker; a job's messages come in order, jobs in the order
    they finish. At most :data:`JOBS_PER_WORKER` jobs per worker are given out at a
    time, and messages come back through one pipe per worker: a worker waits in its
    send while the consumer is behind, so memory is bounded by messages, not by
    jobs. A worker that dies, even half-way through a send, closes its pipe, which
    ends the run with an error instead of a read that never returns. The workers
    start at once, before the first message is asked for, and stop when the
    stream ends, is closed or is dropped.

    Parameters
    ----------
    work : callable
        A module-level function (it must pickle) from a job to its messages, at
        least one; a file it cannot read should be a message carrying
        :func:`failure_text`, not an exception, so that it costs no other job.
    jobs : sequence
        Picklable jobs.
    workers : int or None
        As for :func:`resolve_workers`, never more than the jobs; 0 runs ``work``
        in this process.
    preload : sequence of str
        Modules the workers need (``work``'s own module is added): with several
        workers this process imports them and the workers inherit them (fork), a
        single worker imports them itself while this process goes on.

    Yields
    ------
    Any
        The messages of ``work``.

    Raises
    ------
    RuntimeError
        A worker process died (killed, out of memory); the jobs in flight then
        have no result.

    Examples
    --------
    >>> list(imap_jobs(range, [2, 3], 0))
    [0, 1, 0, 1, 2]
    """
    n_workers = resolve_workers(workers, n_jobs=len(jobs))
    if n_workers == 0:
        return (message for job in jobs for message in work(job))
    context = worker_context([work.__module__, *preload], inherit=n_workers > 1)
    tasks = context.Queue()
    pipes = [context.Pipe(duplex=False) for _ in range(n_workers)]
    procs = [context.Process(target=_work, args=(work, tasks, send), daemon=True) for _, send in pipes]
    for proc in procs:
        proc.start()
    for _, send in pipes:
        send.close()  # the worker's end lives in the worker alone: its death is EOF here
    results = [receive for receive, _ in pipes]
    pending = iter(jobs)
    in_flight = _hand_out(pending, JOBS_PER_WORKER * n_workers, tasks)  # the workers start now
    stream = _stream(pending, in_flight, procs, tasks, results)
    # a stream dropped before it started (the caller failed first) stops them too
    weakref.finalize(stream, _stop, procs, tasks, results)
    return stream


def _work(work: Callable[[Any], Iterable[Any]], tasks, results) -> None:
    """A worker process: run ``work`` on the jobs of ``tasks`` until None, each message
    to ``results`` (the sending end of this worker's own pipe) with a flag on a job's last.

    One BLAS thread per worker (the cores are shared out by process); Ctrl-C is
    left to the main process, which stops the workers.
    """
    from threadpoolctl import threadpool_limits

    worker_init()  # dies with the run's process, even after a SIGKILL
    threadpool_limits(1)
    for job in iter(tasks.get, None):
        pending = None  # a message is sent once the next is known, so `last` is right
        for message in work(job):
            if pending is not None:
                results.send((pending, False))
            pending = message
        results.send((pending, True))


def _hand_out(jobs: Iterator[Any], n: int, tasks) -> int:
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


def _stream(jobs: Iterator[Any], in_flight: int, procs: list, tasks, results: list) -> Iterator[Any]:
    """Yield the messages of the started workers ``procs`` (``results``: the
    receiving end of each one's pipe), which have ``in_flight`` jobs, handing them
    the rest of ``jobs`` one per finished job; stop the workers when done or
    stopped early."""
    from multiprocessing.connection import wait

    try:
        while in_flight:
            for receive in wait(results):
                try:
                    message, last = receive.recv()
                except (EOFError, OSError):
                    # its pipe closed, maybe half-way through a message: the worker died
                    dead = procs[results.index(receive)]
                    dead.join(timeout=5)
                    raise RuntimeError(
                        f"a worker process died (exit code {dead.exitcode}); the files it was reading have no result"
                    ) from None
                yield message
                if last:
                    in_flight += _hand_out(jobs, 1, tasks) - 1
        for _ in procs:
            tasks.put(None)
        for proc in procs:
            proc.join(timeout=10)
    finally:  # stopped early (an error, a closed pipe, Ctrl-C): stop the workers
        _stop(procs, tasks, results)


# ------------------------------------------------------------------ in the parent


class Terminated(SystemExit):
    """SIGTERM arrived: unwinds like :class:`SystemExit`, so that pools stop their workers."""


@contextlib.contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """Stop the worker processes and unwind with :class:`Terminated` on SIGTERM.

    Python's default on SIGTERM is to die at once, leaving the ``finally`` blocks
    (and the workers' reaping) undone. Inside this block a SIGTERM first
    terminates and reaps every worker process this process started
    (:func:`multiprocessing.active_children`), then raises :class:`Terminated`
    (exit status 143). Should the code it lands in swallow or replace that
    exception (an import that catches it, a ``__del__``), the block still ends
    with :class:`Terminated`. Only in the main thread (elsewhere signals cannot be
    handled); the previous handler comes back after.

    Examples
    --------
    >>> with exit_on_sigterm():
    ...     pass
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []

    def handler(signum, frame):
        received.append(signum)
        _stop_children()
        raise Terminated(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except BaseException as err:
        if received and not isinstance(err, Terminated):
            raise Terminated(128 + received[0]) from err
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    if received:  # the exception was swallowed on its way
        raise Terminated(128 + received[0])


def _stop_children(timeout: float = 5.0) -> None:
    """Terminate every child process of multiprocessing and reap it (kill it after ``timeout``)."""
    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    for child in children:
        child.join(timeout)
        if child.exitcode is None:
            child.kill()
            child.join()
