"""Session metrics and what is computed from them: executor/model comparison, success metrics.

Incremental: ``session_parts`` summarizes each day's events per attempt once per day partition
(``metrics.session_parts``: mergeable minima, maxima, sums); the unpartitioned ``session_metrics``
merges the parts of every day (``metrics.sessions_from_parts``) — one small row per attempt and
day instead of every event again, so a new day costs about that day. An attempt that spans two days
(a session that crosses midnight) has a part on each and is one row after the merge. All numbers
come from ``agent_pipelines.analytics.metrics``, the same functions the CLI calls (its all-at-once
``session_metrics`` is the same merge over one part per attempt; tests check both agree).
"""

from datetime import date
from typing import Any, cast

import dagster as dg
import polars as pl

from agent_pipelines.analytics import metrics, usage
from agent_pipelines.analytics.metrics import markdown_table
from agent_pipelines.core.windows import SESSION_RULE, Window, all_days, data_end
from agent_pipelines.orchestration import ui_metadata as ui
from agent_pipelines.orchestration.links import files_url
from agent_pipelines.orchestration.log_store import LogStore
from assets.events import daily_table_asset, per_day, table_asset

SESSION_PREVIEW = (
    "attempt_id",
    "task_title",
    "executor",
    "model",
    "started_at",
    "duration_ms",
    "completion_status",
    "cost_usd",
    "error_count",
    "attempt_number",
)
FAILED_SHOWN = 20  # the latest failed sessions shown, each linked to its replay


def table_metadata(frame: pl.DataFrame, limit: int = 50) -> dg.TableMetadataValue:
    """A small frame as Dagster table metadata (rendered as a sortable table in the UI)."""

    def plain(value: Any) -> Any:
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, float):
            return round(value, 4)
        return str(value)

    types = {pl.Boolean: "bool", pl.Float64: "float", pl.Float32: "float", pl.String: "string"}
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn(name, types.get(dtype.base_type(), "int" if dtype.is_integer() else "string"))
            for name, dtype in frame.schema.items()
        ]
    )
    records = [
        dg.TableRecord({k: plain(v) for k, v in row.items()})
        for row in frame.head(limit).iter_rows(named=True)
    ]
    return dg.MetadataValue.table(records=records, schema=schema)


@daily_table_asset("sessions")
def session_parts(
    context: dg.AssetExecutionContext, cleaned_events: dict[str, pl.LazyFrame]
) -> dg.Output[dict[str, pl.DataFrame]]:
    """Per attempt active that day: its first and last event times, task/executor/model with when
    they were first seen, first and last session start, last session end with its status, duration,
    cost and tokens, and counts of errors, follow-ups, tool calls and restart prompts. What
    `session_metrics` merges across days."""
    parts = per_day(context, cleaned_events, metrics.session_parts)
    return dg.Output(
        parts,
        metadata={
            "attempts_by_day": dg.MetadataValue.json({k: v.height for k, v in parts.items()}),
            "crossing_in": sum(
                v.filter(pl.col("first_at").dt.date() < date.fromisoformat(k)).height
                for k, v in parts.items()
            ),
        },
    )


@table_asset("sessions")
def session_metrics(log_store: LogStore, session_parts: pl.LazyFrame) -> dg.Output[pl.DataFrame]:
    """One row per attempt: task, executor, model, prompt type, start, end, duration, completion
    status, cost, tokens, errors, follow-ups, tool calls, restarts, attempt number within its task
    and first-shot flag. Built over all days at once, so a session that crosses midnight is one row;
    a session without a `session_end` is open (`is_open`), not failed. Success is
    `completion_status == "success"` everywhere."""
    frame = metrics.sessions_from_parts(session_parts)
    closed = frame.filter(~pl.col("is_open"))
    success_rate = cast(float | None, closed["succeeded"].mean()) if closed.height else None
    latest = frame.sort("started_at", descending=True, nulls_last=True)
    base = files_url(log_store.settings)
    preview = ui.linked(ui.with_durations(latest.select(SESSION_PREVIEW).head(15)), "attempt_id", base)
    failed = (
        latest.filter(~pl.col("is_open") & ~pl.col("succeeded")).select(SESSION_PREVIEW).head(FAILED_SHOWN)
    )
    failed_preview = ui.linked(ui.with_durations(failed), "attempt_id", base)
    cost = float(frame["cost_usd"].sum()) if frame.height else 0.0
    return dg.Output(
        frame,
        metadata={
            # Headline first, formatted as people read it; raw numbers below for the Plots tab.
            "success_rate": ui.pct(success_rate),
            "sessions": ui.count(frame.height),
            "total_cost": ui.usd(cost),
            "window": all_days(frame),
            "open_sessions": frame.height - closed.height,
            "tasks": frame["task_id"].n_unique() if frame.height else 0,
            "latest_sessions": dg.MetadataValue.md(markdown_table(preview, limit=15)),
            "failed_sessions": closed.height - int(closed["succeeded"].sum()) if closed.height else 0,
            "failed_sessions_preview": dg.MetadataValue.md(
                markdown_table(failed_preview, limit=FAILED_SHOWN)
            ),
            "success_rate_value": round(float(success_rate), 6) if success_rate is not None else None,
            "sessions_value": frame.height,
            "total_cost_usd": round(cost, 4),
        },
    )


def success_window(sessions: pl.DataFrame) -> str:
    """The success metrics' windows: the value over every day, the last 7 days against the 7 before."""
    end = data_end(sessions)
    return (
        f"Value: {Window(end, None).describe()}; {Window(end, 7).describe()}, compared with the 7 days "
        f"before ({SESSION_RULE})."
    )


