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
  process may use (:func:`default_workers`).

Examples
--------
>>> from music_tagger.util.workers import resolve_workers
>>> resolve_workers(0)
0
>>> resolve_workers(3, n_jobs=2)
2
"""
from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.context as mp_context
import os
import signal
import sys
import threading
from typing import Any, Iterator, Sequence

from .checks import non_negative_int

__all__ = [
    "Terminated",
    "default_workers",
    "exit_on_sigterm",
    "resolve_workers",
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
