"""Session metrics (one row per attempt, from mergeable per-day parts) and the executor comparison."""

from __future__ import annotations

from typing import Literal

import polars as pl

from agent_pipelines.core.contract import CLEANED_SCHEMA, SUCCESS_STATUS

Frame = pl.DataFrame | pl.LazyFrame

SESSION_METRICS_SCHEMA: dict[str, pl.DataType] = {
    "attempt_id": pl.String(),
    "task_id": pl.String(),
    "task_title": pl.String(),
    "executor": pl.String(),
    "model": pl.String(),
    "prompt_type": pl.String(),
    "started_at": pl.Datetime("us", "UTC"),
    "ended_at": pl.Datetime("us", "UTC"),
    "last_event_at": pl.Datetime("us", "UTC"),
    "duration_ms": pl.Int64(),
    "completion_status": pl.String(),
    "is_open": pl.Boolean(),
    "succeeded": pl.Boolean(),
    "cost_usd": pl.Float64(),
    "total_tokens": pl.Int64(),
    "error_count": pl.UInt32(),
    "followup_count": pl.UInt32(),
    "tool_call_count": pl.UInt32(),
    "restarts": pl.UInt32(),
    "attempt_number": pl.UInt32(),
    "is_first_shot": pl.Boolean(),
    "day": pl.Date(),
}

_EVENT_COLUMNS = (
    "attempt_id",
    "timestamp",
    "event_type",
    "task_id",
    "task_title",
    "executor",
    "model",
    "prompt_type",
    "completion_status",
    "duration_ms",
    "total_tokens",
    "cost_usd",
)


def _with_columns(events: Frame, columns: tuple[str, ...]) -> pl.LazyFrame:
    """The events as a LazyFrame holding ``columns`` (missing ones null, e.g. an empty table)."""
    lazy = events.lazy()
    have = set(lazy.collect_schema().names())
    return lazy.with_columns(
        [pl.lit(None, dtype=CLEANED_SCHEMA[c]).alias(c) for c in columns if c not in have]
    ).select([pl.col(c).cast(CLEANED_SCHEMA[c]) for c in columns])


# --------------------------------------------------------------------------------------------
# Session metrics: one row per attempt, from mergeable per-day parts
# --------------------------------------------------------------------------------------------

#: One attempt's events within one slice of the data (a day partition): everything
#: :func:`sessions_from_parts` needs, as values that merge across slices (min/max times, sums, and
#: "the value at the earliest/latest time" carried with that time). A day's parts are small (one row
#: per attempt active that day), so the unpartitioned ``session_metrics`` over a year of logs reads
#: a few hundred thousand rows instead of every event again.
SESSION_PARTS_SCHEMA: dict[str, pl.DataType] = {
    "attempt_id": pl.String(),
    "first_at": pl.Datetime("us", "UTC"),
    "last_at": pl.Datetime("us", "UTC"),
    **{c: pl.String() for c in ("task_id", "task_title", "executor", "model")},
    **{f"{c}_at": pl.Datetime("us", "UTC") for c in ("task_id", "task_title", "executor", "model")},
    "first_start_at": pl.Datetime("us", "UTC"),
    "first_prompt_type": pl.String(),
    "last_start_at": pl.Datetime("us", "UTC"),
    "last_end_at": pl.Datetime("us", "UTC"),
    "end_duration_ms": pl.Int64(),
    "end_status": pl.String(),
    "end_cost_usd": pl.Float64(),
    "end_total_tokens": pl.Int64(),
    "error_count": pl.UInt32(),
    "followup_count": pl.UInt32(),
    "tool_call_count": pl.UInt32(),
    "restart_starts": pl.UInt32(),
}
_CONTEXT = ("task_id", "task_title", "executor", "model")
_RESTART_PROMPTS = ["followup", "retry"]


