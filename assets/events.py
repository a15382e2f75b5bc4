"""``cleaned_events``: one partition per UTC log day, parsed through the contract, as Parquet.

Thin wiring over the reader: ``read_logs`` (contract, types, payload flattening, quarantine),
``dedupe`` (a line written twice counts once) and ``write_quarantine``. Each materialization rewrites
its day from the log files, so re-materializing today's partition as lines arrive is always
consistent: the partition is exactly what the files held at that moment, never an append on top of
an older read. ``log_days_sensor`` registers new days and re-materializes a day whose file grew,
together with the unpartitioned assets downstream, so those follow in the same run.
"""

import json
import os
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pandera.errors
import polars as pl

from agent_pipelines import paths, usage
from agent_pipelines.contract import CleanedEvent
from agent_pipelines.io_manager import PolarsParquetIOManager, scan_tables
from agent_pipelines.log_store import LogStore
from agent_pipelines.metrics import markdown_table
from agent_pipelines.quarantine import write_quarantine
from agent_pipelines.reader import dedupe, read_logs
from agent_pipelines.settings import env_flag
from assets.partitions import LOG_DAYS, LOG_WEEKS, daily_partitions, log_days, missing_keys

PARQUET_IO = "parquet_io_manager"
OWNERS = ["team:agent-pipelines"]


def table_asset(domain: str, **kwargs: Any) -> Any:
    """``@dg.asset`` for a polars table stored as Parquet, filed under its domain's group.

    Every analytics table shares its owners, IO manager, kinds and domain tag; one place keeps
    them alike (and lets a new table say only what is particular to it).
    """
    return dg.asset(
        group_name=domain,
        io_manager_key=PARQUET_IO,
        owners=OWNERS,
        kinds={"polars", "parquet"},
        **{**kwargs, "tags": {"domain": domain, **kwargs.get("tags", {})}},
    )


DEFAULT_MAX_QUARANTINE_SHARE = 0.01
PREVIEW_COLUMNS = ("timestamp", "attempt_id", "event_type", "executor", "task_title", "error_message")
_RAW_DAY = re.compile(r'"timestamp"\s*:\s*"(\d{4}-\d{2}-\d{2})')


def max_quarantine_share() -> float:
    """``AGENT_PIPELINES_MAX_QUARANTINE_SHARE`` (0-1), default 1%: above it the check warns."""
    try:
        return float(os.environ.get("AGENT_PIPELINES_MAX_QUARANTINE_SHARE", DEFAULT_MAX_QUARANTINE_SHARE))
    except ValueError:
        return DEFAULT_MAX_QUARANTINE_SHARE


def quarantine_of_day(quarantine: pl.DataFrame, day: date, logs_root: Path) -> pl.DataFrame:
    """The quarantined lines that belong to ``day``'s partition.

    A daily file's bad lines are its day's. The seed's single file holds every day, and it is read
    for every partition, so its bad lines are attributed by the date in their raw text, and those
    without a recognizable date to the first log day — each counted once, not once per partition.
    """
    if quarantine.is_empty():
        return quarantine
    legacy = pl.col("source_file") == paths.STREAM_FILE
    raw_day = pl.col("raw").str.extract(_RAW_DAY.pattern, 1)
    first_day = None
    if quarantine.filter(legacy & raw_day.is_null()).height:
        days = log_days(logs_root)
        first_day = days[0].isoformat() if days else day.isoformat()
    mine = (
        ~legacy | (raw_day == day.isoformat()) | (raw_day.is_null() & (pl.lit(first_day) == day.isoformat()))
    )
    return quarantine.filter(mine.fill_null(False))


def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    if frame.is_empty():
        return {}
    counts = frame.group_by(column).len().sort(column)
    return {str(k): int(v) for k, v in counts.iter_rows()}


