"""The weekly report's numbers: one :class:`WeeklyReport` computed once from the shared tables.

:func:`build_weekly_report` takes the same tables every other view uses (sessions, error occurrences,
events) and the library functions that compute them (``metrics``, ``errors``, ``insights``); the
renderers in :mod:`agent_pipelines.analytics.report.render` and
:mod:`agent_pipelines.analytics.report.charts` only
format what is here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl

from agent_pipelines.analytics import errors as errors_lib
from agent_pipelines.analytics import insights
from agent_pipelines.analytics import metrics as metrics_lib
from agent_pipelines.core.windows import SESSION_RULE, Window

TOP_CLUSTERS = 5
TOP_TASKS = 10


@dataclass
class WeeklyReport:
    """Everything the three renderings show, computed once."""

    week_start: date
    week_end: date  # exclusive
    generated_at: datetime
    success: pl.DataFrame  # metric, value, target, met, previous, change (from metrics.success_metrics)
    executors: pl.DataFrame  # metrics.executor_comparison of the week
    clusters: pl.DataFrame  # errors.cluster_table of the week, top TOP_CLUSTERS
    trend: pl.DataFrame  # errors.daily_trend of those clusters over the week's days
    cost_per_day: pl.DataFrame  # day, cost_usd, sessions
    backlog: pl.DataFrame  # insights.backlog_tasks, top TOP_TASKS
    planning: pl.DataFrame  # insights.task_planning_insights, failed tasks, top TOP_TASKS tasks
    totals: dict[str, Any] = field(default_factory=dict)
    partial: bool = False  # the week has not ended yet: never compared as if complete
    data_until: datetime | None = None  # for a partial week: the moment its numbers stop

    @property
    def label(self) -> str:
        last = self.week_end - timedelta(days=1)
        text = f"week of {self.week_start.isoformat()} – {last.isoformat()}"
        if self.partial and self.data_until is not None:
            text += f" (partial: to {self.data_until.strftime('%Y-%m-%d %H:%M')} UTC)"
        return text

    @property
    def window(self) -> str:
        """The report's windows, stated as every output states them (:mod:`agent_pipelines.core.windows`)."""
        if self.partial and self.data_until is not None:
            until = self.data_until.strftime("%Y-%m-%d %H:%M")
            return (
                f"Week of {self.week_start.isoformat()} so far: to {until} UTC ({SESSION_RULE}); "
                "a partial week is not compared with the week before."
            )
        return (
            f"Week of {self.week_start.isoformat()}: {Window.week(self.week_start).describe()}, compared "
            f"with the 7 days before ({SESSION_RULE})."
        )


def _in_window(col: str, start: date, end: date) -> pl.Expr:
    lo = datetime(start.year, start.month, start.day, tzinfo=UTC)
    hi = datetime(end.year, end.month, end.day, tzinfo=UTC)
    return (pl.col(col) >= lo) & (pl.col(col) < hi)