def session_parts(events: Frame) -> pl.DataFrame:
    """Per attempt, the mergeable summary of its events in ``events`` (``SESSION_PARTS_SCHEMA``).

    Run once per day partition; :func:`sessions_from_parts` merges the days. Events are ordered by
    time with ties kept in input order, so the day-by-day and the all-at-once paths agree exactly.
    """
    lazy = _with_columns(events, _EVENT_COLUMNS).sort("attempt_id", "timestamp", maintain_order=True)
    is_start = pl.col("event_type") == "session_start"
    is_end = pl.col("event_type") == "session_end"
    ts = pl.col("timestamp")
    last_end = lambda c: pl.col(c).filter(is_end).last()  # noqa: E731 - reads better inline
    parts = lazy.group_by("attempt_id").agg(
        ts.first().alias("first_at"),
        ts.last().alias("last_at"),
        *[pl.col(c).drop_nulls().first().alias(c) for c in _CONTEXT],
        *[ts.filter(pl.col(c).is_not_null()).first().alias(f"{c}_at") for c in _CONTEXT],
        ts.filter(is_start).first().alias("first_start_at"),
        pl.col("prompt_type").filter(is_start).first().alias("first_prompt_type"),
        ts.filter(is_start).last().alias("last_start_at"),
        ts.filter(is_end).last().alias("last_end_at"),
        last_end("duration_ms").alias("end_duration_ms"),
        last_end("completion_status").alias("end_status"),
        last_end("cost_usd").alias("end_cost_usd"),
        last_end("total_tokens").alias("end_total_tokens"),
        (pl.col("event_type") == "error").sum().alias("error_count"),
        (pl.col("event_type") == "followup_sent").sum().alias("followup_count"),
        (pl.col("event_type") == "tool_call").sum().alias("tool_call_count"),
        pl.col("prompt_type").filter(is_start).is_in(_RESTART_PROMPTS).sum().alias("restart_starts"),
    )
    return (
        parts.select([pl.col(c).cast(t) for c, t in SESSION_PARTS_SCHEMA.items()])
        .sort("attempt_id", "first_at")
        .collect()
    )


def _at_min(value: str, at: str) -> pl.Expr:
    """``value`` from the part whose ``at`` is earliest (the first such part on a tie)."""
    return pl.col(value).filter(pl.col(at) == pl.col(at).min()).first()


def _at_max(value: str, at: str) -> pl.Expr:
    """``value`` from the part whose ``at`` is latest (the last such part on a tie)."""
    return pl.col(value).filter(pl.col(at) == pl.col(at).max()).last()


def sessions_from_parts(parts: Frame) -> pl.DataFrame:
    """Session metrics (``SESSION_METRICS_SCHEMA``) from the :func:`session_parts` of any slices.

    An attempt seen on several days (a session that crosses midnight) has one part per day; they
    merge into one row here. Parts must come in slice order (days ascending), which decides ties.
    """
    lazy = parts.lazy()
    if not lazy.collect_schema().names():  # no day stored yet
        lazy = pl.LazyFrame(schema=SESSION_PARTS_SCHEMA)
    lazy = lazy.select([pl.col(c).cast(t) for c, t in SESSION_PARTS_SCHEMA.items()])
    merged = lazy.group_by("attempt_id").agg(
        *[_at_min(c, f"{c}_at") for c in _CONTEXT],
        _at_min("first_prompt_type", "first_start_at").alias("prompt_type"),
        pl.coalesce(pl.col("first_start_at").min(), pl.col("first_at").min()).alias("started_at"),
        pl.col("last_start_at").max().alias("_last_start"),
        pl.col("last_end_at").max().alias("_last_end"),
        pl.col("last_at").max().alias("last_event_at"),
        _at_max("end_duration_ms", "last_end_at").alias("_end_duration_ms"),
        _at_max("end_status", "last_end_at").alias("_status"),
        _at_max("end_cost_usd", "last_end_at").alias("cost_usd"),
        _at_max("end_total_tokens", "last_end_at").alias("total_tokens"),
        pl.col("error_count").sum(),
        pl.col("followup_count").sum(),
        pl.col("tool_call_count").sum(),
        # The first start of an attempt is not a restart, whatever its prompt type.
        (
            pl.col("restart_starts").sum().cast(pl.Int64)
            - _at_min("first_prompt_type", "first_start_at")
            .is_in(_RESTART_PROMPTS)
            .fill_null(False)
            .cast(pl.Int64)
        ).alias("restarts"),
    )
    return _finish_sessions(merged)


def session_metrics(events: Frame) -> pl.DataFrame:
    """One row per attempt (``SESSION_METRICS_SCHEMA``), over every day the events cover.

    The same computation as the day-by-day path (:func:`session_parts` per day, then
    :func:`sessions_from_parts`), run over all events as one slice: grouping by attempt across
    all days is what makes a session that crosses midnight one row.
    """
    return sessions_from_parts(session_parts(events))


