"""``log_days_sensor``: new log days become partitions within a tick, grown days are refreshed.

Thin wiring: the log folder is listed (names and sizes, :func:`~agent_pipelines.core.reader.file_sizes`),
the days to run are requested as ranges of neighbouring days (one run each, as
``BackfillPolicy.single_run`` backfills them), and ``cleaned_events_job`` runs the daily assets.
"""

import json
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import dagster as dg

from agent_pipelines.core import paths
from agent_pipelines.core.reader import file_sizes, partition_days
from agent_pipelines.core.settings import Settings
from agent_pipelines.orchestration.log_store import LogStore
from agent_pipelines.orchestration.partitions import partition_requests
from assets.partitions import LOG_DAYS, day_ranges, legacy_file_days, missing_keys, range_tags

# The assets partitioned by log day: cleaned_events and the small per-day results computed from it
# (assets.sessions, assets.insights), the day's alerts (so a day without any is materialized with 0
# rows, not "Missing") and its session replays. A day's run refreshes all of them; the
# unpartitioned views combine their per-day results.
DAILY_ASSETS = ("cleaned_events", "session_parts", "error_events", "task_events", "alerts", "session_replays")


def analytics_sensor_status(settings: Settings) -> dg.DefaultSensorStatus:
    """Running unless ``AGENT_PIPELINES_AUTO_ANALYTICS=false``: analytics follow the logs on their own.

    The switch is for deployments (and benchmarks of the live alerts) that run the daemon but want
    analytics only on demand (``agent-pipelines materialize`` or the UI's Materialize button).
    """
    return dg.DefaultSensorStatus.RUNNING if settings.auto_analytics else dg.DefaultSensorStatus.STOPPED


# Sensor-launched day runs execute in process: a few steps over one day do not need a process each
# (the default multiprocess executor would start a Python interpreter per step).
cleaned_events_job = dg.define_asset_job(
    "cleaned_events_job",
    selection=dg.AssetSelection.assets(*DAILY_ASSETS),
    executor_def=dg.in_process_executor,
    description="cleaned_events, its checks and the per-day results computed from it, for log days.",
)

DAYS_TICK_SECONDS = 5
REFRESH_SECONDS = 300


def _legacy_days_if_grown(root: Path, previous_size: int | None, size: int | None) -> list[date]:
    """Days of the original logger's single file, scanned only when it changed since the last tick."""
    if size is None or size == previous_size:
        return []
    return legacy_file_days(root)


def build_log_days_sensor(
    settings: Settings,
    minimum_interval_seconds: int = DAYS_TICK_SECONDS,
    refresh_seconds: int = REFRESH_SECONDS,
    clock: Callable[[], float] = time.time,
) -> dg.SensorDefinition:
    """A sensor that adds a partition per new log day (and week) and re-materializes grown days.

    Two paces in one sensor. Every tick (5 s) it lists the log folder (file names and sizes, no
    reading): a day never seen before is registered and materialized at once, so a new day is in
    the UI within one tick of its first line. A day whose file grew is re-materialized at most every
    ``refresh_seconds`` (5 minutes), so a busy day costs a run every few minutes, not every tick.
    Several days at once (a first start on months of logs) are one run per range of neighbouring
    days (``BackfillPolicy.single_run``), not a run per day.

    It requests the daily assets only: the unpartitioned ones downstream follow through their
    automation condition (``assets.analytics``), once per burst of days rather than per day. The
    original logger's single file carries no day in its name: when it grows, its latest day is refreshed.
    """

    @dg.sensor(
        name="log_days_sensor",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=analytics_sensor_status(settings),
        job=cleaned_events_job,
        description="Adds a daily (and weekly) partition for each new UTC day in the log folder "
        "within one 5-second tick and materializes it; re-materializes days whose file grew every "
        f"{refresh_seconds // 60} minutes.",
    )
    def log_days_sensor(context: dg.SensorEvaluationContext, log_store: LogStore) -> dg.SensorResult:
        root = log_store.logs_path
        if not root.exists():
            return dg.SensorResult(skip_reason=f"log folder {root} does not exist yet")
        cursor = json.loads(context.cursor) if context.cursor else {}
        if "sizes" not in cursor:  # a cursor of the 5-minute sensor: plain sizes
            cursor = {"sizes": cursor, "seen": cursor, "refreshed_at": 0.0}
        requested: dict[str, int] = cursor["sizes"]
        seen: dict[str, int] = cursor.get("seen", requested)
        now = clock()
        sizes = file_sizes(root)
        legacy_size = sizes.get(paths.STREAM_FILE)
        days = set(partition_days(root)) | set(
            _legacy_days_if_grown(root, seen.get(paths.STREAM_FILE), legacy_size)
        )
        new_days, new_weeks = missing_keys(context.instance, days)
        changed = {k for k, size in sizes.items() if requested.get(k) != size}
        if paths.STREAM_FILE in changed:
            changed.discard(paths.STREAM_FILE)
            latest = max(days) if days else None
            if latest is not None:
                changed.add(latest.isoformat())
        due = now - float(cursor.get("refreshed_at", 0.0)) >= refresh_seconds
        to_run = set(new_days) | (changed if due else set())
        if to_run:
            for key in to_run:
                requested[key] = sizes.get(key, sizes.get(paths.STREAM_FILE, 0))
            if legacy_size is not None and (due or paths.STREAM_FILE not in requested):
                requested[paths.STREAM_FILE] = legacy_size
            if due and changed:
                cursor["refreshed_at"] = now
        ordered = sorted({*context.instance.get_dynamic_partitions(LOG_DAYS), *new_days})
        requests = []
        for first, last in day_ranges(ordered, to_run):
            stamp = requested.get(last, 0)
            if first == last:
                requests.append(dg.RunRequest(run_key=f"{first}:{stamp}", partition_key=first))
            else:
                requests.append(
                    dg.RunRequest(run_key=f"{first}..{last}:{stamp}", tags=range_tags(first, last))
                )
        cursor.update(sizes=requested, seen=sizes)
        context.update_cursor(json.dumps(cursor, sort_keys=True))
        additions = partition_requests(context.instance, new_days, new_weeks)  # in date order
        if not requests and not additions:
            waiting = sorted(changed)
            reason = (
                f"{len(waiting)} grown day(s) wait for the {refresh_seconds // 60}-minute refresh"
                if waiting
                else "no log file changed since the last tick"
            )
            return dg.SensorResult(skip_reason=reason)
        return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=additions)

    return log_days_sensor
