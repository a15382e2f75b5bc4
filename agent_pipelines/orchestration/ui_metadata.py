"""Dagster metadata people can read: formatted headline numbers, described columns, small tables.

An asset page should answer at a glance: the headline numbers come first, formatted as people read
them (``62.4%``, ``$63.14``, ``1,500``) — raw floats (``0.6239870340356564``) stay available under a
``*_value`` key for the Plots tab, which plots numeric metadata across materializations and
partitions. Every column of every table has a description (:data:`COLUMN_DESCRIPTIONS`), shown in
the UI's column schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import dagster as dg
import polars as pl

from agent_pipelines.analytics.replay import human_duration
from agent_pipelines.live.alerts_table import counts_by_type, counts_by_type_and_day
from agent_pipelines.orchestration.links import replay_link
from agent_pipelines.text import markdown as md

# One description per column name, shared by every table that has the column.
COLUMN_DESCRIPTIONS: dict[str, str] = {
    "event_id": "Stable id of the event line (hash of its content): a line written twice counts once",
    "timestamp": "When it happened (UTC)",
    "day": "UTC day",
    "attempt_id": "The attempt (one agent session, restarts included)",
    "session_id": "The orchestrator's session id, when it gave one",
    "task_id": "The task the attempt works on",
    "task_title": "The task's title",
    "task_description": "The task's description",
    "project_id": "The orchestrator's project",
    "event_type": "session_start, session_end, tool_call, tool_result, error, followup_sent, status_change",
    "executor": "Agent that ran the attempt (CODEX, CLAUDE_CODE, COPILOT, ...)",
    "executor_variant": "Executor variant, when given",
    "model": "Model the executor used",
    "branch": "Git branch of the attempt",
    "base_branch": "Branch the attempt starts from",
    "commits_ahead": "Commits ahead of the base branch",
    "commits_behind": "Commits behind the base branch",
    "elapsed_ms": "Milliseconds since the attempt's session_start",
    "prompt_type": "initial, followup or retry",
    "prompt": "The prompt sent to the agent",
    "followup_reason": "Why a follow-up or retry session started",
    "message": "Follow-up message",
    "reason": "Reason given for a follow-up or status change",
    "completion_status": "success, failed, timeout or interrupted (empty while open)",
    "duration_ms": "Session duration in milliseconds",
    "total_tokens": "Tokens used",
    "cost_usd": "Cost in US dollars",
    "outcome": "The orchestrator's outcome object (JSON)",
    "error_message": "Error message as logged (redacted in previews)",
    "error_fingerprint": "Fingerprint the orchestrator gave the error",
    "error_category": "Category the orchestrator gave the error",
    "stack_trace": "Stack trace, when logged",
    "tool_name": "Tool the agent called",
    "tool_params": "Tool parameters (JSON)",
    "success": "Whether the tool call succeeded",
    "old_status": "Status before the change",
    "new_status": "Status after the change",
    "source_file": "Log file the line came from",
    "line_number": "Line number in its file",
    "started_at": "First session_start of the attempt (UTC)",
    "ended_at": "Last session_end of the attempt (UTC); empty while open",
    "last_event_at": "Latest event of the attempt (UTC)",
    "is_open": "No session_end after the last session_start: neither success nor failure yet",
    "succeeded": "completion_status == success",
    "error_count": "Errors logged by the attempt",
    "followup_count": "Follow-ups sent",
    "tool_call_count": "Tool calls",
    "restarts": "Follow-up or retry session starts",
    "attempt_number": "1 for the task's first attempt, 2 for its second, ...",
    "is_first_shot": "The task's first attempt, and it succeeded",
    "sessions": "Sessions (attempts)",
    "closed_sessions": "Sessions with an outcome",
    "open_sessions": "Sessions still running",
    "first_shot": "Successes on a task's first attempt",
    "success_pct": "Successes / closed sessions, %",
    "first_shot_pct": "First-attempt successes / successes, %",
    "avg_duration_s": "Average duration of closed sessions, seconds",
    "avg_cost_usd": "Average cost per session, USD",
    "total_cost_usd": "Total cost, USD",
    "avg_tokens": "Average tokens per session",
    "errors": "Errors",
    "errors_per_session": "Errors per session",
    "metric": "Metric id",
    "label": "Metric",
    "value": "The metric over every day (success metrics); the characteristic's value (correlation)",
    "last_7d": "Value over the last 7 complete UTC days",
    "previous_7d": "Value over the 7 UTC days before those",
    "wow_change": "Last 7 days minus the previous 7 (week over week)",
    "target": "The original system's target",
    "comparator": "> or <: which side of the target is good",
    "met": "Value is on the good side of the target",
    "unit": "% (a 0-1 ratio), x, $ or min",
    "cluster_id": "Stable id of the error cluster",
    "cluster_label": "Fingerprint, or the message template with variable parts as <PLACEHOLDERS>",
    "error_template": "Message with variable parts replaced by <URL>, <PATH>, <UUID>, <NUM>, ...",
    "category": "Error category",
    "occurrences": "Errors in the cluster",
    "tasks": "Distinct tasks",
    "attempts": "Distinct attempts",
    "executors": "Executors involved",
    "first_seen": "First occurrence (UTC)",
    "last_seen": "Latest occurrence (UTC)",
    "sample_message": "One message of the cluster (redacted)",
    "type": "Alert type (the original analyzer's names)",
    "severity": "high, medium or low",
    "recommendation": "What the original analyzer recommended doing",
    "summary": "What happened, in one line",
    "sample": "A sample error message (error loops; redacted)",
    "alert_id": "Stable id: the same incident found twice has one id",
    "details": "The alert type's own fields (JSON)",
    "models": "Models used that day",
    "data": "Payload fields that are not columns of their own (JSON)",
    "fingerprint": "Fingerprint shared by the cluster's errors, when they carry one",
    "template": "The message template: variable parts as <URL>, <PATH>, <UUID>, <NUM>, ...",
    "share": "Share of all errors",
    "fingerprinted_share": "Share of the cluster's errors that carried a fingerprint",
    "trend": "Errors per day",
    "tokens": "Tokens used",
    "cluster_fingerprint": "The error's own fingerprint, else the one its template carries elsewhere",
    "cluster_key": "What the cluster groups by: the fingerprint, else the message template",
    "status": "The orchestrator's last status for the task, else its latest attempt's outcome, or open",
    "still_failing": "No attempt succeeded and the latest one ended without success",
    "followups": "Follow-ups sent over the task's attempts",
    "root_causes": "Categories of the task's errors with counts, most frequent first",
    "top_clusters": "The task's most frequent error clusters",
    "rule": "The planning rule that fired (agent_pipelines.analytics.insights.RULES)",
    "improvement": "What the rule suggests changing in the task's planning",
    "evidence": "What made the rule fire",
    "dimension": "Task characteristic: executor, model, prompt_type or title_keyword",
    "support": "Attempts with the characteristic that hit the cluster",
    "group_attempts": "Attempts with the characteristic",
    "cluster_attempts": "Attempts that hit the cluster",
    "total_attempts": "All attempts",
    "rate": "support / group_attempts: how often attempts with the characteristic hit the cluster",
    "base_rate": "cluster_attempts / total_attempts: how often any attempt hits the cluster",
    "lift": "rate / base_rate: above 1, the characteristic goes with the cluster",
    "example_attempts": "The latest attempts that hit the cluster (their sessions)",
    "duration": "Session duration",
    "session": "The attempt, linked to its replay",
}


def describe(name: str) -> str:
    """A column's description as Markdown (the UI renders it so): escaped through the one helper, so
    ``<URL>`` stays visible and "> or <" is text, not a blockquote."""
    return md.escape(COLUMN_DESCRIPTIONS.get(name, COLUMN_DESCRIPTIONS.get(name.split("/")[0], "")))


def describe_columns(schema: Mapping[str, Any]) -> dg.TableSchema:
    """A column schema with a description for every column (unknown names say so)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, str(dtype), description=describe(name)) for name, dtype in schema.items()
        ]
    )


