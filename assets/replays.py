"""``session_replays``: one static HTML page per session of a UTC day, and the day's index.

Thin wiring over :mod:`agent_pipelines.analytics.replay`. A day's partition renders every attempt
active that day from the stored ``cleaned_events`` of that day and its neighbours (a session that
crosses midnight is shown whole) with the ``alerts`` that named it, and writes the pages under
``<data>/replays/`` beside the weekly reports' ``<data>/reports/``; ``agent-pipelines ui`` serves
both read-only. The metadata links to the day's index and to the failed sessions' replays.
"""

from datetime import date, timedelta
from typing import Any

import dagster as dg
import polars as pl

from agent_pipelines.analytics import replay
from agent_pipelines.orchestration import links
from agent_pipelines.orchestration.io_manager import (
    PolarsParquetIOManager,
    add_partition_metadata,
    scan_tables,
)
from agent_pipelines.orchestration.log_store import LogStore
from agent_pipelines.text import markdown as md
from assets.events import DAY_POLICY, OWNERS
from assets.partitions import daily_partitions

FAILED_SHOWN = 20

# A day's replays are written with the day (``log_days_sensor``'s runs); alerts the live detectors
# add to a day later (``live_detector_job`` re-materializes its ``alerts`` partition) re-render that
# day's replays, so an alert's session shows the alert. A run that wrote both leaves nothing to do
# (the replays were written after the alerts).
REPLAY_AUTOMATION = (
    dg.AutomationCondition.any_deps_updated().allow(dg.AssetSelection.assets("alerts")).since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("after the day's alerts change")


def _stored(io: PolarsParquetIOManager, asset: str, days: list[str]) -> pl.DataFrame:
    scan = scan_tables(io.stored(dg.AssetKey(asset), days))
    return scan.collect() if scan is not None else pl.DataFrame()


def day_timelines(io: PolarsParquetIOManager, day: str) -> list[replay.Timeline]:
    """The timelines of the attempts active on ``day`` (their events on the day before and after too)."""
    d = date.fromisoformat(day)
    around = [(d + timedelta(days=n)).isoformat() for n in (-1, 0, 1)]
    today = _stored(io, "cleaned_events", [day])
    if today.is_empty():
        return []
    attempts = today["attempt_id"].unique()
    events = _stored(io, "cleaned_events", around).filter(pl.col("attempt_id").is_in(attempts.implode()))
    alerts = _stored(io, "alerts", around)
    by_attempt = events.partition_by("attempt_id", as_dict=True)
    return [replay.build_timeline(str(key[0]), group, alerts) for key, group in by_attempt.items()]


def day_metadata(day: str, timelines: list[replay.Timeline], base: str) -> dict[str, Any]:
    failed = [t for t in timelines if t.status not in (None, "success")]
    failed.sort(key=lambda t: t.started_at.isoformat() if t.started_at else "", reverse=True)
    shown = pl.DataFrame(
        {
            "session": [links.replay_link(base, t.attempt_id) for t in failed[:FAILED_SHOWN]],
            "task_title": [t.task_title for t in failed[:FAILED_SHOWN]],
            "status": [t.status for t in failed[:FAILED_SHOWN]],
            "errors": [t.count("error") for t in failed[:FAILED_SHOWN]],
            "alerts": [t.count("alert") for t in failed[:FAILED_SHOWN]],
        },
        schema={
            "session": pl.Object,
            "task_title": pl.String,
            "status": pl.String,
            "errors": pl.Int64,
            "alerts": pl.Int64,
        },
    )
    return {
        "sessions": dg.MetadataValue.int(len(timelines)),
        "failed_sessions": dg.MetadataValue.int(len(failed)),
        "replays": dg.MetadataValue.url(links.day_replays_url(base, day)),
        "failed_sessions_preview": dg.MetadataValue.md(md.table(shown, limit=FAILED_SHOWN, max_chars=60)),
    }


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=DAY_POLICY,
    group_name="sessions",
    owners=OWNERS,
    tags={"domain": "sessions"},
    kinds={"html"},
    deps=["cleaned_events", "alerts"],
    automation_condition=REPLAY_AUTOMATION,
)
def session_replays(
    context: dg.AssetExecutionContext,
    log_store: LogStore,
    parquet_io_manager: dg.ResourceParam[PolarsParquetIOManager],
) -> dg.MaterializeResult:
    """One page per session active that UTC day: its timeline (prompts, tool calls with their
    inputs and results, errors, follow-ups, status changes, alerts), tokens and cost as they
    accrued, idle gaps marked, secrets redacted; and an index of the day's sessions. Static HTML
    under the data folder's `replays/`, served by `agent-pipelines ui`; `agent-pipelines session
    ATTEMPT` prints the same timeline in a terminal."""
    io = parquet_io_manager
    total = failed = 0
    last: dict[str, Any] = {}
    for day in context.partition_keys:
        timelines = day_timelines(io, day)
        replay.write_replays(log_store.data_path, day, timelines)
        last = day_metadata(day, timelines, links.files_url(log_store.settings))
        total += len(timelines)
        failed += last["failed_sessions"].value
        if len(context.partition_keys) > 1:
            add_partition_metadata(context, day, last)
    if len(context.partition_keys) > 1:
        last = {"sessions": total, "failed_sessions": failed, "days_in_run": len(context.partition_keys)}
    return dg.MaterializeResult(metadata=last)


__all__ = ["REPLAY_AUTOMATION", "day_timelines", "session_replays"]