DAILY_SHOWN = 14
DAILY_ROWS_SHOWN = 30


@table_asset("insights")
def daily_usage(session_metrics: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    """Daily cost and tokens by model and executor, as `ccusage daily` shows them: per UTC day a
    session ended (when its cost is known), the models used, sessions, successes, tokens and cost."""
    table = usage.daily_usage(session_metrics)
    totals = usage.daily_totals(table)
    return dg.Output(
        table,
        metadata={
            "total_cost": ui.usd(float(table["cost_usd"].sum()) if table.height else 0.0),
            "days": totals.height,
            "window": f"{all_days(session_metrics)}; sessions by the UTC day they ended (open ones "
            "have no cost yet)",
            # A page a person reads, not the whole history (that is the table itself): two weeks of
            # days, and the newest rows by day and model (100 rows made a 7,000-pixel page).
            "daily": dg.MetadataValue.md(usage.ccusage_markdown(table, limit=DAILY_SHOWN)),
            "by_day_and_model": ui.table_metadata(table.sort("day", descending=True), limit=DAILY_ROWS_SHOWN),
        },
    )


@dg.asset_check(
    asset=session_metrics,
    name="one_consistent_row_per_attempt",
    description="attempt_id is unique; open sessions have no status and are not counted as failed; "
    "attempt numbers start at 1.",
)
def session_metrics_consistent(session_metrics: pl.DataFrame) -> dg.AssetCheckResult:
    frame = session_metrics
    problems = {
        "duplicate attempt_id": frame.height - frame["attempt_id"].n_unique() if frame.height else 0,
        "open with a completion_status": frame.filter(
            pl.col("is_open") & pl.col("completion_status").is_not_null()
        ).height,
        "closed without a completion_status": frame.filter(
            ~pl.col("is_open") & pl.col("completion_status").is_null()
        ).height,
        "succeeded but not success": frame.filter(
            pl.col("succeeded") & (pl.col("completion_status") != "success").fill_null(True)
        ).height,
        "attempt_number below 1": frame.filter(pl.col("attempt_number") < 1).height,
        "negative cost": frame.filter(pl.col("cost_usd") < 0).height,
    }
    bad = {k: v for k, v in problems.items() if v}
    return dg.AssetCheckResult(
        passed=not bad,
        description="; ".join(f"{v} {k}" for k, v in bad.items()) or f"{frame.height:,} attempts consistent",
        metadata={"problems": dg.MetadataValue.json(problems), "rows": frame.height},
    )


def _comparison_output(table: pl.DataFrame, by: str, sessions: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    shown = table.select(
        by,
        "sessions",
        pl.col("success_pct").round(1),
        pl.col("first_shot_pct").round(1),
        pl.col("avg_duration_s").round(1),
        pl.col("avg_cost_usd").round(4),
        pl.col("total_cost_usd").round(2),
        "total_tokens",
        pl.col("errors_per_session").round(2),
    )
    return dg.Output(
        table,
        metadata={
            f"{by}s": table.height,
            "window": all_days(sessions),
            "comparison": table_metadata(shown),  # once: a sortable table (issue 25)
        },
    )


@table_asset("insights")
def executor_comparison(session_metrics: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    """The original analytics CLI's executor table: per executor, sessions, success % (over closed sessions),
    first-shot % (1-attempt completions / completions), average time, average and total cost,
    tokens and errors per session."""
    table = metrics.executor_comparison(session_metrics, by="executor")
    return _comparison_output(table, "executor", session_metrics)


@table_asset("insights")
def model_comparison(session_metrics: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    """The executor table per model: which model succeeds first-shot, at what cost and speed."""
    table = metrics.executor_comparison(session_metrics, by="model")
    return _comparison_output(table, "model", session_metrics)


@table_asset("insights")
def success_metrics(
    context: dg.AssetExecutionContext,
    log_store: LogStore,
    session_metrics: pl.DataFrame,
    error_events: pl.LazyFrame,
) -> dg.Output[pl.DataFrame]:
    """The original analytics CLI's six success metrics — success rate, first-shot success rate,
    average attempts per task, error loop frequency, cost per task, mean time to completion —
    against their targets (>80%, >40%, <2.0, <5%, <$0.10, <5 min), with the last 7 days and the
    week-over-week change.
    Error loops come from the live detector's `agent-alerts.jsonl` when present, else from the same
    rule over the events (4+ errors of one cluster within 10 minutes in one attempt)."""
    loops, source = metrics.error_loops(
        log_store.logs_path, errors=error_events, threshold=log_store.settings.error_loop_threshold
    )
    table = metrics.success_metrics(session_metrics, error_loops=loops)
    met = table.filter(pl.col("met")).height
    context.log.info(f"success metrics: {met}/{table.height} targets met; error loops {source}")
    window = success_window(session_metrics)
    return dg.Output(
        table,
        metadata={
            "targets_met": f"{met}/{table.height}",
            "window": window,
            "error_loops": loops["attempt_id"].n_unique() if loops.height else 0,
            "error_loop_source": source,
            "scorecard": dg.MetadataValue.md(metrics.success_metrics_markdown(table, window)),
            # Each metric as people read it (62.4%, $0.117), then raw for the Plots tab.
            **{
                row["metric"]: metrics.format_metric(row["value"], row["unit"])
                for row in table.iter_rows(named=True)
            },
            **{
                f"{row['metric']}_value": round(row["value"], 6)
                for row in table.iter_rows(named=True)
                if row["value"] is not None
            },
        },
    )
