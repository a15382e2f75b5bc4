"""Appending JSONL lines so that many processes can write one file at once.

Each append is a single ``write`` on a descriptor opened with ``O_APPEND`` while holding an
exclusive ``flock``: ``O_APPEND`` makes the kernel pick the end of file atomically, and the lock
makes a long line (over ``PIPE_BUF``, or a batch) land in one piece, never interleaved with another
writer's. Lines are serialized *before* the lock is taken so the critical section is one syscall.

The logger, the generator and the rotation job all write through :func:`append_lines`, so there is
one place where a line's bytes are decided (:func:`serialize`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

try:  # POSIX; on Windows the O_APPEND write alone is what we rely on
    import fcntl
except ImportError:  # pragma: no cover - exercised only on Windows
    fcntl = None  # type: ignore[assignment]

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def serialize(record: Mapping[str, Any]) -> str:
    """One compact JSON line, without the newline. Non-ASCII stays readable (UTF-8 on disk)."""
    return _ENCODER.encode(record)


def append_bytes(path: Path, payload: bytes) -> None:
    """Append ``payload`` (whole lines, newline-terminated) to ``path`` as one locked write."""
    if not payload:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _open_locked(path)
    try:
        view = memoryview(payload)
        while view:  # a regular file takes it all at once; loop only for the pathological case
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)  # closing releases the lock


def _open_locked(path: Path) -> int:
    """Open ``path`` for appending and lock it, making sure the lock is on the file *at* ``path``.

    Rotation renames a file away and then takes this same lock to wait for in-flight writes. A
    writer that opened the old file just before the rename would otherwise append to the renamed
    file after rotation had finished with it; so after locking, a writer whose descriptor no longer
    matches the path lets go and opens the new file instead.
    """
    while True:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if fcntl is None:
            return fd
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            current = os.stat(path)
        except FileNotFoundError:
            current = None
        opened = os.fstat(fd)
        if current is not None and (current.st_dev, current.st_ino) == (opened.st_dev, opened.st_ino):
            return fd
        os.close(fd)


def append_lines(path: Path, lines: Iterable[str]) -> None:
    """Append already-serialized lines (no trailing newline on each) as one locked write."""
    append_bytes(path, "".join(f"{line}\n" for line in lines).encode("utf-8"))


def append_records(path: Path, records: Iterable[Mapping[str, Any]]) -> None:
    append_lines(path, (serialize(r) for r in records))
