"""Worker processes of preprocessing: Ctrl-C stops them within seconds, and they never outlive their parent.

``run_in_workers(function, tasks, workers)`` yields ``function(*task)`` for every task, in completion order:

- workers are spawned (a forked child can deadlock on thread pools, OpenCV or OpenMP, the parent started)
  and run one thread each (one process per core already);
- few tasks are in flight at once (twice the workers), so stopping never waits for a long queue;
- each worker ignores SIGINT: Ctrl-C at a terminal reaches the whole process group, and the parent alone
  decides (workers start with SIGINT blocked, so one that is still starting ignores it too). When the parent
  leaves the loop by an exception (Ctrl-C, an error in a task), it cancels the queued tasks and kills the workers
  at once: their unfinished task is dropped;
- each worker dies with its parent, kill -9 included: on Linux the kernel kills it when the parent exits
  (``prctl(PR_SET_PDEATHSIG)``); elsewhere a thread of the worker watches the parent's PID.

Outputs are written atomically, so a killed worker leaves at most a hidden temporary file, which the next
run removes (``omnimotion.io.atomic.remove_stale_temporaries``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

__all__ = ["run_in_workers", "resolve_workers", "die_with_parent"]

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_PARENT_POLL_SECONDS = 0.5


def resolve_workers(workers: int | None, num_tasks: int) -> int:
    """``workers`` (None: every core), at most one per task, at least 1."""
    if workers is None:
        workers = os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    return max(1, min(workers, num_tasks))


def run_in_workers(function: Callable, tasks: Iterable[tuple], workers: int,
                   initializer: Callable | None = None, initargs: tuple = ()) -> Iterator[Any]:
    """Yield ``function(*task)`` for every task, computed by ``workers`` processes (see the module docstring).

    ``function`` and the tasks must be picklable; ``initializer(*initargs)`` runs once in each worker.
    """
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker,
                               initargs=(os.getpid(), initializer, initargs))
    try:
        pending: set[Future] = set()
        for task in tasks:
            with _sigint_held():  # a worker may be spawned here
                pending.add(pool.submit(function, *task))
            if len(pending) >= 2 * workers:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in finished)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in finished)
    except BaseException:  # Ctrl-C, an error in a task, or the consumer stopped early (GeneratorExit)
        _stop_now(pool)
        raise
    pool.shutdown(wait=True)


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """Drop the queued tasks and kill the workers instead of waiting for the tasks in flight."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public API before Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.kill()
    for process in processes:
        process.join(timeout=5)


@contextmanager
def _sigint_held() -> Iterator[None]:
    """Act on a Ctrl-C only after the block: a worker spawned in it inherits SIGINT blocked, and a spawn is
    never cut between starting the child and sending it its start-up data (the child would crash loudly)."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    received = []
    previous = signal.signal(signal.SIGINT, lambda *_: received.append(True)) if in_main_thread else None
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)
    if received and callable(previous):
        previous(signal.SIGINT, None)


def _start_worker(parent_pid: int, initializer: Callable | None, initargs: tuple) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked since the spawn; now ignored
    die_with_parent(parent_pid)
    import cv2

    cv2.setNumThreads(1)
    if "torch" in sys.modules:  # only when a torch backend is in use; never import it just for this
        sys.modules["torch"].set_num_threads(1)
    if initializer is not None:
        initializer(*initargs)


def die_with_parent(parent_pid: int) -> None:
    """End this process as soon as ``parent_pid`` (its parent) ends, however the parent ends."""
    if _kernel_kills_with_parent():
        if os.getppid() != parent_pid:  # the parent died before the request was made
            os._exit(1)
        return
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="watch-parent").start()


def _kernel_kills_with_parent() -> bool:
    """Ask Linux to send SIGKILL to this process when its parent exits; False where that is unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(_PARENT_POLL_SECONDS)
    os._exit(1)