def session_links(base: str, attempt_ids: list[str] | None, limit: int = 3) -> md.Raw:
    """Markdown links from attempt ids to their replays under ``base`` (the first ``limit``)."""
    return md.Raw(", ".join(replay_link(base, a) for a in (attempt_ids or [])[:limit] if a))


def linked(frame: pl.DataFrame, column: str, base: str, to: str = "session") -> pl.DataFrame:
    """``frame`` with ``column`` (an attempt id, or a list of them) replaced by links to the replays
    under ``base`` (:func:`agent_pipelines.orchestration.links.files_url`), named ``to`` (a column of
    Markdown that :func:`agent_pipelines.text.markdown.table` keeps as is)."""
    values = frame[column].to_list()
    links = [session_links(base, v if isinstance(v, list) else [v]) for v in values]
    at = frame.columns.index(column)
    out = frame.drop(column)
    return out.insert_column(at, pl.Series(to, links, dtype=pl.Object))


def with_durations(frame: pl.DataFrame, column: str = "duration_ms") -> pl.DataFrame:
    """Milliseconds as people read them (``12 min 05 s``), in a ``duration`` column."""
    if column not in frame.columns:
        return frame
    return frame.with_columns(
        pl.col(column).map_elements(human_duration, return_dtype=pl.String()).alias(column)
    ).rename({column: "duration"})


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def table_metadata(frame: pl.DataFrame, limit: int = 50) -> dg.TableMetadataValue:
    """A small frame as Dagster table metadata (a sortable table in the UI)."""
    types = {pl.Boolean: "bool", pl.Float64: "float", pl.Float32: "float", pl.String: "string"}
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn(
                name,
                types.get(dtype.base_type(), "int" if dtype.is_integer() else "string"),
                description=describe(name),
            )
            for name, dtype in frame.schema.items()
        ]
    )
    rows = frame.head(limit).iter_rows(named=True)
    records = [dg.TableRecord({k: _plain(v) for k, v in row.items()}) for row in rows]
    return dg.MetadataValue.table(records=records, schema=schema)


