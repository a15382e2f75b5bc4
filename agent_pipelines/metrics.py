"""Session metrics, the executor comparison and the seed's six success metrics.

One implementation for the assets and the command line: both call these functions on cleaned
events (the reader's ``CLEANED_SCHEMA``), so the UI and ``agent-pipelines summary`` can never
disagree on a number.

Definitions, decided once and used everywhere:

* **Success** is ``completion_status == "success"`` (``contract.SUCCESS_STATUS``).
* **Open** sessions (no ``session_end`` after their last ``session_start``) have no outcome yet: they
  are neither successes nor failures, so rates are over *closed* sessions. Counting them as failures
  would punish whichever executor happens to be running long tasks right now.
* The **last** ``session_end`` of an attempt speaks for it (status, duration, cost, tokens): the
  logger reports ``duration_ms`` from the attempt's first start, so adding several ends would count
  time twice.
* **First-shot** (the seed's formula): 1-attempt completions / completions. Per task overall (a task
  whose first attempt succeeded), per session in the executor table (a success that was attempt 1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import polars as pl

from agent_pipelines import markdown as md
from agent_pipelines import paths
from agent_pipelines.contract import CLEANED_SCHEMA, SUCCESS_STATUS
from agent_pipelines.reader import loads_any
from agent_pipelines.settings import settings
from agent_pipelines.windows import Window, data_end

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
# Executor comparison: the seed's table
# --------------------------------------------------------------------------------------------


def executor_comparison(
    sessions: Frame,
    by: Literal["executor", "model"] = "executor",
    executors: list[str] | None = None,
) -> pl.DataFrame:
    """Per executor (or model): sessions, success %, first-shot %, time, cost, tokens, errors.

    ``executors`` keeps only those names (case-insensitive), as ``--executor-comparison CODEX
    COPILOT`` does. Percentages are 0-100 (the seed's table); success % is over closed sessions and
    first-shot % over successes (see the module docstring). Sessions without an executor or model
    are grouped as ``unknown``.
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


# --------------------------------------------------------------------------------------------
# Error loops (for "error loop frequency")
# --------------------------------------------------------------------------------------------

ERROR_LOOP_THRESHOLD = 4  # the seed's AGENT_ERROR_LOOP_THRESHOLD default
ERROR_LOOP_WINDOW = timedelta(minutes=10)


def error_loop_threshold() -> int:
    """``AGENT_ERROR_LOOP_THRESHOLD`` as the live detector reads it; a "loop" needs at least 2 errors."""
    return max(2, settings().error_loop_threshold)


def detect_error_loops(
    events: Frame, threshold: int | None = None, window: timedelta = ERROR_LOOP_WINDOW
) -> pl.DataFrame:
    """Attempts where ``threshold`` errors of one kind fell within ``window`` (the live rule).

    Used when the live detector's ``agent-alerts.jsonl`` is absent (logs analysed after the fact).
    Same rule as ``agent_pipelines.detectors``: an error counts towards its fingerprint (when given)
    *and* towards its message template (``clustering``), so a kind whose events carry the
    fingerprint only sometimes is still one loop. Returns ``attempt_id, loop_key, detected_at``:
    one row per attempt (its first loop).
    """
    from agent_pipelines.errors import error_events

    return error_loops_from_errors(error_events(events), threshold=threshold, window=window)


def error_loops_from_errors(
    errors: Frame, threshold: int | None = None, window: timedelta = ERROR_LOOP_WINDOW
) -> pl.DataFrame:
    """:func:`detect_error_loops` over error events already templated (``errors.error_events``).

    What the assets call: the templates were computed once per day, so finding loops over months
    of errors is a sort and a shift.
    """
    from agent_pipelines.errors import with_mined_templates

    threshold = threshold or error_loop_threshold()
    mined = with_mined_templates(errors.lazy().collect())
    keyed = mined.lazy().select("attempt_id", "timestamp", "fingerprint", "error_template")
    fp = pl.col("fingerprint")
    by_key = pl.concat(
        [
            keyed.filter(fp.is_not_null()).select(
                "attempt_id", "timestamp", (pl.lit("f:") + fp).alias("loop_key")
            ),
            keyed.select(
                "attempt_id", "timestamp", (pl.lit("t:") + pl.col("error_template")).alias("loop_key")
            ),
        ]
    )
    ahead = pl.col("timestamp").shift(-(threshold - 1)).over("attempt_id", "loop_key")
    return (
        by_key.sort("attempt_id", "loop_key", "timestamp")
        .with_columns(_ahead=ahead)
        .filter((pl.col("_ahead") - pl.col("timestamp")) <= window)
        .group_by("attempt_id")
        .agg(pl.col("_ahead").min().alias("detected_at"), pl.col("loop_key").sort_by("_ahead").first())
        .select("attempt_id", "loop_key", "detected_at")
        .sort("detected_at", "attempt_id")
        .collect()
    )


def read_error_loop_alerts(logs_root: str | os.PathLike[str]) -> pl.DataFrame | None:
    """``attempt_id, detected_at`` of the live detector's error-loop alerts, or ``None`` with no file.

    Tolerant of the alert's shape (``type`` or ``alert_type``; the seed's files and ours): a line
    that is not an error-loop alert with an attempt id is skipped.
    """
    path = Path(logs_root) / paths.ALERTS_FILE
    if not path.exists():
        return None
    rows = []
    with open(path, "rb") as handle:
        for line in handle:
            try:
                record = loads_any(line)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            kind = record.get("type") or record.get("alert_type") or record.get("alert")
            attempt = record.get("attempt_id")
            if str(kind).lower() == "error_loop" and isinstance(attempt, str):
                rows.append({"attempt_id": attempt, "detected_at": record.get("timestamp")})
    frame = pl.DataFrame(rows, schema={"attempt_id": pl.String(), "detected_at": pl.String()}, orient="row")
    return frame.with_columns(
        pl.col("detected_at").str.to_datetime(time_zone="UTC", strict=False, time_unit="us")
    )


# --------------------------------------------------------------------------------------------
# The seed's six success metrics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    metric: str
    label: str
    comparator: Literal["<", ">"]
    target: float
    unit: str  # "%", "x", "$", "min"


TARGETS: tuple[Target, ...] = (
    Target("success_rate", "Success Rate", ">", 0.80, "%"),
    Target("first_shot_rate", "First-Shot Success Rate", ">", 0.40, "%"),
    Target("avg_attempts_per_task", "Avg Attempts per Task", "<", 2.0, "x"),
    Target("error_loop_frequency", "Error Loop Frequency", "<", 0.05, "%"),
    Target("cost_per_task", "Cost per Task", "<", 0.10, "$"),
    Target("mean_time_to_completion_ms", "Mean Time to Completion", "<", 5 * 60 * 1000, "min"),
)


def _six(sessions: pl.DataFrame, loop_attempts: set[str]) -> dict[str, float | None]:
    """The six numbers over a set of sessions (ratios 0-1, cost in USD, time in ms)."""
    closed = sessions.filter(~pl.col("is_open"))
    done = sessions.filter(pl.col("succeeded"))
    tasks = sessions.with_columns(pl.coalesce("task_id", "attempt_id").alias("_task"))
    per_task = tasks.group_by("_task").agg(
        pl.col("succeeded").any().alias("completed"),
        (pl.col("succeeded") & (pl.col("attempt_number") == 1)).any().alias("first_shot"),
    )
    completed = int(per_task["completed"].sum()) if per_task.height else 0
    n = sessions.height
    looping = sessions.filter(pl.col("attempt_id").is_in(sorted(loop_attempts))).height if n else 0
    cost = sessions["cost_usd"].fill_null(0.0).sum() if n else 0.0
    return {
        "success_rate": done.height / closed.height if closed.height else None,
        "first_shot_rate": int(per_task["first_shot"].sum()) / completed if completed else None,
        "avg_attempts_per_task": n / per_task.height if per_task.height else None,
        "error_loop_frequency": looping / n if n else None,
        "cost_per_task": float(cost) / completed if completed else None,
        "mean_time_to_completion_ms": done["duration_ms"].mean() if done.height else None,  # type: ignore[dict-item]
    }


def success_metrics(
    sessions: Frame,
    *,
    now: datetime | None = None,
    error_loops: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The seed's six metrics against their targets, overall and for the last two weeks.

    Columns: ``metric, label, value`` (all sessions), ``last_7d`` and ``previous_7d`` (sessions that
    *started* in the 7 days before ``now`` and the 7 before that), ``wow_change`` (last − previous),
    ``target, comparator, met`` (``value`` against the target; null when there is no data) and
    ``unit``. ``now`` defaults to the latest event in the data (:func:`agent_pipelines.windows.data_end`),
    so historical or generated logs get a meaningful "last week" instead of an empty one; every
    output states the window (:meth:`agent_pipelines.windows.Window.describe`). ``error_loops`` holds
    the attempts that had an error loop (``attempt_id`` column; see :func:`read_error_loop_alerts`,
    :func:`detect_error_loops`).
    """
    frame = sessions.lazy().collect()
    last_week = Window(data_end(frame) if now is None else now, 7)
    loops = (
        set(error_loops["attempt_id"].to_list()) if error_loops is not None and error_loops.height else set()
    )
    windows = {
        "value": frame,
        "last_7d": last_week.sessions(frame),
        "previous_7d": last_week.previous().sessions(frame),
    }
    values = {name: _six(part, loops) for name, part in windows.items()}
    rows = []
    for t in TARGETS:
        value = values["value"][t.metric]
        last, prev = values["last_7d"][t.metric], values["previous_7d"][t.metric]
        met = None if value is None else (value > t.target if t.comparator == ">" else value < t.target)
        rows.append(
            {
                "metric": t.metric,
                "label": t.label,
                "value": value,
                "last_7d": last,
                "previous_7d": prev,
                "wow_change": None if last is None or prev is None else last - prev,
                "target": t.target,
                "comparator": t.comparator,
                "met": met,
                "unit": t.unit,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "metric": pl.String(),
            "label": pl.String(),
            "value": pl.Float64(),
            "last_7d": pl.Float64(),
            "previous_7d": pl.Float64(),
            "wow_change": pl.Float64(),
            "target": pl.Float64(),
            "comparator": pl.String(),
            "met": pl.Boolean(),
            "unit": pl.String(),
        },
        orient="row",
    )


def format_metric(value: float | None, unit: str, *, signed: bool = False) -> str:
    """A metric value as people read it: ``82.2%``, ``1.45``, ``$0.052``, ``2.1 min``."""
    if value is None:
        return "–"
    sign = "+" if signed and value > 0 else ""
    if unit == "%":
        return f"{sign}{value * 100:.1f}%" if not signed else f"{sign}{value * 100:.1f} pp"
    if unit == "$":
        return f"{sign}${value:.3f}" if value >= 0 else f"-${-value:.3f}"
    if unit == "min":
        return f"{sign}{value / 60000:.1f} min"
    return f"{sign}{value:.2f}"


def met_mark(met: bool | None) -> str:
    """The pass/fail cell under its "Target met" header: words, no emoji (an emoji-only cell read as
    empty boxes on a machine without an emoji font; the HTML report colours the words instead)."""
    return "no data" if met is None else ("met" if met else "missed")


def success_metrics_markdown(table: pl.DataFrame, window: str | None = None) -> str:
    """The success-metrics table as Markdown (the UI's metadata), its windows stated under it."""
    lines = [
        "| Metric | Value | Target | Target met | Last 7 days | Week over week |",
        "|---|---:|---:|:-:|---:|---:|",
    ]
    for row in table.iter_rows(named=True):
        unit = row["unit"]
        target = f"{row['comparator']}{format_metric(row['target'], unit)}"
        change = format_metric(row["wow_change"], unit, signed=True)
        lines.append(
            f"| {md.escape(row['label'])} | {md.escape(format_metric(row['value'], unit))} "
            f"| {md.escape(target)} | {met_mark(row['met'])} "
            f"| {md.escape(format_metric(row['last_7d'], unit))} | {md.escape(change)} |"
        )
    if window:
        lines += ["", md.escape(window)]
    return "\n".join(lines)


def markdown_table(frame: pl.DataFrame, limit: int = 20, max_chars: int = 80) -> str:
    """A frame as a Markdown table (the first ``limit`` rows), every cell escaped (see
    :mod:`agent_pipelines.markdown`: ``<URL>`` placeholders must survive), for metadata and reports."""
    return md.table(frame, limit=limit, max_chars=max_chars)
