"""The cleaned-events pass: each day's lines read, deduplicated and written block by block.

What the ``cleaned_events`` asset (and ``benchmarks/bench_batch.py``) runs for each day partition:
the day's files are read a block at a time (:func:`~agent_pipelines.core.reader.iter_logs`), each block's
rows are deduplicated against the ids the day has seen so far
(:class:`~agent_pipelines.core.reader.FirstSeen`, the same first-wins rows as
:func:`~agent_pipelines.core.reader.dedupe` of the whole day), the block's quarantined lines go to the
quarantine, and its rows go on to the day's Parquet file as the writer asks for them
(:func:`lazy_blocks`). Memory is then a few blocks' whatever the size of a day: each day is parsed in a
worker thread, the next day's too while this one is written, so two blocks are parsed at once. Once
the day being written is all read, the next day takes the room its last blocks leave in the pool.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl
from polars.io.plugins import register_io_source

from agent_pipelines.core.contract import CLEANED_SCHEMA
from agent_pipelines.core.inherit import ContextCarry
from agent_pipelines.core.quarantine import quarantine_of_day, write_quarantine
from agent_pipelines.core.reader import (
    FirstSeen,
    ReadAhead,
    ReadResult,
    compact,
    iter_logs,
    read_ahead,
)

PREVIEW_ROWS = 10
DAYS_AHEAD = 1  # days read in their own thread while the one before is written
# A day's blocks parsed while the one before is handed on (iter_read's ``parallel``): two for the day
# being written, one for the day read ahead. With one, a pool thread that finished a block of the day
# being written sat idle until its reader had handed it on and cut the next (10M events, 5 days,
# parse jobs timed per worker: a single block being parsed 11-12% of the run with one, 2-3% with
# two); the day read ahead waits for the writer anyway, and a block more held there only costs memory.
PARSE_AHEAD = 2
PARSE_AHEAD_NEXT_DAY = 1
# Once the day being written is all read (its last blocks parsing or handed on), the day after it
# parses PARSE_AHEAD blocks ahead and holds one result more: else one core, then both, sat idle
# at every day's end while its last blocks were parsed and written (3M events, 10 days, under
# load, traced: parse jobs and the writer left 17% of two cores' time without work, 3.5% with it).
DAY_NUMBER_COLUMNS = ("event_type", "attempt_id", "executor", "model", "completion_status", "cost_usd",
                      "total_tokens")  # fmt: skip


@dataclass
class CleanedDay:
    """What one day's pass wrote and met, for the asset's metadata and checks."""

    day: date
    events: int = 0  # rows written (after dedupe)
    read: int = 0  # valid rows read (before dedupe)
    quarantined: int = 0
    newly_quarantined: int = 0  # records not already in the quarantine files
    reasons: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)
    attempts: pl.Series = field(default_factory=lambda: pl.Series("attempt_id", [], dtype=pl.String))
    preview: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CLEANED_SCHEMA))
    # the day's session_end rows, the columns ``usage.day_numbers`` reads (not the whole rows, which
    # hold the free text)
    session_ends: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={c: CLEANED_SCHEMA[c] for c in DAY_NUMBER_COLUMNS})
    )
    pending_bytes: int = 0
    sources: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stored_bytes: int = 0  # what ``write`` returned

    @property
    def duplicates_dropped(self) -> int:
        return self.read - self.events

    @property
    def lines(self) -> int:
        return self.events + self.quarantined

    @property
    def quarantine_share(self) -> float:
        return self.quarantined / self.lines if self.lines else 0.0


def lazy_blocks(blocks: Iterable[pl.DataFrame], schema: Mapping[str, pl.DataType]) -> pl.LazyFrame:
    """A LazyFrame whose rows are ``blocks``, produced only as the query asks for them.

    Sunk (``sink_parquet``), its blocks are encoded and appended to the file one after the other,
    so no more than a few are ever held. ``blocks`` is consumed once: the frame can be sunk or
    collected once only.
    """
    columns = list(schema)

    def source(
        with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None, batch_size: int | None
    ) -> Iterator[pl.DataFrame]:
        left = n_rows
        for block in blocks:
            block = block.select(with_columns or columns)
            if predicate is not None:
                block = block.filter(predicate)
            if left is not None:
                block = block.head(left)
                left -= block.height
            if block.height:
                yield block
            if left is not None and left <= 0:
                return

    return register_io_source(source, schema=pl.Schema(schema))


def clean_days(
    logs_root: str | os.PathLike[str],
    days: Sequence[date],
    write: Callable[[date, pl.LazyFrame], int],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    final_before: date | None = None,
    ahead: int = 1,
    block_bytes: int | None = None,
    earlier: Callable[[], pl.DataFrame | None] | None = None,
    on_rows: Callable[[date, pl.DataFrame], None] | None = None,
) -> Iterator[CleanedDay]:
    """Clean each day in turn: ``write(day, rows)`` stores the day's rows (a :func:`lazy_blocks`
    frame, to be sunk once; returns the bytes stored), and the day's quarantined lines are added to
    ``data_dir``'s quarantine (none kept when ``None``). Yields each day's :class:`CleanedDay` once
    it is written.

    Files of days before ``final_before`` are final (see :func:`~agent_pipelines.core.reader.read_logs`).
    Each day is read in a worker thread, up to ``ahead`` blocks ahead of the writer, and the next
    day's reading starts while this one is written (once this one is all read, a block further).

    Lines without task or executor inherit their attempt's session start, across the days of the run;
    ``earlier`` gives the attempts' context from before the first day (see
    :class:`~agent_pipelines.core.inherit.ContextCarry`), loaded only if a line needs it.

    ``on_rows(day, rows)`` sees each block of rows (the stored columns) as it goes to ``write``: a
    caller that checks what it stores (the contract) does it without reading the file back.
    """
    root = Path(logs_root)

    writing: list[date] = []  # the day being written (its reader may go further ahead)
    read: set[date] = set()  # days whose every byte is read (their last blocks may still be parsing)
    following = dict(itertools.pairwise(days))  # each day's next one
    # Each day is read in its own thread, the next day's while this one is written: two blocks are
    # parsed at once (both cores busy), each producer holding at most ``ahead`` parsed blocks.
    started: deque[tuple[date, ReadAhead[ReadResult]]] = deque()

    def taking_over(day: date) -> bool:
        """Whether ``day`` follows the day being written, all of whose bytes are read: the pool has
        room its last blocks leave, which the next day's blocks take (else a core idles while
        the day's last blocks are parsed and written)."""
        return bool(writing) and writing[0] in read and following.get(writing[0]) == day

    def day_blocks(day: date) -> ReadAhead[ReadResult]:
        def parallel() -> int:
            if (writing and writing[0] == day) or taking_over(day):
                return PARSE_AHEAD
            return PARSE_AHEAD_NEXT_DAY

        def held() -> int:
            return ahead + 1 if taking_over(day) else ahead

        def on_read() -> None:
            read.add(day)
            wake()

        blocks = iter_logs(
            root,
            days=[day],
            final_before=final_before,
            block_bytes=block_bytes,
            parallel=parallel,
            on_read=on_read,
        )
        return read_ahead(blocks, held)

    def wake() -> None:
        """The producers waiting for room ask again (the day written, or its reading, changed)."""
        for _, blocks in list(started):
            blocks.wake()

    upcoming = iter(days)
    carry = ContextCarry(earlier)  # lines without task or executor inherit their attempt's session start

    def start_next() -> None:
        day = next(upcoming, None)
        if day is not None:
            started.append((day, day_blocks(day)))

    try:
        for _ in range(1 + DAYS_AHEAD):
            start_next()
        while started:
            day, blocks = started.popleft()
            writing[:] = [day]
            start_next()
            wake()
            with blocks:
                summary = CleanedDay(day)
                rows = _day_rows(blocks, summary, root, data_dir, carry)
                if on_rows is not None:
                    rows = _seen_by(rows, day, on_rows)
                summary.stored_bytes = write(day, lazy_blocks(rows, CLEANED_SCHEMA))
                for _ in rows:  # a writer that stopped early still accounts for (and quarantines) the rest
                    pass
            yield summary
    finally:
        for _, blocks in started:
            blocks.close()


