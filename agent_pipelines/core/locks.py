"""One exclusive lock file shared by processes: ``flock`` on a file beside what it guards.

A ``flock`` is released by the kernel when its holder dies (kill -9 included), so a crashed holder
never leaves a lock behind to clean up; two opens of the file conflict even inside one process, so
threads take turns too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def exclusive(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the exclusive lock of ``path`` (created with its folder when missing) while inside."""
    lock = Path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
