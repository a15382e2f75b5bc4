"""The threads blocks are parsed in (:func:`~agent_pipelines.core.reader.stream.iter_read`'s
``parallel``), shared by every reader of the process, the most awaited block first."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class ParsePool:
    """A fixed set of threads running jobs by urgency: each job's ``urgency()`` is asked when a
    thread is free (not when the job is submitted), the most urgent job goes first, and among
    equals the oldest.

    Why not a ``ThreadPoolExecutor`` (first come, first served): the cleaned-events pass reads the
    next days while one day is written, and in submission order a thread parsed the next day's
    blocks while the day being written waited for its own; then, at that day's end (its last block
    parsed alone, its Parquet file finished), the next days had used up their allowance ahead and
    a core sat idle (3M events, 30 days of 56 MB: 0.4-0.7 s a day with no block being parsed). Here
    the next days' blocks wait for a thread the day being written leaves free: they fill exactly
    those gaps. Most of a parse is polars work, which releases the GIL.
    """

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._jobs: list[tuple[Callable[[], int], int, Future[Any], Callable[..., Any], tuple[Any, ...]]] = []
        self._order = itertools.count()
        self._ready = threading.Condition()
        self._threads: list[threading.Thread] = []

    def submit(self, urgency: Callable[[], int], fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn(*args)`` on a pool thread; ``urgency()`` (higher first) is asked at each pick."""
        future: Future[T] = Future()
        with self._ready:
            self._jobs.append((urgency, next(self._order), future, fn, args))
            if len(self._threads) < self._workers:  # started as needed: an idle process holds none
                thread = threading.Thread(target=self._work, name=f"parse_{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            self._ready.notify()
        return future

    def _take(self) -> tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]:
        with self._ready:
            while not self._jobs:
                self._ready.wait()
            best = max(range(len(self._jobs)), key=lambda i: (self._jobs[i][0](), -self._jobs[i][1]))
            _, _, future, fn, args = self._jobs.pop(best)
            return future, fn, args

    def _work(self) -> None:
        while True:
            future, fn, args = self._take()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the reader waiting for it
                future.set_exception(exc)


_POOL: list[ParsePool] = []
_POOL_LOCK = threading.Lock()


def _forked() -> None:
    """A forked child (a run's worker process) has none of its parent's threads: its own pool."""
    global _POOL_LOCK
    _POOL.clear()
    _POOL_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forked)


def parse_pool() -> ParsePool:
    """The pool :func:`~agent_pipelines.core.reader.stream.iter_read` parses blocks in when asked to
    (``parallel``): one thread per core, shared by every reader of the process, so readers of
    several days together still parse no more blocks at once than there are cores."""
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ParsePool(os.cpu_count() or 2))
        return _POOL[0]
