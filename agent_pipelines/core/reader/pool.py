"""The threads blocks are parsed in: one pool per process, one thread per core."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_POOL: list[ThreadPoolExecutor] = []
_POOL_LOCK = threading.Lock()


def _forked() -> None:
    """A forked child (a run's worker process) has none of its parent's threads: its own pool."""
    global _POOL_LOCK
    _POOL.clear()
    _POOL_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forked)


def parse_pool() -> ThreadPoolExecutor:
    """The threads :func:`~agent_pipelines.core.reader.stream.iter_read` parses blocks in when
    asked to (``parallel``): one per core, shared by every reader of the process, so readers of
    several days together still parse no more blocks at once than there are cores. Most of a parse
    is polars work, which releases the GIL."""
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="parse"))
        return _POOL[0]
