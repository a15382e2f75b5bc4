"""The weekly report: a weekly-partitioned asset, its job and the Monday 08:00 UTC schedule.

The asset renders :mod:`agent_pipelines.analytics.report` for its ISO week: Markdown into the
materialization's
metadata (the UI renders it), a standalone HTML file with inline SVG charts under
``<data>/reports/``, and — when Telegram is configured — a short summary through the shared outbox.
The outbox key is the week, so a retried or re-materialized report is not posted twice.

Weekly partitions are dynamic (``assets.partitions``): a week exists once it has log days, so the
schedule cannot use ``build_schedule_from_partitioned_job`` (time-window partitions only). It asks
for the previous ISO week's key at each Monday 08:00 UTC tick and skips, saying why, when that week
has no logs.
"""

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import polars as pl

from agent_pipelines.analytics import metrics, report
from agent_pipelines.core import object_store, windows
from agent_pipelines.core.settings import Settings
from agent_pipelines.live.notifiers.format import format_text
from agent_pipelines.orchestration import links
from agent_pipelines.orchestration import ui_metadata as ui
from agent_pipelines.orchestration.log_store import LogStore
from agent_pipelines.orchestration.resources import TelegramResource
from assets.events import OWNERS, analytics_sensor_status
from assets.insights import insight_events
from assets.partitions import LOG_WEEKS, previous_week_key, weekly_partitions

WEEKLY_REPORT_CRON = "0 8 * * 1"  # Monday 08:00
REPORT_EVENT_COLUMNS = (
    "timestamp",
    "attempt_id",
    "event_type",
    "task_id",
    "new_status",
    "reason",
    "message",
    "error_message",
    "error_fingerprint",
)


def telegram_for(log_store: LogStore) -> TelegramResource:
    """Telegram as the edge's settings say (the token itself is read from ``TELEGRAM_BOT_TOKEN`` by
    Dagster's ``EnvVar`` when the report runs).

    Not a required Dagster resource on purpose: every other asset of the domain runs without one, and
    ``agent-pipelines materialize`` builds its resources without Telegram; a report must never fail
    because notifications are not set up.
    """
    return TelegramResource.from_settings(log_store.settings)


def post_summary(
    context: dg.AssetExecutionContext, telegram: TelegramResource, week: str, text: str, data_dir: str
) -> dict[str, int | str]:
    """Queue the summary in the outbox under the week's key and deliver what is pending."""
    if not telegram.configured:
        context.log.warning(
            f"weekly report {week}: Telegram is not configured, summary not posted "
            f"(set {' and '.join(telegram.missing_settings())} to post it)"
        )
        return {"telegram": "not configured"}
    outbox = telegram.get_outbox(data_dir)
    queued = outbox.enqueue_many(f"weekly-report:{week}", format_text(text, title=f"📊 Weekly report {week}"))
    with telegram.get_client() as client:
        result = outbox.deliver(client)
    if result.last_error:
        context.log.warning(f"weekly report: Telegram delivery incomplete: {result.last_error}")
    return {"telegram": "configured", "telegram_queued": queued, "telegram_sent": result.sent}


@dg.asset(
    partitions_def=weekly_partitions,
    group_name="reports",
    owners=OWNERS,
    tags={"domain": "reports"},
    kinds={"html", "markdown"},
    ins={
        "session_metrics": dg.AssetIn(),
        "error_occurrences": dg.AssetIn(),
        "task_events": dg.AssetIn(partition_mapping=dg.AllPartitionMapping()),
        "error_events": dg.AssetIn(partition_mapping=dg.AllPartitionMapping()),
    },
)
def weekly_report(
    context: dg.AssetExecutionContext,
    log_store: LogStore,
    session_metrics: pl.DataFrame,
    error_occurrences: pl.DataFrame,
    task_events: pl.LazyFrame,
    error_events: pl.LazyFrame,
) -> dg.MaterializeResult:
    """The original analytics CLI's weekly report for one ISO week (partition key = its Monday): the
    six success metrics against their targets with the week-over-week change, the executor comparison, the top
    error clusters, the backlog and planning insights for the week's tasks. Rendered as Markdown here
    and as a standalone HTML file with charts (success by executor, cost per day, top clusters' trend)
    under the data folder's `reports/`; posted as a short summary to Telegram when configured."""
    week_start = date.fromisoformat(context.partition_key)
    week_end = week_start + timedelta(days=7)
    events = insight_events(task_events.filter(pl.col("day") < week_end))
    week_errors = error_events.filter(
        (pl.col("day") >= week_start - timedelta(days=8)) & (pl.col("day") < week_end)
    )
    loops, _ = metrics.error_loops(
        log_store.logs_path, errors=week_errors, threshold=log_store.settings.error_loop_threshold
    )
    weekly = report.build_weekly_report(
        session_metrics, error_occurrences, events, week_start, error_loops=loops, now=datetime.now(UTC)
    )
    path = report.write_report(weekly, log_store.data_path)
    # A data folder in a bucket gets the report too (the local copy is the data folder's local part).
    uploaded = object_store.publish(path, log_store.data_location, f"{report.REPORTS_DIR}/{path.name}")
    summary = report.render_summary(weekly, path)
    posted = post_summary(
        context, telegram_for(log_store), context.partition_key, summary, str(log_store.data_path)
    )
    success = weekly.success.filter(pl.col("metric") == "success_rate")["last_7d"]
    rate = success[0] if success.len() else None
    return dg.MaterializeResult(
        metadata={
            "week": weekly.label,
            "window": weekly.window,
            "success_rate": ui.pct(rate),
            "sessions": ui.count(weekly.totals["sessions"]),
            "cost": ui.usd(weekly.totals["cost_usd"]),
            "report": dg.MetadataValue.md(report.render_markdown(weekly)),
            # Opens from the UI: the page as served next to it (`agent-pipelines ui`), or in the bucket.
            "html": dg.MetadataValue.url(
                uploaded or links.report_url(links.files_url(log_store.settings), path.name)
            ),
            "html_file": dg.MetadataValue.path(str(path)),
            "partial_week": weekly.partial,
            "sessions_value": weekly.totals["sessions"],
            "errors": weekly.totals["errors"],
            "cost_usd": round(weekly.totals["cost_usd"], 4),
            "backlog_tasks": weekly.totals["backlog_tasks"],
            **posted,
        }
    )


