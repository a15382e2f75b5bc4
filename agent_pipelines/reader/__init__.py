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

Modules: :mod:`~agent_pipelines.reader.stream` (a file or bytes), :mod:`~agent_pipelines.reader.blocks`
(polars on whole blocks, bisecting the bad ones), :mod:`~agent_pipelines.reader.decode` (one line in
Python), :mod:`~agent_pipelines.reader.rows` (raw text to typed rows), :mod:`~agent_pipelines.reader.files`
(which files, their sizes), :mod:`~agent_pipelines.reader.result`; here, :func:`read_logs` over a log folder.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path

import polars as pl

from agent_pipelines import archive, paths
from agent_pipelines.contract import MAX_LINE_BYTES, ContractError, Reason, check_event
from agent_pipelines.reader.decode import _Refused, decode_json, decode_line, loads_any
from agent_pipelines.reader.files import (
    file_sizes,
    partition_days,
    regular_file,
    staged_stream_files,
    stream_files,
)
from agent_pipelines.reader.result import (
    BLOCK_BYTES,
    BOM,
    PAYLOAD_SCHEMA,
    QUARANTINE_SCHEMA,
    RAW_KEEP_BYTES,
    RAW_SCHEMA,
    ReadResult,
    empty_events,
    empty_quarantine,
)
from agent_pipelines.reader.stream import (
    Lines,
    LongLine,
    Tail,
    _os_reason,
    iter_blocks,
    read_bytes,
    read_file,
    skip_bom,
)


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
    """
    root = Path(logs_root)
    wanted = set(days) if days is not None else None
    warnings: list[str] = []
    results = []
    for path in stream_files(root, wanted, warnings):
        rel = path.relative_to(root).as_posix()
        final = archive.is_compressed(path) or path.name == "source.jsonl"  # never written to again
        if final_before is not None and path.parent == root / paths.STREAM_DIR:
            try:
                final = date.fromisoformat(path.stem) < final_before
            except ValueError:
                final = False
        try:
            result = read_file(path, final=final, source_name=rel)
        except FileNotFoundError:
            continue  # rotated away between listing and reading: it is found under its new name
        except OSError as exc:
            warnings.append(f"{rel}: cannot be read ({_os_reason(exc)}); skipped")
            continue
        if wanted is not None:
            result.events = result.events.filter(pl.col("day").is_in(sorted(wanted)))
        results.append(result)
    out = ReadResult.concat(results)
    out.warnings = warnings + out.warnings
    return out


READ_AHEAD_DAYS = 2  # days read in worker threads while the caller handles the one before


def read_days(
    logs_root: str | os.PathLike[str],
    days: Sequence[date],
    *,
    final_before: date | None = None,
    read_ahead: int = READ_AHEAD_DAYS,
) -> Iterator[tuple[date, ReadResult]]:
    """:func:`read_logs` of each day in turn, in order, with the next days read meanwhile.

    A run over many days (a backfill) would otherwise use one core at a time: most of a day's read
    is polars work that releases the GIL, so reading the next ``read_ahead`` days in threads while
    the caller writes the previous one keeps both cores busy. Results and their order are exactly
    those of one ``read_logs`` per day; at most ``read_ahead + 1`` days are held at once.
    """
    if len(days) <= 1 or read_ahead < 1:
        for day in days:
            yield day, read_logs(logs_root, days=[day], final_before=final_before)
        return
    with ThreadPoolExecutor(max_workers=read_ahead, thread_name_prefix="read-days") as pool:
        ahead: deque[tuple[date, Future[ReadResult]]] = deque()
        upcoming = iter(days)

        def submit() -> None:
            day = next(upcoming, None)
            if day is not None:
                ahead.append((day, pool.submit(read_logs, logs_root, days=[day], final_before=final_before)))

        for _ in range(read_ahead):
            submit()
        while ahead:
            day, future = ahead.popleft()
            result = future.result()
            submit()
            yield day, result


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
    except _Refused as exc:
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
    "READ_AHEAD_DAYS",
    "Lines",
    "LongLine",
    "ReadResult",
    "Tail",
    "check_line",
    "decode_json",
    "decode_line",
    "dedupe",
    "empty_events",
    "empty_quarantine",
    "file_sizes",
    "iter_blocks",
    "loads_any",
    "partition_days",
    "read_bytes",
    "read_days",
    "read_file",
    "read_logs",
    "regular_file",
    "skip_bom",
    "staged_stream_files",
    "stream_files",
]
