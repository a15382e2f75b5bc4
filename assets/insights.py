"""Error clusters and task insights: thin wiring over ``agent_pipelines.analytics.errors`` and ``.insights``.

Two per-day assets do the work that depends only on a day's events, once per day partition:
``error_events`` (the day's errors with their message templates: the regex work of clustering) and
``task_events`` (its follow-ups and status changes). The unpartitioned assets combine them: a
cluster's identity comes from all the data (a template joins the fingerprint it carries
*elsewhere*), and a task's attempts span days, but that part is group-bys and joins over small
tables, so a new day costs about that day.

``error_occurrences`` (one row per error event with its cluster) is the shared input of the cluster
table, the backlog, the planning heuristics, the correlation and the weekly report, so all of them
agree on which error belongs to which cluster.
"""

from typing import cast

import dagster as dg
import polars as pl

from agent_pipelines.analytics import errors, insights
from agent_pipelines.analytics.metrics import markdown_table
from agent_pipelines.core.inherit import inherit_into
from agent_pipelines.core.windows import Window, all_days, data_end
from agent_pipelines.orchestration import ui_metadata as ui
from agent_pipelines.orchestration.links import files_url
from agent_pipelines.orchestration.log_store import LogStore
from agent_pipelines.text import markdown as md
from agent_pipelines.text.redaction import redact
from assets.events import daily_table_asset, per_day, table_asset

GA_TARGET = 0.95  # grouping accuracy the cluster check asks for on generated logs
INSIGHT_EVENT_TYPES = ("status_change", "followup_sent")
# attempt_id: a follow-up written without its task gets it from its attempt (core.inherit)
INSIGHT_EVENT_COLUMNS = (
    "timestamp",
    "event_type",
    "attempt_id",
    "task_id",
    "new_status",
    "reason",
    "message",
)
TASK_EVENT_COLUMNS = (*INSIGHT_EVENT_COLUMNS, "day")


def task_events_of(events: pl.LazyFrame) -> pl.DataFrame:
    """The few events the task insights read besides sessions and errors: follow-ups, status changes
    (with the task of their attempt's session start where they lack it)."""
    rows = events.filter(pl.col("event_type").is_in(INSIGHT_EVENT_TYPES)).select(TASK_EVENT_COLUMNS).collect()
    return inherit_into(rows, events)


