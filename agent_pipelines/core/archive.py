"""The archive: rotated log lines, compressed, one file per kind and closed period.

Layout, inside the log folder (so the folder stays self-contained and a ``du`` of it is honest)::

    archive/stream/YYYY-MM-DD.jsonl.gz    the stream's valid lines of one UTC day
    archive/errors/YYYY-MM-DD.jsonl.gz    agent-errors.jsonl, split by day
    archive/alerts/YYYY-MM-DD.jsonl.gz    agent-alerts.jsonl, split by day
    archive/metrics/YYYY-MM.jsonl.gz      agent-metrics.jsonl, split by month (kept by default)
    archive/.staging/<token>/             a rotation in progress (see :mod:`agent_pipelines.ops.rotation`)
    archive/.rotation.lock                held by the running rotation

Why gzip: it is what the original rotation script (``rotate-agent-logs.sh``) wrote, every tool
reads it (``zcat``, ``zgrep``, polars, the standard library), and Python 3.11 has no zstd. The
archive holds the original lines byte for byte — a decompressed archive is a JSONL file in the
original format — and a file may be several gzip members back to back (a day archived, then a late
line for it merged in), which ``gzip``, ``zcat`` and :func:`gzip.open` all read as one stream.

Members are written with ``mtime=0`` and no file name, so the same lines always compress to the
same bytes: a rotation that was interrupted and run again leaves byte-identical archives.

Compressed with ISA-L (``isal.igzip``), not the standard library's zlib: Intel's ISA-L writes the
same gzip format (any ``gzip``/``zcat`` reads it; tests check the standard library does) several
times faster — level 2 compressed generated logs ~6x faster than zlib level 6 here, for archives
about a fifth larger (ratio ~16 instead of ~20 on JSONL) — and decompresses about twice as fast,
which the rotation's check of each member and the reader of archived days both use. Compression was
most of a rotation's time; with ISA-L it no longer is.
"""

from __future__ import annotations

import errno
import gzip
import os
import stat
from collections.abc import Iterable, Iterator
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from isal import igzip, isal_zlib
from isal.igzip_lib import IsalError

from agent_pipelines.core import paths

ARCHIVE_SUFFIX = ".jsonl.gz"
STAGING_DIR = ".staging"
LOCK_FILE = ".rotation.lock"
COMPRESS_LEVEL = 2  # ISA-L's levels are 0-3; 2 is its default, 3 gains <1% size for 3x the time


class Kind(StrEnum):
    """The log families that rotate, each with its live file and its archive folder."""

    STREAM = "stream"
    ERRORS = "errors"
    ALERTS = "alerts"
    METRICS = "metrics"


LIVE_FILES: dict[Kind, str] = {
    Kind.STREAM: paths.STREAM_FILE,
    Kind.ERRORS: paths.ERRORS_FILE,
    Kind.ALERTS: paths.ALERTS_FILE,
    Kind.METRICS: paths.METRICS_FILE,
}
MONTHLY: frozenset[Kind] = frozenset({Kind.METRICS})
EVENT_KINDS: frozenset[Kind] = frozenset({Kind.STREAM, Kind.ERRORS})  # lines under the event contract


def archive_root(logs_root: Path) -> Path:
    return logs_root / paths.ARCHIVE_DIR


def staging_root(logs_root: Path) -> Path:
    return archive_root(logs_root) / STAGING_DIR


def lock_path(logs_root: Path) -> Path:
    return archive_root(logs_root) / LOCK_FILE


def period_of(kind: Kind, day: date) -> str:
    """The archive period a day belongs to: the day itself, or its month for monthly kinds."""
    return day.strftime("%Y-%m") if kind in MONTHLY else day.isoformat()


def period_start(kind: Kind, period: str) -> date:
    """First day of a period key (raises ``ValueError`` for a name that is not one)."""
    if kind in MONTHLY:
        year, month = period.split("-")
        return date(int(year), int(month), 1)
    return date.fromisoformat(period)


def archive_path(logs_root: Path, kind: Kind, period: str) -> Path:
    return archive_root(logs_root) / kind.value / f"{period}{ARCHIVE_SUFFIX}"


def archived(logs_root: Path, kind: Kind) -> list[tuple[str, Path]]:
    """(period, path) of every archive of a kind, oldest first; stray files are ignored."""
    found = []
    folder = archive_root(logs_root) / kind.value
    for path in folder.glob(f"*{ARCHIVE_SUFFIX}"):
        period = path.name.removesuffix(ARCHIVE_SUFFIX)
        try:
            period_start(kind, period)
        except ValueError:
            continue
        found.append((period, path))
    return sorted(found)