@dg.asset(
    partitions_def=daily_partitions,
    group_name="events",
    io_manager_key=PARQUET_IO,
    owners=OWNERS,
    tags={"domain": "events", "layer": "clean"},
    kinds={"polars", "parquet"},
    check_specs=[
        dg.AssetCheckSpec(
            "quarantine_share_below_threshold",
            asset="cleaned_events",
            description="Warns when more than AGENT_PIPELINES_MAX_QUARANTINE_SHARE (default 1%) of a "
            "day's lines were quarantined: a writer is probably broken.",
        )
    ],
)
def cleaned_events(
    context: dg.AssetExecutionContext, log_store: LogStore
) -> Iterator[dg.Output[pl.DataFrame] | dg.AssetCheckResult]:
    """Agent work events of one UTC day: parsed through the event contract, typed (UTC timestamps,
    ints, floats), payload fields flattened into columns, deduplicated (the same line written twice
    counts once). Lines the contract refuses go to the data folder's `quarantine/` with their reason
    and location; their counts and reasons are in this asset's metadata. Today's partition can be
    re-materialized at any time as lines arrive."""
    day = date.fromisoformat(context.partition_key)
    today = datetime.now(UTC).date()
    logs_root = log_store.logs_path
    result = read_logs(logs_root, days=[day], final_before=today)
    events = dedupe(result.events)
    quarantine = quarantine_of_day(result.quarantine, day, logs_root)
    newly_quarantined = write_quarantine(log_store.data_path, quarantine)
    reasons = _counts(quarantine, "reason")
    lines = events.height + quarantine.height
    share = quarantine.height / lines if lines else 0.0
    by_type = _counts(events, "event_type")
    preview = events.select([c for c in PREVIEW_COLUMNS if c in events.columns]).head(10)
    context.log.info(
        f"{day}: {events.height:,} events, {quarantine.height:,} quarantined, "
        f"{result.events.height - events.height:,} duplicates dropped"
    )
    for warning in result.warnings:  # files skipped or cut short: never fatal, always said
        context.log.warning(warning)
    yield dg.Output(
        events,
        metadata={
            "events": events.height,
            "quarantined": quarantine.height,
            "newly_quarantined": newly_quarantined,
            "quarantine_reasons": dg.MetadataValue.json(reasons),
            "duplicates_dropped": result.events.height - events.height,
            "pending_bytes": result.pending_bytes,
            "attempts": events["attempt_id"].n_unique() if events.height else 0,
            "events_by_type": dg.MetadataValue.json(by_type),
            "source_files": dg.MetadataValue.json(sorted(result.offsets)),
            "file_warnings": dg.MetadataValue.json(result.warnings),
            "preview": dg.MetadataValue.md(markdown_table(preview, limit=10)),
            # The day's numbers: across partitions, the Plots tab draws them as daily time series.
            **usage.day_numbers(events),
        },
    )
    threshold = max_quarantine_share()
    yield dg.AssetCheckResult(
        check_name="quarantine_share_below_threshold",
        passed=share <= threshold,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{share:.2%} of {lines:,} lines quarantined (threshold {threshold:.2%})",
        metadata={
            "quarantine_share": share,
            "threshold": threshold,
            "quarantined": quarantine.height,
            "reasons": dg.MetadataValue.json(reasons),
        },
    )


# --------------------------------------------------------------------------------------------
# The contract as an asset check (pandera)
# --------------------------------------------------------------------------------------------