weekly_report_job = dg.define_asset_job(
    "weekly_report_job",
    selection=[weekly_report],
    description="Materialize one week's report (partition = the Monday of the ISO week).",
)


@dg.schedule(
    cron_schedule=WEEKLY_REPORT_CRON,
    job=weekly_report_job,
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every Monday 08:00 UTC: the report on the ISO week that ended the night before.",
)
def weekly_report_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    moment = context.scheduled_execution_time or datetime.now(UTC)
    week = previous_week_key(moment)
    if week not in context.instance.get_dynamic_partitions(LOG_WEEKS):
        return dg.SkipReason(f"no logs in the week of {week}: nothing to report")
    return dg.RunRequest(run_key=f"weekly-report-{week}", partition_key=week)


def _latest_materialization(instance: dg.DagsterInstance, asset: str) -> float | None:
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    return event.timestamp if event is not None else None


def complete_week_requests(
    instance: dg.DagsterInstance, now: datetime
) -> list[dg.RunRequest] | dg.SkipReason:
    """A report for every complete week with logs that has none yet, once, as soon as the analytics
    have caught up with the log days; oldest first, so the newest is the asset's latest
    materialization (what its overview shows).

    This is what makes the reports exist on a first start (the schedule only runs on Mondays), right
    after a week closes, and after an import brings older weeks; the Monday 08:00 schedule still
    rebuilds the last week with lines that came late. A week is complete once its Sunday is over,
    or when it is the week old logs end in (:func:`windows.last_complete_week`).
    """
    weeks = instance.get_dynamic_partitions(LOG_WEEKS)
    latest = max((date.fromisoformat(w) for w in weeks), default=None)
    last = windows.last_complete_week(now, latest)
    complete = sorted(w for w in weeks if date.fromisoformat(w) <= last)
    if not complete:
        return dg.SkipReason(f"no logs in a complete week (the last one is the week of {last.isoformat()})")
    built = instance.get_materialized_partitions(dg.AssetKey("weekly_report"))
    missing = [w for w in complete if w not in built]
    if not missing:
        return dg.SkipReason(
            f"the report on every complete week exists ({len(complete)}, up to {complete[-1]})"
        )
    days_at = _latest_materialization(instance, "cleaned_events")
    if days_at is None:
        return dg.SkipReason("waiting for the log days to be cleaned (cleaned_events)")
    for upstream in ("session_metrics", "error_occurrences"):
        at = _latest_materialization(instance, upstream)
        if at is None or at < days_at:
            return dg.SkipReason(f"waiting for {upstream} to catch up with the log days")
    return [dg.RunRequest(run_key=f"weekly-report-{week}", partition_key=week) for week in missing]


def weekly_report_sensor(settings: Settings) -> dg.SensorDefinition:
    """The sensor, RUNNING by default unless ``settings`` turn automatic analytics off."""

    @dg.sensor(
        name="weekly_report_sensor",
        job=weekly_report_job,
        minimum_interval_seconds=30,  # a few instance look-ups per tick
        default_status=analytics_sensor_status(settings),
        description="Builds every complete week's report that is missing, once, as soon as its analytics "
        "have caught up: on first start, right after a week closes and after an import of older weeks "
        "(the Monday 08:00 schedule rebuilds the last week later).",
    )
    def sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        found = complete_week_requests(context.instance, datetime.now(UTC))
        if isinstance(found, dg.SkipReason):
            return dg.SensorResult(skip_reason=found)
        return dg.SensorResult(run_requests=found)

    return sensor


def build(settings: Settings) -> dg.Definitions:
    """The weekly report's asset, job, schedule and sensor for ``settings``."""
    return dg.Definitions(
        assets=[weekly_report],
        jobs=[weekly_report_job],
        schedules=[weekly_report_schedule],
        sensors=[weekly_report_sensor(settings)],
    )