def _seen_by(
    rows: Iterator[pl.DataFrame], day: date, on_rows: Callable[[date, pl.DataFrame], None]
) -> Iterator[pl.DataFrame]:
    """``rows`` as they pass, each block's stored columns handed to ``on_rows`` first."""
    columns = list(CLEANED_SCHEMA)
    for block in rows:
        if block.height:
            on_rows(day, block.select(columns))
        yield block


def _day_rows(
    results: Iterable[ReadResult],
    summary: CleanedDay,
    logs_root: Path,
    data_dir: str | os.PathLike[str] | None,
    carry: ContextCarry | None = None,
) -> Iterator[pl.DataFrame]:
    """One day's deduplicated blocks (context inherited through ``carry``, see
    :mod:`agent_pipelines.core.inherit`), counting what passes into ``summary`` on the way."""
    first_seen = FirstSeen()
    sources: dict[str, None] = {}
    attempts: list[pl.Series] = []
    ends: list[pl.DataFrame] = []
    for result in results:
        summary.pending_bytes += result.pending_bytes
        summary.warnings.extend(result.warnings)
        sources.update(dict.fromkeys(result.offsets))
        if result.quarantine.height:
            quarantine = quarantine_of_day(result.quarantine, summary.day, logs_root)
            summary.quarantined += quarantine.height
            _add_counts(summary.reasons, quarantine, "reason")
            if data_dir is not None:
                summary.newly_quarantined += write_quarantine(data_dir, quarantine)
        if not result.events.height:
            continue
        summary.read += result.events.height
        events = first_seen(result.events)
        if not events.height:
            continue
        if carry is not None:
            events = carry(events)
        summary.events += events.height
        _add_counts(summary.by_type, events, "event_type")
        # kept past the block: copied (see ``compact``), or each would keep its block's text alive
        attempts.append(compact(events["attempt_id"].unique()))
        ends.append(compact(events.select(DAY_NUMBER_COLUMNS).filter(pl.col("event_type") == "session_end")))
        if summary.preview.height < PREVIEW_ROWS:
            head = compact(events.head(PREVIEW_ROWS - summary.preview.height))
            summary.preview = pl.concat([summary.preview, head])
        yield events
    summary.sources = list(sources)
    if attempts:
        summary.attempts = pl.concat(attempts).unique(maintain_order=True)
    if ends:
        summary.session_ends = pl.concat(ends)
    summary.reasons = dict(sorted(summary.reasons.items()))
    summary.by_type = dict(sorted(summary.by_type.items()))


def _add_counts(total: dict[str, int], frame: pl.DataFrame, column: str) -> None:
    for key, n in frame.group_by(column).len().iter_rows():
        total[str(key)] = total.get(str(key), 0) + int(n)
