"""Reading JSONL logs into a typed frame of valid events and a quarantine of everything else.

Speed comes from letting polars parse whole blocks of lines at once, with every field read as
*JSON text* (a ``String`` schema makes ``read_ndjson`` keep ``12``, ``"12"`` and ``{"a": 1}`` alike
as text). A wrongly typed value therefore never fails a block; the contract's vectorized rules then
say which rows are bad and why. Only lines that are not JSON at all (malformed, invalid UTF-8, not an
object) make a block fail to parse; the block is then bisected until the bad lines are isolated and
judged one by one in Python, so one bad line costs a few extra parses of its neighbourhood rather
than a slow path for the whole file.

A last line without its newline is a writer mid-``write``: it is left for the next read (the offset
returned stops before it) unless the caller says the file is final, in which case it is quarantined
as ``truncated_line``.

Modules: :mod:`~agent_pipelines.core.reader.stream` (a file or bytes),
:mod:`~agent_pipelines.core.reader.blocks`
(polars on whole blocks, bisecting the bad ones), :mod:`~agent_pipelines.core.reader.lines` (a block cut into
lines), :mod:`~agent_pipelines.core.reader.decode` (one line in
Python), :mod:`~agent_pipelines.core.reader.rows` (raw text to typed rows),
:mod:`~agent_pipelines.core.reader.screens` (the line counts that spare rows the slow checks),
:mod:`~agent_pipelines.core.reader.files`
(which files, their sizes), :mod:`~agent_pipelines.core.reader.pool` (the threads blocks are parsed in),
:mod:`~agent_pipelines.core.reader.result`; here, :func:`read_logs` over a log
folder,
and its block-by-block form :func:`iter_logs` with :class:`FirstSeen` (dedupe across blocks) and
:func:`read_ahead` (the next block parsed while the caller handles one), which the cleaned-events pass
(:mod:`agent_pipelines.core.cleaned`) uses to hold a few blocks rather than a day.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import TypeVar

import polars as pl

from agent_pipelines.core import archive, paths
from agent_pipelines.core.contract import MAX_LINE_BYTES, ContractError, Reason, check_event
from agent_pipelines.core.reader.decode import Refused, decode_json, decode_line, loads_any
from agent_pipelines.core.reader.files import (
    file_sizes,
    partition_days,
    regular_file,
    staged_stream_files,
    stream_files,
)
from agent_pipelines.core.reader.result import (
    BLOCK_BYTES,
    BOM,
    PAYLOAD_SCHEMA,
    QUARANTINE_SCHEMA,
    RAW_KEEP_BYTES,
    RAW_SCHEMA,
    READ_BLOCK_BYTES,
    ReadResult,
    empty_events,
    empty_quarantine,
)
from agent_pipelines.core.reader.stream import (
    Lines,
    LongLine,
    Tail,
    iter_blocks,
    iter_read,
    os_reason,
    read_bytes,
    read_file,
    skip_bom,
)

T = TypeVar("T")
S = TypeVar("S", pl.Series, pl.DataFrame)


def read_logs(
    logs_root: str | os.PathLike[str],
    *,
    days: Iterable[date] | None = None,
    final_before: date | None = None,
) -> ReadResult:
    """Read the stream of a log folder: every daily partition (or the given days) and the single file.

    Events are filtered to ``days`` when given (the original logger's single file holds all days).
    Files of days before ``final_before`` are final: their half-written last line will never be
    finished. A file that cannot be read (unreadable, corrupt archive, not a regular file) is a
    warning in the result, never the end of the run: whatever it held before the damage is kept.
    This is :func:`iter_logs`' blocks put together.
    """
    return ReadResult.concat(iter_logs(logs_root, days=days, final_before=final_before))


def iter_logs(
    logs_root: str | os.PathLike[str],
    *,
    days: Iterable[date] | None = None,
    final_before: date | None = None,
    block_bytes: int | None = None,
    parallel: int | Callable[[], int] = 0,
    on_read: Callable[[], None] | None = None,
) -> Iterator[ReadResult]:
    """:func:`read_logs` one block at a time (see :func:`iter_read`, and its ``parallel``), file
    after file. ``on_read`` is called once the last file's last byte is read (its last blocks may
    still be parsing), or at the end when there is no file to read.

    The first result is always there (it holds the warnings about the folder's listing), so a day
    without any file still yields one, empty, result. Memory stays one block's whatever the day's size.
    """
    root = Path(logs_root)
    wanted = set(days) if days is not None else None
    listing: list[str] = []
    files = stream_files(root, wanted, listing)
    yield ReadResult(empty_events(), empty_quarantine(), warnings=listing)
    called: list[bool] = []

    def read_all() -> None:
        if on_read is not None and not called:
            called.append(True)
            on_read()

    for path in files:
        rel = path.relative_to(root).as_posix()
        final = archive.is_compressed(path) or path.name == "source.jsonl"  # never written to again
        if final_before is not None and path.parent == root / paths.STREAM_DIR:
            try:
                final = date.fromisoformat(path.stem) < final_before
            except ValueError:
                final = False
        last = path == files[-1]
        blocks = iter_read(
            path,
            final=final,
            source_name=rel,
            block_bytes=block_bytes,
            parallel=parallel,
            on_read=read_all if last else None,
        )
        try:
            first = next(blocks)  # opens the file: what cannot be opened is a warning
        except FileNotFoundError:
            continue  # rotated away between listing and reading: it is found under its new name
        except OSError as exc:
            skipped = f"{rel}: cannot be read ({os_reason(exc)}); skipped"
            yield ReadResult(empty_events(), empty_quarantine(), warnings=[skipped])
            continue
        days_wanted = pl.Series("day", sorted(wanted), dtype=pl.Date) if wanted is not None else None
        for result in itertools.chain([first], blocks):
            if days_wanted is not None and result.events.height:
                inside = result.events["day"].is_in(days_wanted.implode()).fill_null(False)
                if not inside.all():  # a day's own file: every row is of its day, nothing to copy
                    result.events = result.events.filter(inside)
            yield result
    read_all()  # no file, or the last one could not be opened


class FirstSeen:
    """:func:`dedupe` across the blocks of a day: each block's rows whose ``event_id`` no earlier
    block (and no earlier row of the block) had. The blocks' results put together are exactly
    ``dedupe`` of the whole day, while only the ids seen so far are held, not the rows.

    The reader's ids are 64-bit hashes written as 20 digits: while every id is, they are held as
    the numbers (exactly: 20 digits spell one number and one number is spelled one way in 20
    digits), 8 bytes each in their own array. Kept as strings, each block's ids would keep that
    block's string buffers alive (polars' strings are views into shared buffers): some 4 MiB a
    block. The first id of another form turns every id seen so far back into its text.
    """

    def __init__(self) -> None:
        self._seen = pl.Series("event_id", [], dtype=pl.UInt64)
        self.dropped = 0  # rows dropped so far: the same line written twice, or read from two files

    def __call__(self, events: pl.DataFrame) -> pl.DataFrame:
        ids = events["event_id"]
        keys = ids
        if self._seen.dtype == pl.UInt64:
            numbers = ids.cast(pl.UInt64, strict=False)
            if numbers.null_count() == 0 and ids.str.contains(r"^[0-9]{20}$").all():
                keys = numbers
            else:
                self._seen = self._seen.cast(pl.String).str.zfill(20)
        first = keys.is_first_distinct()
        if self._seen.len():
            first = first & ~keys.is_in(self._seen.implode())
        fresh = events if first.all() else events.filter(first)  # usually none to drop: no copy
        self.dropped += events.height - fresh.height
        self._seen.append(compact(keys.filter(first)))
        return fresh


def compact(values: S) -> S:
    """``values`` (a Series or frame) with its text copied out of the buffers it shares.

    polars' strings are views into buffers shared by every frame cut from the same block: a few
    rows kept from a block (by ``filter``, ``head``, ``unique``...) keep the whole block's text
    alive. Kept past their block, they are copied: the copy is as big as the rows kept.
    """
    if isinstance(values, pl.Series):
        return pl.select(compact(values.to_frame())).to_series() if values.dtype == pl.String else values
    text = [name for name, dtype in values.schema.items() if dtype == pl.String]
    if not text:
        return values
    return values.with_columns(pl.concat_str([pl.col(c), pl.lit("")]).alias(c) for c in text)


_DONE = object()


def read_ahead(results: Iterable[T], ahead: int | Callable[[], int] = 1) -> ReadAhead[T]:
    """``results`` produced in a worker thread, started now, up to ``ahead`` of them before they
    are asked for.

    Most of a block's parse is polars work that releases the GIL, so the next block is parsed
    while the caller writes the one before: at most ``ahead`` results (plus the one being produced)
    are held. A callable ``ahead`` is asked again whenever the producer has a result to hand on
    (and after :meth:`ReadAhead.wake`): a caller can let it go further once its pool has room. An
    exception in the producer is raised here, in order; ``close()`` (or an exception in
    the caller, in a ``with`` block) stops the producer too.
    """
    return ReadAhead(results, ahead)


class ReadAhead(Iterator[T]):
    """The iterator :func:`read_ahead` returns: its producer thread runs from the start."""

    def __init__(self, results: Iterable[T], ahead: int | Callable[[], int] = 1) -> None:
        self._ahead = ahead
        self._items: deque[object] = deque()
        self._changed = threading.Condition()  # an item put or taken, the room changed, or stop
        self._stop = False
        self._done = False
        self._worker = threading.Thread(target=self._produce, args=(results,), name="read-ahead", daemon=True)
        self._worker.start()

    def _room(self) -> int:
        return max(1, self._ahead() if callable(self._ahead) else self._ahead)

    def _put(self, item: object, *, always: bool = False) -> bool:
        with self._changed:
            while not self._stop and not always and len(self._items) >= self._room():
                self._changed.wait()
            if self._stop:
                return False
            self._items.append(item)
            self._changed.notify_all()
            return True

    def _produce(self, results: Iterable[T]) -> None:
        try:
            for item in results:
                if not self._put(item):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(_Raised(exc), always=True)
            return
        finally:
            close = getattr(results, "close", None)
            if close is not None:  # a generator stopped early closes its files here, in its thread
                close()
        self._put(_DONE, always=True)  # the end holds no block: it never waits for room

    def wake(self) -> None:
        """Ask ``ahead`` again now (it may have grown): a producer waiting for room re-checks."""
        with self._changed:
            self._changed.notify_all()

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        with self._changed:
            while not self._items:
                self._changed.wait()
            item = self._items.popleft()
            self._changed.notify_all()
        if item is _DONE:
            self.close()
            raise StopIteration
        if isinstance(item, _Raised):
            self.close()
            raise item.exc
        return item  # type: ignore[return-value]

    def close(self) -> None:
        self._done = True
        with self._changed:
            self._stop = True
            self._changed.notify_all()
        self._worker.join()

    def __enter__(self) -> ReadAhead[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def dedupe(events: pl.DataFrame) -> pl.DataFrame:
    """One row per distinct line: the same event written twice (or read from two files) counts once."""
    # the first of each event_id, in order: a filter, ~8x cheaper than ``unique(maintain_order=True)``
    return events.filter(pl.col("event_id").is_first_distinct())


def check_line(line: bytes) -> tuple[Reason, str] | None:
    """Judge a single line exactly as the reader would (used by tests and the rotation job)."""
    if len(line) > MAX_LINE_BYTES:
        return Reason.LINE_TOO_LONG, f"line is {len(line)} bytes"
    try:
        obj = decode_line(line.rstrip(b"\r"))
    except Refused as exc:
        return exc.reason, exc.detail
    try:
        check_event(obj)
    except ContractError as exc:
        return exc.reason, exc.detail
    return None


__all__ = [
    "BLOCK_BYTES",
    "BOM",
    "PAYLOAD_SCHEMA",
    "QUARANTINE_SCHEMA",
    "RAW_KEEP_BYTES",
    "RAW_SCHEMA",
    "READ_BLOCK_BYTES",
    "FirstSeen",
    "Lines",
    "LongLine",
    "ReadAhead",
    "ReadResult",
    "Tail",
    "check_line",
    "compact",
    "decode_json",
    "decode_line",
    "dedupe",
    "empty_events",
    "empty_quarantine",
    "file_sizes",
    "iter_blocks",
    "iter_logs",
    "iter_read",
    "loads_any",
    "partition_days",
    "read_ahead",
    "read_bytes",
    "read_file",
    "read_logs",
    "regular_file",
    "skip_bom",
    "staged_stream_files",
    "stream_files",
]