def build_weekly_report(
    sessions: pl.DataFrame,
    occurrences: pl.DataFrame,
    events: pl.DataFrame | None,
    week_start: date,
    *,
    error_loops: pl.DataFrame | None = None,
    generated_at: datetime | None = None,
    now: datetime | None = None,
) -> WeeklyReport:
    """The report on the ISO week starting ``week_start`` (a Monday), with week-over-week changes.

    Sessions belong to the week they *started* in; errors to the week they happened in. Backlog and
    planning consider every attempt started before the week ended, for tasks active during the week:
    "still failing" is judged as of the report's week, not as of today. ``error_loops`` are the
    attempts with an error loop (``metrics.read_error_loop_alerts`` or ``metrics.detect_error_loops``).
    A week that has not ended at ``now`` is *partial*: labelled so, and its week-over-week changes are
    left out (a Monday morning is not a week to compare with the last one).
    """
    week_end = week_start + timedelta(days=7)
    prev_start = week_start - timedelta(days=7)
    week_sessions = sessions.filter(_in_window("started_at", week_start, week_end))
    prev_sessions = sessions.filter(_in_window("started_at", prev_start, week_start))
    week_occ = occurrences.filter(_in_window("timestamp", week_start, week_end))
    week_events = events.filter(pl.col("timestamp") < _midnight(week_end)) if events is not None else None

    # success_metrics' "last 7 days" before ``now`` is exactly this week when now = the week's end.
    two_weeks = pl.concat([prev_sessions, week_sessions], how="vertical")
    success = metrics_lib.success_metrics(
        two_weeks, now=Window.week(week_start).end, error_loops=error_loops
    ).with_columns(
        pl.when(pl.col("last_7d").is_null())
        .then(None)
        .when(pl.col("comparator") == ">")
        .then(pl.col("last_7d") > pl.col("target"))
        .otherwise(pl.col("last_7d") < pl.col("target"))
        .alias("met")
    )
    executors = metrics_lib.executor_comparison(week_sessions)
    clusters = errors_lib.cluster_table(week_occ).head(TOP_CLUSTERS)
    days = [week_start + timedelta(days=i) for i in range(7)]
    trend = _week_trend(week_occ, clusters["cluster_id"].to_list(), days)
    cost_per_day = (
        pl.DataFrame({"day": days})
        .join(
            week_sessions.group_by(pl.col("started_at").dt.date().alias("day")).agg(
                pl.col("cost_usd").sum().alias("cost_usd"), pl.len().alias("sessions")
            ),
            on="day",
            how="left",
        )
        .with_columns(pl.col("cost_usd").fill_null(0.0), pl.col("sessions").fill_null(0))
        .sort("day")
    )
    active_tasks = week_sessions["task_id"].drop_nulls().unique().to_list()
    upto = sessions.filter(pl.col("started_at") < _midnight(week_end))
    upto_occ = occurrences.filter(pl.col("timestamp") < _midnight(week_end))
    backlog = insights.backlog_tasks(upto, upto_occ, week_events).filter(
        pl.col("task_id").is_in(active_tasks)
    )
    planning = insights.task_planning_insights(upto, upto_occ, week_events, failed_only=True).filter(
        pl.col("task_id").is_in(active_tasks)
    )
    top_planning_tasks = planning["task_id"].unique(maintain_order=True).head(TOP_TASKS).to_list()
    partial = now is not None and now < _midnight(week_end)
    if partial:
        success = success.with_columns(pl.lit(None, pl.Float64()).alias("wow_change"))
    closed = week_sessions.filter(~pl.col("is_open"))
    totals = {
        "sessions": week_sessions.height,
        "open_sessions": week_sessions.height - closed.height,
        "tasks": len(active_tasks),
        "errors": week_occ.height,
        "clusters": week_occ["cluster_id"].n_unique(),
        "cost_usd": float(week_sessions["cost_usd"].sum() or 0.0),
        "backlog_tasks": backlog.height,
    }
    return WeeklyReport(
        week_start=week_start,
        week_end=week_end,
        generated_at=generated_at or datetime.now(UTC),
        success=success,
        executors=executors,
        clusters=clusters,
        trend=trend,
        cost_per_day=cost_per_day,
        backlog=backlog.head(TOP_TASKS),
        planning=planning.filter(pl.col("task_id").is_in(top_planning_tasks)),
        totals=totals,
        partial=partial,
        data_until=now if partial else None,
    )


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _week_trend(occ: pl.DataFrame, cluster_ids: list[str], days: list[date]) -> pl.DataFrame:
    sub = occ.filter(pl.col("cluster_id").is_in(cluster_ids))
    labels = sub.select("cluster_id", "cluster_label").unique("cluster_id")
    counts = sub.group_by("cluster_id", "day").len("count")
    return (
        labels.join(pl.DataFrame({"day": days}), how="cross")
        .join(counts, on=["cluster_id", "day"], how="left")
        .with_columns(pl.col("count").fill_null(0).cast(pl.UInt32()))
        .sort("cluster_id", "day")
    )
