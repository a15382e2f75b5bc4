"""Crash-safe file replacement, shared by every piece of durable state we keep.

Detector state, the Telegram outbox, the rotation's manifests and the weekly reports all need the
same guarantee: after a crash at any instant, a reader finds the old content or the new, never a
mix. That is a temporary file in the same folder, ``fsync``, an atomic ``rename``, then an ``fsync``
of the folder so the rename itself survives a power cut. The ``fsync`` helpers live here too.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path


def fsync_path(path: Path) -> None:
    """Flush a file's or a folder's metadata and content to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink inside the folder ``path`` durable (a no-op where folders cannot be
    opened, as on Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{os.getpid()}-{time.monotonic_ns()}-{path.name}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:  # disk full, read-only, killed by an exception: no temporary left behind
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)