def rounded(numbers: Mapping[str, Any], digits: int = 4) -> dict[str, Any]:
    """Numbers for the Plots tab as people read them: ``63.1357``, not ``63.13570000000001``."""
    return {k: round(v, digits) if isinstance(v, float) else v for k, v in numbers.items()}


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def usd(value: float | None) -> str:
    return "–" if value is None else f"${value:,.2f}"


def count(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


ALERT_TABLE_COLUMNS = (
    "timestamp", "type", "severity", "attempt_id", "task_id", "executor", "recommendation", "summary",
    "sample",
)  # fmt: skip


def alerts_metadata(
    table: pl.DataFrame, window: str, base: str, limit: int = 100, fates: pl.DataFrame | None = None
) -> dict[str, Any]:
    """The alerts of a day or of a detector run: headline counts, the table, counts by type and day,
    and each alert's session linked to its replay under ``base``.

    ``fates`` (alert_id, delivery, action: :func:`agent_pipelines.live.alert_status.fates`) adds what
    became of each alert — silenced, delivered to which receivers, its action — to the table."""
    by_type = counts_by_type(table)
    shown = table.select(ALERT_TABLE_COLUMNS).with_columns(pl.col("sample").str.slice(0, 200))
    sessions = linked(
        table.select("timestamp", "type", "severity", "attempt_id", "summary").head(30), "attempt_id", base
    )
    extra: dict[str, Any] = {}
    if fates is not None and "alert_id" in table.columns:
        joined = table.join(fates, on="alert_id", how="left")
        shown = joined.select(*ALERT_TABLE_COLUMNS, "delivery", "action").with_columns(
            pl.col("sample").str.slice(0, 200)
        )
        delivery = joined["delivery"].fill_null("")
        extra = {
            "alerts_silenced": int(delivery.str.starts_with("silenced").sum()),
            "alerts_delivered": int(delivery.str.starts_with("delivered").sum()),
            "alerts_acted_on": int(
                joined["action"].is_in(["succeeded", "failed", "gave_up", "interrupted"]).sum()
            ),
        }
    return {
        **extra,
        "dagster/row_count": dg.MetadataValue.int(table.height),
        "alerts": dg.MetadataValue.int(table.height),
        "alert_sessions": dg.MetadataValue.md(md.table(sessions, limit=30, max_chars=120)),
        "window": window,
        "by_type": ", ".join(f"{k}: {v}" for k, v in by_type.items()) or "none",
        "alerts_table": table_metadata(shown, limit=limit),
        "alerts_by_type_and_day": table_metadata(counts_by_type_and_day(table), limit=60),
        **{f"alerts/{k}": dg.MetadataValue.int(v) for k, v in by_type.items()},
    }


__all__ = [
    "COLUMN_DESCRIPTIONS",
    "alerts_metadata",
    "count",
    "describe",
    "describe_columns",
    "linked",
    "pct",
    "session_links",
    "table_metadata",
    "usd",
    "with_durations",
]
