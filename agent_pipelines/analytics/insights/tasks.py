"""One row per task (attempts, outcome, root causes) and the backlog of tasks that needed many attempts."""

from __future__ import annotations

from typing import cast

import polars as pl

from agent_pipelines.core.contract import TURN_CLOSED_STATUSES, TURN_OPEN_STATUS
from agent_pipelines.core.inherit import from_attempts, inherit_context

BACKLOG_MIN_ATTEMPTS = 3  # the original Node analytics CLI: "tasks with >3 attempts"
UNCATEGORIZED = "uncategorized"


def attributed(rows: pl.DataFrame | None, sessions: pl.DataFrame) -> pl.DataFrame | None:
    """Events or errors with the task (and executor, model) of their attempt where they lack it:
    from the attempt's session start in ``rows``, else from the sessions (which span every day).
    See :mod:`agent_pipelines.core.inherit`."""
    if rows is None:
        return None
    return from_attempts(inherit_context(rows), sessions)


# --------------------------------------------------------------------------------------------
# Task overview: one row per task, shared by the backlog and the planning heuristics
# --------------------------------------------------------------------------------------------


def _root_causes(errors: pl.DataFrame) -> pl.DataFrame:
    """Per task: ``root_causes`` = [{category, count}] most frequent first, and the top clusters."""
    if errors.is_empty():
        return pl.DataFrame(
            schema={
                "task_id": pl.String(),
                "root_causes": pl.List(pl.Struct({"category": pl.String(), "count": pl.UInt32()})),
                "top_clusters": pl.List(pl.String()),
            }
        )
    by_cat = (
        errors.with_columns(pl.col("error_category").fill_null(UNCATEGORIZED).alias("category"))
        .group_by("task_id", "category")
        .len("count")
        .sort(["task_id", "count", "category"], descending=[False, True, False])
        .group_by("task_id", maintain_order=True)
        .agg(pl.struct("category", "count").alias("root_causes"))
    )
    by_cluster = (
        errors.group_by("task_id", "cluster_label")
        .len("count")
        .sort(["task_id", "count", "cluster_label"], descending=[False, True, False])
        .group_by("task_id", maintain_order=True)
        .agg(pl.col("cluster_label").head(3).alias("top_clusters"))
    )
    return by_cat.join(by_cluster, on="task_id", how="left")


def _last_status(events: pl.DataFrame | None) -> pl.DataFrame:
    """The orchestrator's last word on each task (``status_change.new_status``, e.g. manual_review);
    turn markers (``working``, ``awaiting_input``: the agent's turns, not the task's state) are not."""
    schema = {"task_id": pl.String(), "orchestrator_status": pl.String()}
    if events is None or events.is_empty():
        return pl.DataFrame(schema=schema)
    return (
        events.lazy()
        .filter(
            (pl.col("event_type") == "status_change")
            & pl.col("task_id").is_not_null()
            & ~pl.col("new_status").is_in([TURN_OPEN_STATUS, TURN_CLOSED_STATUSES[0]])
        )
        .sort("timestamp")
        .group_by("task_id")
        .agg(pl.col("new_status").last().alias("orchestrator_status"))
        .collect()
    )


def task_overview(
    sessions: pl.DataFrame, errors: pl.DataFrame, events: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per task: attempts, outcome, cost, executors and root-cause categories.

    ``status`` is the orchestrator's last ``status_change`` for the task when there is one (the
    original Node analytics CLI printed e.g. ``manual_review``), else the latest attempt's completion
    status, or ``open``.
    ``still_failing``: no attempt succeeded and the latest attempt ended without success; a task whose
    latest attempt is still running is in progress, not failing.
    """
    errors = cast(pl.DataFrame, attributed(errors, sessions))
    events = attributed(events, sessions)
    s = sessions.filter(pl.col("task_id").is_not_null())
    overview = (
        s.lazy()
        .sort("started_at")
        .group_by("task_id")
        .agg(
            pl.col("task_title").drop_nulls().last().alias("task_title"),
            pl.len().alias("attempts"),
            pl.col("succeeded").any().alias("succeeded"),
            pl.col("is_open").sum().alias("open_attempts"),
            (~pl.col("succeeded") & ~pl.col("is_open")).sum().alias("failed_attempts"),
            pl.when(pl.col("is_open"))
            .then(pl.lit("open"))
            .otherwise(pl.col("completion_status"))
            .last()
            .alias("last_attempt_status"),
            pl.col("is_open").last().alias("last_attempt_open"),
            pl.col("executor").drop_nulls().unique().sort().alias("executors"),
            pl.col("cost_usd").sum().alias("total_cost_usd"),
            pl.col("total_tokens").sum().alias("total_tokens"),
            pl.col("duration_ms").median().alias("median_duration_ms"),
            pl.col("duration_ms").sum().alias("total_duration_ms"),
            pl.col("error_count").sum().alias("errors"),
            pl.col("followup_count").sum().alias("followups"),
            (pl.col("completion_status") == "timeout").sum().alias("timeouts"),
            pl.col("started_at").min().alias("first_seen"),
            pl.col("last_event_at").max().alias("last_seen"),
        )
        .collect()
    )
    overview = overview.with_columns(
        (~pl.col("succeeded") & ~pl.col("last_attempt_open") & (pl.col("failed_attempts") > 0)).alias(
            "still_failing"
        )
    )
    overview = overview.join(_last_status(events), on="task_id", how="left").with_columns(
        pl.coalesce("orchestrator_status", "last_attempt_status").alias("status")
    )
    overview = overview.join(_root_causes(errors), on="task_id", how="left")
    return overview.with_columns(
        pl.col("root_causes").fill_null(pl.lit([], dtype=overview.schema["root_causes"])),
        pl.col("top_clusters").fill_null(pl.lit([], dtype=pl.List(pl.String()))),
    ).sort(["attempts", "total_cost_usd", "task_id"], descending=[True, True, False])


# --------------------------------------------------------------------------------------------
# Backlog
# --------------------------------------------------------------------------------------------


def backlog_tasks(
    sessions: pl.DataFrame,
    errors: pl.DataFrame,
    events: pl.DataFrame | None = None,
    *,
    min_attempts: int = BACKLOG_MIN_ATTEMPTS,
) -> pl.DataFrame:
    """Tasks that need a human look: more than ``min_attempts`` attempts, or still failing.

    ``reason`` says which (``many_attempts``, ``still_failing`` or both). Most attempts first, then
    the most expensive.
    """
    overview = task_overview(sessions, errors, events)
    many = pl.col("attempts") > min_attempts
    return (
        overview.filter(many | pl.col("still_failing"))
        .with_columns(
            pl.when(many & pl.col("still_failing"))
            .then(pl.lit("many_attempts+still_failing"))
            .when(many)
            .then(pl.lit("many_attempts"))
            .otherwise(pl.lit("still_failing"))
            .alias("reason")
        )
        .select(
            "task_id",
            "task_title",
            "reason",
            "status",
            "attempts",
            "succeeded",
            "still_failing",
            "executors",
            "total_cost_usd",
            "errors",
            "followups",
            "root_causes",
            "top_clusters",
            "first_seen",
            "last_seen",
        )
    )