def archived_stream_files(logs_root: Path, days: Iterable[date] | None = None) -> list[Path]:
    """Archived stream days (all, or the given ones) as the reader should read them."""
    if days is None:
        return [path for _, path in archived(logs_root, Kind.STREAM)]
    files = (archive_path(logs_root, Kind.STREAM, d.isoformat()) for d in sorted(set(days)))
    return [p for p in files if p.exists()]


def is_compressed(path: Path) -> bool:
    return path.name.endswith(".gz")


class NotARegularFile(OSError):
    """A log path that is a directory, FIFO, socket, device or symbolic link: never read."""


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words, for warnings."""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def open_log(path: Path, *, fast: bool = False) -> BinaryIO:
    """Open a log file for reading bytes, decompressing an archive transparently.

    ``fast`` decompresses an archive with ISA-L (about twice as fast as zlib) for callers that take
    a file whole or not at all; its errors are then ``isal.igzip_lib.IsalError``.

    Only a regular file is opened: the path is not followed if it is a symbolic link, and a FIFO is
    opened without blocking (then refused), so a stray named pipe cannot hang a run. Raises
    :class:`NotARegularFile` for anything else.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symbolic link
            raise NotARegularFile(errno.ELOOP, "is a symbolic link (not followed)", str(path)) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFile(errno.EINVAL, f"is {file_kind(mode)}", str(path))
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    if is_compressed(path):
        if fast:
            fast_member = igzip.IGzipFile(fileobj=handle, mode="rb")
            fast_member.myfileobj = handle  # type: ignore[assignment]
            return fast_member  # type: ignore[return-value]
        # The standard library's reader, not ISA-L's: it hands back each member's bytes before it
        # meets the next member's damage, so a corrupt archive loses only what follows the damage
        # (ISA-L's reader decompresses ahead and can raise before returning the good bytes).
        member = gzip.GzipFile(fileobj=handle, mode="rb")
        member.myfileobj = handle  # type: ignore[assignment]  # closed with it, as gzip.open does
        return member  # type: ignore[return-value]
    return handle


def iter_lines(path: Path) -> Iterator[bytes]:
    """Each line of a (possibly compressed) log file, without its newline."""
    with open_log(path) as handle:
        for line in handle:
            yield line.rstrip(b"\n")


def count_lines(path: Path) -> int:
    """Newline-terminated lines in a (possibly compressed) log file, read in blocks.

    All or nothing (the rotation's check of what it wrote, and of an archive before a merge), so an
    archive is decompressed with ISA-L here, about twice as fast as zlib; its error is raised as the
    standard library's :class:`gzip.BadGzipFile`.
    """
    total = 0
    with open_log(path, fast=True) as handle:
        try:
            while block := handle.read(8 << 20):
                total += block.count(b"\n")
        except IsalError as exc:  # type: ignore[misc]  # isal's stubs do not say it is an Exception
            raise gzip.BadGzipFile(f"{path}: {exc}") from exc
    return total


def gzip_member(data: bytes, level: int = COMPRESS_LEVEL) -> bytes:
    """One deterministic gzip member (no name, ``mtime=0``) holding ``data`` (ISA-L ``level`` 0-3)."""
    return igzip.compress(data, compresslevel=level, mtime=0)


def member_holds(member: bytes, data: bytes) -> bool:
    """Whether ``member`` is exactly one complete gzip member (header, deflate stream, CRC-32 and
    length checked, nothing after it) that decompresses to ``data``: the rotation's check of each
    member it writes.

    The same check as :func:`isal.igzip.decompress` and a comparison (which also refuses bytes after
    the member, by reading them as a next one) for about a quarter less CPU: one call of ISA-L's
    zlib-style decompressor, whose ``eof`` and ``unused_data`` say where the member ended, with the
    output bounded by ``len(data) + 1`` so its buffer is sized once (unbounded, it grows by
    reallocation and faults in fresh pages). 608 MB of generated logs, checked alone: 0.27-0.29 s of
    CPU against 0.36-0.38 s.
    """
    check = isal_zlib.decompressobj(wbits=31)  # 31: the gzip wrapper (16) around a 32 KiB window (15)
    try:
        out = check.decompress(member, len(data) + 1)  # one byte more: a longer output is caught too
    except IsalError:  # type: ignore[misc]  # isal's stubs do not say it is an Exception
        return False
    return check.eof and not check.unused_data and out == data
