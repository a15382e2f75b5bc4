"""The rows of a batch the detectors' per-event pass must see, and what it reads of each.

Only rows that can change a detector's state go through Python: the detectors' event types, an
attempt's first row in the batch, a silence, the row after a session end, and each attempt's last
row (its "last seen"). Every other row (tool results, status changes, follow-ups: about half) only
moves "last seen", which the previous-row columns carry. Tool calls are counted in polars (see
:mod:`~agent_pipelines.live.detectors.tool_windows`): only those that reach the tool-loop threshold,
and those of windows carried over from an earlier run, are needed. Turn statuses and the row after
any status change (it may open the next turn, or be a task status between a turn's end and the
agent's next step) are needed too; a task status after other rows only moves "last seen". A
property test holds a batch to one event per batch (every row visited).
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from agent_pipelines.core.contract import TURN_STATUSES
from agent_pipelines.live.detectors.columns import COLUMNS, with_detector_columns
from agent_pipelines.live.detectors.thresholds import Thresholds
from agent_pipelines.live.detectors.tool_windows import tool_calls

ToolCounter = Callable[[pl.DataFrame], tuple[pl.DataFrame, pl.DataFrame]]


def rows_to_visit(
    events: pl.DataFrame, t: Thresholds, count_tools: ToolCounter
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows of ``events`` (deduplicated, event-time order) the per-event pass must see, with
    ``ts`` (ms), their previous row's ``prev_ts, prev_id, prev_type`` and ``tool_key, tool_n,
    tool_first``; and the tool windows ``count_tools`` (given the batch's
    :func:`~.tool_windows.tool_calls`) leaves at the batch's end."""
    frame = with_detector_columns(events).select(pl.col("timestamp").dt.epoch("ms").alias("ts"), *COLUMNS)
    # The attempt's previous row: its position found by one window, the three columns gathered
    # from it (three ``shift().over()`` cost three windows), null on an attempt's first row.
    before = (
        frame.select("attempt_id").with_row_index("_row").select(pl.col("_row").shift(1).over("attempt_id"))
    ).to_series()
    frame = frame.with_columns(
        prev_ts=pl.col("ts").gather(before),
        prev_id=pl.col("event_id").gather(before),
        prev_type=pl.col("event_type").gather(before),
    )
    calls = tool_calls(frame)
    counted, windows = count_tools(calls)
    frame = frame.with_columns(
        _spread(calls.get_column("tool_key"), calls.get_column("_row"), frame.height),
        _spread(counted.get_column("tool_n"), counted.get_column("_row"), frame.height),
        _spread(counted.get_column("tool_first"), counted.get_column("_row"), frame.height),
    )
    keep = (
        pl.col("event_type").is_in(["error", "session_start", "session_end"])
        | ((pl.col("event_type") == "status_change") & pl.col("new_status").is_in(TURN_STATUSES))
        | (
            (pl.col("event_type") == "tool_call")
            & (pl.col("tool_n").is_null() | (pl.col("tool_n") >= t.tool_loop))
        )
        | pl.col("prev_ts").is_null()
        | ((pl.col("ts") - pl.col("prev_ts")) >= t.stuck_ms)
        | pl.col("prev_type").is_in(["session_end", "status_change"])
        | pl.col("attempt_id").is_last_distinct()
    )
    return frame.filter(keep), windows


def _spread(values: pl.Series, rows: pl.Series, height: int) -> pl.Series:
    """``values`` at positions ``rows`` of a column of ``height`` rows, null elsewhere (what a join
    back on the row number gives, without hashing every row of the batch)."""
    return pl.repeat(None, height, dtype=values.dtype, eager=True).scatter(rows, values).alias(values.name)