def insight_events(task_events: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    """The columns of :func:`task_events_of` the insights take (from any frame that has them; a
    partition stored before ``attempt_id`` was kept reads it as null)."""
    lazy = task_events.lazy()
    names = lazy.collect_schema().names()
    return lazy.select(
        pl.col(c) if c in names else pl.lit(None, pl.String).alias(c) for c in INSIGHT_EVENT_COLUMNS
    ).collect()


@daily_table_asset("insights")
def task_events(
    context: dg.AssetExecutionContext, cleaned_events: dict[str, pl.LazyFrame]
) -> dg.Output[dict[str, pl.DataFrame]]:
    """The day's follow-ups and status changes (time, type, task, new status, reason, message): what
    the backlog, the planning insights and the weekly report read besides sessions and errors."""
    frames = per_day(context, cleaned_events, task_events_of)
    return dg.Output(
        frames, metadata={"events_by_day": dg.MetadataValue.json({k: v.height for k, v in frames.items()})}
    )


@daily_table_asset("errors")
def error_events(
    context: dg.AssetExecutionContext, cleaned_events: dict[str, pl.LazyFrame]
) -> dg.Output[dict[str, pl.DataFrame]]:
    """The day's error events with their own fingerprint (blank ones dropped) and message template
    (`agent_pipelines.analytics.clustering`): the per-message part of clustering, done once per day."""
    frames = per_day(context, cleaned_events, errors.error_events)
    return dg.Output(
        frames,
        metadata={
            "errors_by_day": dg.MetadataValue.json({k: v.height for k, v in frames.items()}),
            "templates": sum(v["error_template"].n_unique() for v in frames.values() if v.height),
        },
    )


def _md_safe(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Redact free-text columns before they reach the UI."""
    return frame.with_columns(
        [pl.col(c).map_elements(redact, return_dtype=pl.String(), skip_nulls=True) for c in columns]
    )


@table_asset("errors")
def error_occurrences(error_events: pl.LazyFrame) -> dg.Output[pl.DataFrame]:
    """One row per error event with its cluster: the event's `error_fingerprint` when given; else the
    template derived from its message, unified with the fingerprint that template carries elsewhere
    in the data (majority vote) and with templates that differ only in a token of one-off values.
    `cluster_label` is the fingerprint or the template."""
    frame = errors.occurrences_from_errors(error_events)
    fingerprinted = (
        cast(float | None, frame["error_fingerprint"].is_not_null().mean()) if frame.height else None
    )
    return dg.Output(
        frame,
        metadata={
            "errors": frame.height,
            "clusters": frame["cluster_id"].n_unique() if frame.height else 0,
            "with_own_fingerprint": float(fingerprinted) if fingerprinted is not None else None,
            "unified_with_a_fingerprint": frame.filter(
                pl.col("error_fingerprint").is_null() & pl.col("cluster_fingerprint").is_not_null()
            ).height,
        },
    )


@dg.asset_check(
    asset=error_occurrences,
    name="every_error_has_a_cluster",
    description="Every error event has a cluster id, key and template.",
)
def every_error_has_a_cluster(error_occurrences: pl.DataFrame) -> dg.AssetCheckResult:
    missing = error_occurrences.filter(
        pl.any_horizontal(pl.col("cluster_id", "cluster_key", "error_template").is_null())
    ).height
    return dg.AssetCheckResult(
        passed=missing == 0,
        description=f"{missing} errors without a cluster" if missing else "all errors clustered",
        metadata={"unclustered": missing, "errors": error_occurrences.height},
    )


@table_asset("errors")
def error_clusters(log_store: LogStore, error_occurrences: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    """Per error cluster: template, fingerprint, category, occurrences, distinct tasks and attempts,
    executors, first and last seen, a redacted sample message and the daily trend. On generated logs
    (a `ground-truth-errors.jsonl` beside them) the metadata carries the grouping accuracy: the share
    of error messages whose predicted cluster is exactly their true one."""
    table = errors.cluster_table(error_occurrences)
    metadata: dict[str, dg.RawMetadataValue] = {
        "clusters": table.height,
        "errors": error_occurrences.height,
        "window": Window(data_end(error_occurrences, column="timestamp"), None).describe(),
        # Every row traceable: the cluster's id (as in `analyze --error-clustering`) and the
        # latest sessions that hit it, each linked to its replay.
        "top_clusters": dg.MetadataValue.md(
            markdown_table(
                ui.linked(  # the sessions' replays
                    _md_safe(
                        table.select(
                            "cluster_id",
                            "cluster_label",
                            "category",
                            "occurrences",
                            "tasks",
                            "attempts",
                            "example_attempts",
                            "last_seen",
                            "sample_message",
                        ),
                        ["cluster_label"],
                    ),
                    "example_attempts",
                    files_url(log_store.settings),
                    "sessions",
                ),
                limit=15,
                max_chars=70,
            )
        ),
    }
    truth = errors.load_error_truth(log_store.logs_path)
    if truth is not None:
        accuracy = errors.accuracy_against_truth(error_occurrences, truth)
        metadata.update({f"ground_truth/{k}": v for k, v in accuracy.items()})
    return dg.Output(table, metadata=metadata)


@dg.asset_check(
    asset=error_clusters,
    name="grouping_accuracy_vs_ground_truth",
    description=f"On generated logs: grouping accuracy against ground-truth-errors.jsonl is at least "
    f"{GA_TARGET:.0%}. Passes with a note on real logs, which have no ground truth.",
    additional_ins={"error_occurrences": dg.AssetIn("error_occurrences")},
)
def grouping_accuracy_check(
    log_store: LogStore, error_clusters: pl.DataFrame, error_occurrences: pl.DataFrame
) -> dg.AssetCheckResult:
    truth = errors.load_error_truth(log_store.logs_path)
    if truth is None:
        return dg.AssetCheckResult(passed=True, description="no ground truth in the log folder (real logs)")
    accuracy = errors.accuracy_against_truth(error_occurrences, truth)
    ga = float(accuracy["grouping_accuracy"])
    return dg.AssetCheckResult(
        passed=ga >= GA_TARGET and accuracy["judged_events"] > 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"GA {ga:.4f} on {accuracy['judged_events']} labelled errors (target {GA_TARGET})",
        metadata={**accuracy, "clusters_in_table": error_clusters.height},
    )


def task_sessions(tasks: pl.DataFrame, sessions: pl.DataFrame) -> pl.DataFrame:
    """``tasks`` with a ``sessions`` column: the task's latest attempts (to open their replays)."""
    latest = (
        sessions.sort("started_at", descending=True, nulls_last=True)
        .group_by("task_id", maintain_order=True)
        .agg(pl.col("attempt_id").head(3).alias("sessions"))
    )
    return tasks.join(latest, on="task_id", how="left")


@table_asset("insights")
def backlog_tasks(
    log_store: LogStore,
    session_metrics: pl.DataFrame,
    error_occurrences: pl.DataFrame,
    task_events: pl.LazyFrame,
) -> dg.Output[pl.DataFrame]:
    """Tasks with more than 3 attempts or still failing (no success, latest attempt ended without
    one), most attempts first, with root-cause categories (their errors' `error_category`), top error
    clusters, executors, cost and the orchestrator's last status."""
    table = insights.backlog_tasks(session_metrics, error_occurrences, insight_events(task_events))
    base = files_url(log_store.settings)
    preview = task_sessions(table.head(15), session_metrics).select(
        "sessions",
        "task_id",
        "task_title",
        pl.col("reason").str.replace_all("_", " ").str.replace_all("+", " + ", literal=True),
        "status",
        "attempts",
        pl.col("total_cost_usd").round(3),
        pl.col("root_causes")
        .list.eval(
            pl.element().struct.field("category") + ":" + pl.element().struct.field("count").cast(pl.String)
        )
        .list.join(", ")
        .alias("root_causes"),
    )
    return dg.Output(
        table,
        metadata={
            "tasks": table.height,
            "window": all_days(session_metrics),
            "many_attempts": table.filter(pl.col("reason").str.contains("many_attempts")).height,
            "still_failing": table.filter(pl.col("still_failing")).height,
            "backlog": dg.MetadataValue.md(
                markdown_table(
                    ui.linked(_md_safe(preview, ["task_title"]), "sessions", base, "sessions"), limit=15
                )
            ),
        },
    )


@table_asset("insights")
def task_planning_insights(
    log_store: LogStore,
    session_metrics: pl.DataFrame,
    error_occurrences: pl.DataFrame,
    task_events: pl.LazyFrame,
) -> dg.Output[pl.DataFrame]:
    """The original analytics CLI's planning heuristics, one row per task and rule that fires, with evidence:
    missing dependency setup, missing environment setup or API key, auth problems, scope creep,
    complexity mismatch. Each rule is documented in `agent_pipelines.analytics.insights.RULES` (and in this
    asset's metadata)."""
    table = insights.task_planning_insights(session_metrics, error_occurrences, insight_events(task_events))
    base = files_url(log_store.settings)
    counts = table.group_by("rule").agg(
        pl.len().alias("tasks"), (~pl.col("succeeded")).sum().alias("failed_tasks")
    )
    by_rule = {r["rule"]: (r["tasks"], r["failed_tasks"]) for r in counts.iter_rows(named=True)}
    rules_md = "\n".join(
        f"- **{md.escape(r.name)}** ({by_rule.get(r.name, (0, 0))[0]} tasks, "
        f"{by_rule.get(r.name, (0, 0))[1]} never succeeded) — {md.escape(r.improvement)}. "
        f"Fires on {md.escape(r.when)}."
        for r in insights.RULES
    )
    preview = task_sessions(table.head(20), session_metrics).select(
        "sessions", "task_id", "task_title", "rule", "improvement", "evidence"
    )
    return dg.Output(
        table,
        metadata={
            "insights": table.height,
            "tasks": table["task_id"].n_unique() if table.height else 0,
            "window": all_days(session_metrics),
            "rules": dg.MetadataValue.md(rules_md),
            "preview": dg.MetadataValue.md(
                markdown_table(
                    ui.linked(_md_safe(preview, ["task_title", "evidence"]), "sessions", base, "sessions"),
                    limit=20,
                    max_chars=90,
                )
            ),
        },
    )


@table_asset("insights")
def error_correlation(
    session_metrics: pl.DataFrame, error_occurrences: pl.DataFrame
) -> dg.Output[pl.DataFrame]:
    """Which error clusters go with which task characteristics (executor, model, prompt type, task
    title keywords): per pair, the share of attempts with the characteristic that hit the cluster,
    the cluster's base rate over all attempts and their ratio (lift), with support counts. Pairs
    with fewer than 5 attempts having both, or fewer than 10 having the characteristic, are left out."""
    table = insights.correlation(session_metrics, error_occurrences)
    preview = table.head(15).select(
        "cluster_label",
        "dimension",
        "value",
        "support",
        pl.col("rate").round(3),
        pl.col("base_rate").round(3),
        pl.col("lift").round(2),
    )
    return dg.Output(
        table,
        metadata={
            "pairs": table.height,
            "window": all_days(session_metrics),
            "min_support": insights.MIN_SUPPORT,
            "min_group": insights.MIN_GROUP,
            "strongest": dg.MetadataValue.md(markdown_table(_md_safe(preview, ["cluster_label"]), limit=15)),
        },
    )
