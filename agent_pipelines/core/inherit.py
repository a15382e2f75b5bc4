"""Events inherit their attempt's context (task, executor, model, branch) from its ``session_start``.

The original PowerShell logger wrote each event with the metadata the orchestrator kept for the
session, but other writers (the original design's ``Write-AgentWorkLog``, shell scripts, importers
of other tools) write ``followup_sent`` or ``error`` lines with only ``attempt_id``: the attempt's
``session_start`` says which task, executor, model and branch they belong to. Our logger fills
these in when it writes; this module does it when we read, so every analysis (the cleaned events,
sessions, errors, task insights) attributes such lines to their task whoever wrote them.

A field an event carries itself always wins. Otherwise it comes from the latest ``session_start``
of the attempt at or before the event, or (for lines written before it) the attempt's first one.
:class:`ContextCarry` does the same across the blocks and days read in order, so a follow-up read
in a later block than its session start still inherits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import polars as pl

from agent_pipelines.core.reader import compact

INHERITED_FIELDS: tuple[str, ...] = ("task_id", "task_title", "executor", "model", "branch")

F = TypeVar("F", pl.DataFrame, pl.LazyFrame)


def _start_value(name: str) -> pl.Expr:
    return pl.when(pl.col("event_type") == "session_start").then(pl.col(name))


def inherit_context(events: F) -> F:
    """``events`` (any frame with ``attempt_id``, ``event_type``, ``timestamp`` and some of
    :data:`INHERITED_FIELDS`) with missing context filled from the attempt's session starts.

    Row order and every other column are kept.
    """
    names = events.collect_schema().names()
    fields = [c for c in INHERITED_FIELDS if c in names]
    if not fields or not {"attempt_id", "event_type", "timestamp"} <= set(names):
        return events
    if isinstance(events, pl.DataFrame) and (
        events.is_empty() or not any(events[c].null_count() for c in fields)
    ):
        return events  # the usual case (our logger wrote it all): nothing to compute
    exprs = []
    for name in fields:
        started = _start_value(name)
        earlier = started.forward_fill().over("attempt_id", order_by="timestamp")
        first = started.drop_nulls().first().over("attempt_id")
        exprs.append(pl.coalesce(pl.col(name), earlier, first).alias(name))
    return events.with_columns(exprs)


def inherit_into(rows: pl.DataFrame, events: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """``rows`` (some of ``events``' rows: its errors, its follow-ups) with missing context filled
    from ``events``' session starts, without computing over all of ``events``: only its session
    starts are read, and only when a row misses something."""
    fields = [c for c in INHERITED_FIELDS if c in rows.columns]
    if rows.is_empty() or not fields or not any(rows[c].null_count() for c in fields):
        return rows
    keys = ["attempt_id", "event_type", "timestamp"]
    starts = (
        events.lazy()
        .filter(pl.col("event_type") == "session_start")
        .select(*keys, *[pl.col(c).cast(rows.schema[c]) for c in fields])
        .collect()
    )
    if starts.is_empty():
        return rows
    mine = rows.with_columns(pl.lit(True).alias("_own_row"))
    combined = pl.concat([mine, starts.with_columns(pl.lit(False).alias("_own_row"))], how="diagonal")
    return inherit_context(combined).filter(pl.col("_own_row")).select(rows.columns)


def from_attempts(rows: pl.DataFrame, attempts: pl.DataFrame) -> pl.DataFrame:
    """``rows`` with missing context filled from a per-attempt table (``attempt_id`` and some of
    :data:`INHERITED_FIELDS`, e.g. the session metrics, which span every day): what a day's rows
    cannot know when their session start was written on an earlier day."""
    fields = [c for c in INHERITED_FIELDS if c in rows.columns and c in attempts.columns]
    if "attempt_id" not in rows.columns or "attempt_id" not in attempts.columns:
        return rows
    if rows.is_empty() or attempts.is_empty() or not fields or not any(rows[c].null_count() for c in fields):
        return rows
    known = (
        attempts.filter(pl.col("attempt_id").is_not_null())
        .unique("attempt_id", keep="first", maintain_order=True)
        .select("attempt_id", *[pl.col(c).cast(rows.schema[c]).alias(f"_known_{c}") for c in fields])
    )
    return (
        rows.join(known, on="attempt_id", how="left", maintain_order="left")
        .with_columns(pl.coalesce(c, f"_known_{c}").alias(c) for c in fields)
        .select(rows.columns)
    )


class ContextCarry:
    """:func:`inherit_context` across blocks read in order (a day's blocks, then the next day's):
    holds, per attempt, the context of the latest ``session_start`` seen so far (a few short
    strings per attempt).

    ``earlier`` loads what came before the first block (per attempt, its context: e.g. the last rows
    of the day before, already inherited), for a run that starts after an attempt's session start. It
    is called once, and only when a row still misses something: lines that carry their context (what
    our logger writes) never pay for it.
    """

    def __init__(self, earlier: Callable[[], pl.DataFrame | None] | None = None) -> None:
        # Per-attempt context, oldest first: what ``earlier`` loaded (under everything), then each
        # block's latest session starts. Merged into one row per attempt only when a row needs it
        # (:attr:`known`): rebuilding the table at every block cost a run time growing with the
        # square of its blocks (10 days of 3M events: 2.4 s; lines our logger writes never look).
        self._parts: list[pl.DataFrame] = []
        self._earlier = earlier

    @property
    def known(self) -> pl.DataFrame:
        """One row per attempt: the context of its latest session start seen so far."""
        if not self._parts:
            return pl.DataFrame(schema=_KNOWN_SCHEMA)
        if len(self._parts) > 1:
            merged = pl.concat(self._parts, how="diagonal").select(list(_KNOWN_SCHEMA))
            self._parts = [merged.unique("attempt_id", keep="last", maintain_order=True)]
        return self._parts[0]

    def __call__(self, events: pl.DataFrame) -> pl.DataFrame:
        """``events`` with missing context filled from their own block, then from earlier blocks."""
        fields = [c for c in INHERITED_FIELDS if c in events.columns]
        if events.is_empty() or not fields:
            return events
        if any(events[c].null_count() for c in fields):
            events = from_attempts(inherit_context(events), self.known)
            if self._earlier is not None and any(events[c].null_count() for c in fields):
                self._load_earlier()
                events = from_attempts(events, self.known)
        # the few columns read, then the rows: a filter of the whole block would copy every column
        starts = events.select("attempt_id", "timestamp", "event_type", *fields).filter(
            pl.col("event_type") == "session_start"
        )
        if starts.height:
            latest = (
                starts.sort("timestamp", maintain_order=True)
                .group_by("attempt_id", maintain_order=True)
                .last()
                .select("attempt_id", *[pl.col(c).cast(pl.String) for c in fields])
            )
            # not a view into the block's text: it outlives the block
            self._parts.append(compact(latest))
        return events

    def _load_earlier(self) -> None:
        load, self._earlier = self._earlier, None
        earlier = load() if load is not None else None
        if earlier is not None and earlier.height:
            fields = [c for c in INHERITED_FIELDS if c in earlier.columns]
            context = earlier.select("attempt_id", *[pl.col(c).cast(pl.String) for c in fields])
            # under what the blocks read so far: an attempt's newer session start wins
            self._parts.insert(0, compact(context.unique("attempt_id", keep="last", maintain_order=True)))


_KNOWN_SCHEMA: dict[str, pl.DataType] = {
    "attempt_id": pl.String(),
    **{c: pl.String() for c in INHERITED_FIELDS},
}


def last_context(rows: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    """Per attempt, the last non-null value of each context field in ``rows`` (in their order): what
    a day's cleaned rows, already inherited, hand on to the next day (:class:`ContextCarry`)."""
    names = rows.lazy().collect_schema().names()
    fields = [c for c in INHERITED_FIELDS if c in names]
    if "attempt_id" not in names or not fields:
        return pl.DataFrame(schema=_KNOWN_SCHEMA)
    return (
        rows.lazy()
        .select("attempt_id", *fields)
        .group_by("attempt_id")
        .agg(pl.col(c).drop_nulls().last() for c in fields)
        .collect()
    )


__all__ = [
    "INHERITED_FIELDS",
    "ContextCarry",
    "from_attempts",
    "inherit_context",
    "inherit_into",
    "last_context",
]