def _finish_sessions(per_attempt: pl.LazyFrame) -> pl.DataFrame:
    """Open/closed, duration, attempt number and first-shot from the per-attempt aggregates."""
    is_open = pl.col("_last_end").is_null() | (
        pl.col("_last_start").is_not_null() & (pl.col("_last_start") > pl.col("_last_end"))
    )
    per_attempt = per_attempt.sort("started_at", "attempt_id").with_columns(is_open.alias("is_open"))
    per_attempt = per_attempt.with_columns(
        pl.when(pl.col("is_open")).then(None).otherwise(pl.col("_last_end")).alias("ended_at"),
        pl.when(pl.col("is_open")).then(None).otherwise(pl.col("_status")).alias("completion_status"),
    )
    elapsed = (pl.col("ended_at") - pl.col("started_at")).dt.total_milliseconds()
    order_in_task = pl.col("started_at").rank("ordinal").over("task_id").cast(pl.UInt32)
    succeeded = (pl.col("completion_status") == SUCCESS_STATUS).fill_null(False)
    result = per_attempt.with_columns(
        pl.when(pl.col("is_open"))
        .then(None)
        .otherwise(pl.coalesce(pl.col("_end_duration_ms"), elapsed))
        .cast(pl.Int64)
        .alias("duration_ms"),
        succeeded.alias("succeeded"),
        pl.when(pl.col("task_id").is_null())
        .then(pl.lit(1, pl.UInt32))
        .otherwise(order_in_task)
        .alias("attempt_number"),
        pl.col("started_at").dt.date().alias("day"),
    ).with_columns(((pl.col("attempt_number") == 1) & pl.col("succeeded")).alias("is_first_shot"))
    return (
        result.select([pl.col(c).cast(t) for c, t in SESSION_METRICS_SCHEMA.items()])
        .sort("started_at", "attempt_id")
        .collect()
    )


# --------------------------------------------------------------------------------------------
# Executor comparison: the original Node analytics CLI's table
# --------------------------------------------------------------------------------------------


def executor_comparison(
    sessions: Frame,
    by: Literal["executor", "model"] = "executor",
    executors: list[str] | None = None,
) -> pl.DataFrame:
    """Per executor (or model): sessions, success %, first-shot %, time, cost, tokens, errors.

    ``executors`` keeps only those names (case-insensitive), as ``--executor-comparison CODEX
    COPILOT`` does. Percentages are 0-100 (the original analytics CLI's table); success % is over
    closed sessions and first-shot % over successes (see the module docstring). Sessions without an
    executor or model are grouped as ``unknown``.
    """
    if by not in ("executor", "model"):
        raise ValueError(f"by must be 'executor' or 'model', got {by!r}")
    lazy = sessions.lazy().with_columns(pl.col(by).fill_null("unknown"))
    if executors:
        wanted = [e.lower() for e in executors]
        lazy = lazy.filter(pl.col(by).str.to_lowercase().is_in(wanted))
    closed = ~pl.col("is_open")
    table = lazy.group_by(by).agg(
        pl.len().alias("sessions"),
        closed.sum().alias("closed_sessions"),
        pl.col("is_open").sum().alias("open_sessions"),
        pl.col("succeeded").sum().alias("succeeded"),
        pl.col("is_first_shot").sum().alias("first_shot"),
        pl.col("duration_ms").filter(closed).mean().truediv(1000).alias("avg_duration_s"),
        pl.col("cost_usd").mean().alias("avg_cost_usd"),
        pl.col("cost_usd").sum().alias("total_cost_usd"),
        pl.col("total_tokens").sum().alias("total_tokens"),
        pl.col("total_tokens").mean().alias("avg_tokens"),
        pl.col("error_count").sum().alias("errors"),
    )
    pct = lambda num, den: (  # noqa: E731
        pl.when(pl.col(den) > 0).then(pl.col(num) * 100.0 / pl.col(den)).otherwise(None)
    )
    return (
        table.with_columns(
            pct("succeeded", "closed_sessions").alias("success_pct"),
            pct("first_shot", "succeeded").alias("first_shot_pct"),
            (pl.col("errors") / pl.col("sessions")).alias("errors_per_session"),
        )
        .select(
            by,
            "sessions",
            "closed_sessions",
            "open_sessions",
            "succeeded",
            "success_pct",
            "first_shot_pct",
            "avg_duration_s",
            "avg_cost_usd",
            "total_cost_usd",
            "total_tokens",
            "avg_tokens",
            "errors",
            "errors_per_session",
        )
        .sort(["sessions", by], descending=[True, False])
        .collect()
    )
