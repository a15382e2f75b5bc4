"""Events already processed: a bounded window of their ids, so a line read twice fires nothing twice."""

from __future__ import annotations

import polars as pl

from agent_pipelines.core.reader import dedupe
from agent_pipelines.live.detectors.thresholds import Thresholds
from agent_pipelines.live.state import SEEN_SCHEMA, DetectorState


def unseen(events: pl.DataFrame, state: DetectorState) -> pl.DataFrame:
    """Events not processed before (by ``event_id``), one row per id, in event-time order.

    The same line can be read twice: rotation re-appends today's lines of the original PowerShell logger's
    single file to ``stream/<today>.jsonl``, and a rewritten file is read again from the start.
    """
    if events.is_empty():
        return events
    fresh = dedupe(events)
    if state.seen.height:
        fresh = fresh.join(state.seen.select("event_id"), on="event_id", how="anti", maintain_order="left")
    stamps = fresh.get_column("timestamp")
    if not stamps.null_count() and stamps.is_sorted():  # a log appended in order: nothing to move
        return fresh
    return fresh.sort("timestamp", maintain_order=True)


def remember(state: DetectorState, events: pl.DataFrame, thresholds: Thresholds) -> None:
    """Add processed ids to the bounded recent window (by event time, and a hard cap)."""
    if not events.is_empty():
        added = events.select("event_id", pl.col("timestamp").dt.epoch("ms").alias("ts_ms")).cast(SEEN_SCHEMA)
        seen = pl.concat([state.seen, added], how="vertical")
    else:
        seen = state.seen
    if state.watermark_ms is not None and seen.height:
        seen = seen.filter(pl.col("ts_ms") >= state.watermark_ms - thresholds.seen_ms)
    if seen.height > thresholds.seen_max:
        seen = seen.tail(thresholds.seen_max)
    state.seen = seen
