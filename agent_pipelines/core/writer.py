"""Appending JSONL lines so that many processes can write one file at once.

Each append is a single ``write`` on a descriptor opened with ``O_APPEND`` while holding an
exclusive ``flock``: ``O_APPEND`` makes the kernel pick the end of file atomically, and the lock
makes a long line (over ``PIPE_BUF``, or a batch) land in one piece, never interleaved with another
writer's. Lines are serialized *before* the lock is taken so the critical section is one syscall.

The logger, the generator and the rotation job all write through :func:`append_lines`, so there is
one place where a line's bytes are decided (:func:`serialize`).

A write that fails part-way (disk full, quota, I/O error) is truncated back before the error reaches
the caller, so a file always ends with a newline and no fragment glues itself onto the next line;
the logger's appends to its three files are all or nothing (:func:`append_all`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
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


class AppendError(OSError):
    """An append that did not happen: every target was put back as it was (the caller's event was
    not written). ``errno``/``strerror``/``filename`` are the failing write's."""


def append_bytes(path: Path, payload: bytes) -> None:
    """Append ``payload`` (whole lines, newline-terminated) to ``path`` as one locked write.

    All or nothing: a write that fails part-way (disk full, quota, I/O error) is truncated back, so
    the file still ends with a newline and the next append starts a clean line. Raises
    :class:`AppendError` when the bytes were not written.
    """
    append_all([(path, payload)])


def append_all(targets: Sequence[tuple[Path, bytes]]) -> None:
    """Append each payload to its file, all or none: every file is locked (in one global order, so
    two writers cannot deadlock), written, and on any failure truncated back to where it ended.

    A file that does not end with a newline (a writer died mid-line, or a non-locking writer is
    mid-write) gets one first, so the fragment stays a line of its own instead of swallowing ours.
    """
    targets = [(Path(p), data) for p, data in targets if data]
    if not targets:
        return
    opened: list[tuple[int, Path, int, bool]] = []  # fd, path, size before our bytes, created by us
    current: Path | None = None
    try:
        for path in sorted({p for p, _ in targets}, key=str):
            current = path
            path.parent.mkdir(parents=True, exist_ok=True)
            existed = path.exists()
            fd = _open_locked(path)
            opened.append((fd, path, os.fstat(fd).st_size, not existed))
        fds = {path: fd for fd, path, _, _ in opened}
        for path, payload in targets:
            current = path
            fd = fds[path]
            end = os.fstat(fd).st_size
            if end and os.pread(fd, 1, end - 1) != b"\n":
                payload = b"\n" + payload
            view = memoryview(payload)
            while view:  # a regular file takes it all at once; loop only for the pathological case
                view = view[os.write(fd, view) :]
    except OSError as exc:
        for fd, path, size, created in opened:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
                if created and size == 0:  # leave no empty file we made (a waiting writer re-opens)
                    path.unlink()
        raise AppendError(exc.errno, exc.strerror or str(exc), str(exc.filename or current)) from exc
    finally:
        for fd, _, _, _ in opened:
            os.close(fd)  # closing releases the lock


def _open_locked(path: Path) -> int:
    """Open ``path`` for appending and lock it, making sure the lock is on the file *at* ``path``.

    Rotation renames a file away and then takes this same lock to wait for in-flight writes. A
    writer that opened the old file just before the rename would otherwise append to the renamed
    file after rotation had finished with it; so after locking, a writer whose descriptor no longer
    matches the path lets go and opens the new file instead.
    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
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