def validate_events(events: pl.DataFrame) -> dg.AssetCheckResult:
    """Run the pandera contract over cleaned events; failures carry their cases as Markdown."""
    model = CleanedEvent
    try:
        model.validate(events, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        summary = (
            cases.group_by("column", "check").len().sort("len", descending=True)
            if {"column", "check"} <= set(cases.columns)
            else cases.head(0)
        )
        return dg.AssetCheckResult(
            passed=False,
            description=f"{cases.height:,} failure cases against contract.CleanedEvent",
            metadata={
                "rows": events.height,
                "failure_cases": cases.height,
                "failures_by_check": dg.MetadataValue.md(markdown_table(summary, limit=30)),
                "failure_case_sample": dg.MetadataValue.md(markdown_table(cases, limit=20)),
            },
        )
    except pandera.errors.SchemaError as exc:  # pragma: no cover - lazy=True collects them all
        return dg.AssetCheckResult(passed=False, description=str(exc)[:500], metadata={"rows": events.height})
    return dg.AssetCheckResult(passed=True, metadata={"rows": events.height, "model": model.__name__})


def stored_partitions(io: PolarsParquetIOManager, partition_keys: Sequence[str] | None) -> pl.DataFrame:
    """The stored ``cleaned_events`` of some partitions (all stored ones when ``None``)."""
    key = dg.AssetKey("cleaned_events")
    files = io.stored_partitions(key) if partition_keys is None else io.stored(key, list(partition_keys))
    lazy = scan_tables(files)
    return lazy.collect() if lazy is not None else pl.DataFrame()


@dg.asset_check(
    asset=cleaned_events,
    name="matches_contract",
    required_resource_keys={PARQUET_IO},
    blocking=True,
    description="pandera: contract.CleanedEvent over the partition (types, UTC timestamps, known "
    "event types and statuses, non-negative costs and counts, unique event ids).",
)
def cleaned_events_matches_contract(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    # The partition is read here rather than taken as an input: Dagster 1.13 hands a check's
    # input *every* partition of a partitioned asset, and validating 30 days per run is wasteful.
    io: PolarsParquetIOManager = getattr(context.resources, PARQUET_IO)
    keys = [context.partition_key] if context.has_partition_key else None
    events = stored_partitions(io, keys)
    if events.is_empty() and not events.columns:
        return dg.AssetCheckResult(passed=True, description="no stored partition to check")
    return validate_events(events)


# --------------------------------------------------------------------------------------------
# New days, growing days: the sensor
# --------------------------------------------------------------------------------------------


def file_sizes(logs_root: Path) -> dict[str, int]:
    """Byte size of each daily stream file (key: its day) and of the seed's single file."""
    sizes: dict[str, int] = {}
    stream = logs_root / paths.STREAM_DIR
    if stream.is_dir():
        for path in stream.glob("*.jsonl"):
            try:
                date.fromisoformat(path.stem)
            except ValueError:
                continue
            sizes[path.stem] = path.stat().st_size
    legacy = logs_root / paths.STREAM_FILE
    if legacy.exists():
        sizes[paths.STREAM_FILE] = legacy.stat().st_size
    return sizes


def analytics_sensor_status() -> dg.DefaultSensorStatus:
    """Running unless ``AGENT_PIPELINES_AUTO_ANALYTICS=false``: analytics follow the logs on their own.

    The switch is for deployments (and benchmarks of the live alerts) that run the daemon but want
    analytics only on demand (``agent-pipelines materialize`` or the UI's Materialize button).
    """
    on = env_flag("AGENT_PIPELINES_AUTO_ANALYTICS")
    return dg.DefaultSensorStatus.RUNNING if on else dg.DefaultSensorStatus.STOPPED


# Sensor-launched day runs execute in process: one step plus its check do not need a process each
# (the default multiprocess executor would start two Python interpreters per run).
cleaned_events_job = dg.define_asset_job(
    "cleaned_events_job",
    selection=[cleaned_events],
    partitions_def=daily_partitions,
    executor_def=dg.in_process_executor,
    description="cleaned_events (and its checks) for one log day.",
)


def build_log_days_sensor(minimum_interval_seconds: int = 300) -> dg.SensorDefinition:
    """A sensor that adds a partition per new log day (and week) and re-materializes grown days.

    It requests ``cleaned_events[day]`` only: the unpartitioned assets downstream follow through
    their automation condition (``assets.analytics``), once per burst of days rather than per day.
    The seed's single file carries no day in its name: when it grows, its latest day is refreshed.
    """

    @dg.sensor(
        name="log_days_sensor",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=analytics_sensor_status(),
        job=cleaned_events_job,
        description="Adds a daily (and weekly) partition for each new UTC day in the log folder and "
        "re-materializes cleaned_events for days whose file grew (every 5 minutes).",
    )
    def log_days_sensor(context: dg.SensorEvaluationContext, log_store: LogStore) -> dg.SensorResult:
        root = log_store.logs_path
        if not root.exists():
            return dg.SensorResult(skip_reason=f"log folder {root} does not exist yet")
        previous: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
        sizes = file_sizes(root)
        days = log_days(root)
        changed = {k for k, size in sizes.items() if previous.get(k) != size}
        if paths.STREAM_FILE in changed:
            changed.discard(paths.STREAM_FILE)
            if days:
                changed.add(days[-1].isoformat())
        new_days, new_weeks = missing_keys(context.instance, days)
        requests = [
            dg.RunRequest(
                run_key=f"{day}:{sizes.get(day, sizes.get(paths.STREAM_FILE, 0))}",
                partition_key=day,
            )
            for day in sorted(changed)
        ]
        context.update_cursor(json.dumps(sizes, sort_keys=True))
        additions = [
            dg.AddDynamicPartitionsRequest(partitions_def_name=name, partition_keys=keys)
            for name, keys in ((LOG_DAYS, new_days), (LOG_WEEKS, new_weeks))
            if keys
        ]
        if not requests and not additions:
            return dg.SensorResult(skip_reason="no log file changed since the last tick")
        return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=additions)

    return log_days_sensor


__all__ = [
    "LOG_DAYS",
    "PARQUET_IO",
    "analytics_sensor_status",
    "build_log_days_sensor",
    "cleaned_events",
    "cleaned_events_job",
    "cleaned_events_matches_contract",
    "validate_events",
]
