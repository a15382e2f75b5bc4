"""``cleaned_events``: one partition per UTC log day, parsed through the contract, as Parquet.

Thin wiring over :func:`agent_pipelines.core.cleaned.clean_days`: each day read block by block (contract,
types, payload flattening, quarantine), deduplicated (a line written twice counts once) and streamed
to its Parquet file, so memory is a few blocks' whatever the size of a day. Each materialization rewrites
its day from the log files, so re-materializing today's partition as lines arrive is always
consistent: the partition is exactly what the files held at that moment, never an append on top of
an older read. ``log_days_sensor`` (:mod:`assets.log_days`) registers new days and re-materializes a
day whose file grew, together with the unpartitioned assets downstream, so those follow in the same run.
"""

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import polars as pl

from agent_pipelines.analytics import usage
from agent_pipelines.analytics.metrics import markdown_table
from agent_pipelines.core.cleaned import CleanedDay, clean_days
from agent_pipelines.core.contract import CLEANED_SCHEMA
from agent_pipelines.core.inherit import last_context
from agent_pipelines.orchestration import ui_metadata as ui
from agent_pipelines.orchestration.io_manager import (
    PARQUET_IO,
    PolarsParquetIOManager,
    add_partition_metadata,
    scan_tables,
)
from agent_pipelines.orchestration.lean_step import lean_step
from agent_pipelines.orchestration.log_store import LogStore
from assets.contract_check import CONTRACT_CHECK, VALUE_COLUMNS, ContractChecks, validate_events
from assets.log_days import (
    DAILY_ASSETS,
    analytics_sensor_status,
    build_log_days_sensor,
    cleaned_events_job,
)
from assets.partitions import LOG_DAYS, daily_partitions

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


PROGRESS_SECONDS = 10.0  # a run over many days says how far it got at most this often
PREVIEW_COLUMNS = ("timestamp", "attempt_id", "event_type", "executor", "task_title", "error_message")


def _preview(day: CleanedDay | None) -> pl.DataFrame:
    if day is None:
        return pl.DataFrame()
    return day.preview.select([c for c in PREVIEW_COLUMNS if c in day.preview.columns])


def day_metadata(day: CleanedDay) -> dict[str, Any]:
    """One day's own numbers, for its partition's materialization in a run over many days."""
    return {
        "dagster/row_count": day.events,
        "events": day.events,
        "quarantined": day.quarantined,
        "newly_quarantined": day.newly_quarantined,
        "duplicates_dropped": day.duplicates_dropped,
        "pending_bytes": day.pending_bytes,
        "size_bytes": day.stored_bytes,
        "quarantine_reasons": dg.MetadataValue.json(day.reasons),
        "attempts": day.attempts.n_unique(),
        "events_by_type": dg.MetadataValue.json(day.by_type),
        "source_files": dg.MetadataValue.json(sorted(day.sources)),
        "file_warnings": dg.MetadataValue.json(list(day.warnings)),
        "preview": dg.MetadataValue.md(markdown_table(_preview(day), limit=10)),
        **ui.rounded(usage.day_numbers(day.session_ends)),
    }


def _merge_counts(total: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    for key, value in more.items():
        total[key] = total.get(key, 0) + value
    return dict(sorted(total.items()))


DAY_POLICY = dg.BackfillPolicy.single_run()
"""Backfills of many days run as one run: the per-run cost (run creation, process start, Dagster's
event log) is paid once instead of once per day, which at 30 days was most of the time of a refresh.
Each day is still read, checked and written on its own (the cleaned events block by block)."""


def daily_table_asset(domain: str, **kwargs: Any) -> Any:
    """:func:`table_asset` partitioned by log day, backfilled in one run.

    The function takes ``{day: LazyFrame}`` of its upstream partitions and returns ``{day: frame}``
    (see :func:`per_day`); the IO manager stores one file per day.
    """
    return table_asset(domain, partitions_def=daily_partitions, backfill_policy=DAY_POLICY, **kwargs)


def per_day(
    context: dg.AssetExecutionContext,
    upstream: dict[str, pl.LazyFrame],
    compute: Callable[[pl.LazyFrame], pl.DataFrame],
) -> dict[str, pl.DataFrame]:
    """``compute`` on each day of the run, one day at a time (a day never materialized is empty)."""
    empty = pl.LazyFrame(schema=CLEANED_SCHEMA)
    return {key: compute(upstream.get(key, empty)) for key in context.partition_keys}


@dg.asset(
    partitions_def=daily_partitions,
    backfill_policy=DAY_POLICY,
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
        ),
        CONTRACT_CHECK,
    ],
)
def cleaned_events(
    context: dg.AssetExecutionContext,
    log_store: LogStore,
    parquet_io_manager: dg.ResourceParam[PolarsParquetIOManager],
) -> Iterator[dg.MaterializeResult]:
    """Agent work events of one UTC day: parsed through the event contract, typed (UTC timestamps,
    ints, floats), payload fields flattened into columns, deduplicated (the same line written twice
    counts once). Lines the contract refuses go to the data folder's `quarantine/` with their reason
    and location; their counts and reasons are in this asset's metadata. Today's partition can be
    re-materialized at any time as lines arrive. A backfill of many days is one run (their metadata
    then holds the run's totals and a per-day table)."""
    # Through the last yield (Dagster stores the materializations there). Each day's file is checked
    # against the contract as soon as it is written, while the next days are read.
    with lean_step(context), ContractChecks() as contract:
        yield from _cleaned_events(context, log_store, parquet_io_manager, contract)


def _cleaned_events(
    context: dg.AssetExecutionContext,
    log_store: LogStore,
    parquet_io_manager: PolarsParquetIOManager,
    contract: ContractChecks,
) -> Iterator[dg.MaterializeResult]:
    keys = context.partition_keys  # listed once (each listing reads the instance)
    run_keys = set(keys)
    days = [date.fromisoformat(k) for k in keys]
    today = datetime.now(UTC).date()
    key = context.asset_key
    totals = {"events": 0, "quarantined": 0, "newly_quarantined": 0, "duplicates_dropped": 0,
              "pending_bytes": 0, "size_bytes": 0}  # fmt: skip
    reasons: dict[str, int] = {}
    by_type: dict[str, int] = {}
    per_day: list[dict[str, Any]] = []
    sources: set[str] = set()
    attempts: list[pl.Series] = []
    warnings: list[str] = []
    last: CleanedDay | None = None
    finished: list[CleanedDay] = []  # days of a many-day run, for their own metadata at the end
    over: list[str] = []
    # AGENT_PIPELINES_MAX_QUARANTINE_SHARE, checked when the code location loaded its settings
    threshold = log_store.settings.max_quarantine_share
    logged = time.monotonic()

    def write(day: date, rows: pl.LazyFrame) -> int:
        return parquet_io_manager.write_partition(key, day.isoformat(), rows)[2]

    # block by block: each day's rows stream to its file while the next block is read
    def earlier() -> pl.DataFrame | None:
        """The attempts' context as the day before the run left it (a line written without its task
        after midnight belongs to the session started before)."""
        stored = stored_partitions(parquet_io_manager, [(min(days) - timedelta(days=1)).isoformat()])
        return None if stored is None else last_context(stored)

    def check_as_written(day: date, rows: pl.DataFrame) -> None:
        contract.add_rows(day.isoformat(), rows)

    for done in clean_days(
        log_store.logs_path,
        days,
        write,
        data_dir=log_store.data_path,
        final_before=today,
        earlier=earlier,
        on_rows=check_as_written,
    ):
        contract.add(
            done.day.isoformat(), parquet_io_manager.location_for(key, done.day.isoformat()), done.events
        )
        if done.quarantine_share > threshold:
            over.append(f"{done.day} {done.quarantine_share:.2%}")
        totals["events"] += done.events
        totals["quarantined"] += done.quarantined
        totals["newly_quarantined"] += done.newly_quarantined
        totals["duplicates_dropped"] += done.duplicates_dropped
        totals["pending_bytes"] += done.pending_bytes
        totals["size_bytes"] += done.stored_bytes
        _merge_counts(reasons, done.reasons)
        _merge_counts(by_type, done.by_type)
        sources.update(done.sources)
        attempts.append(done.attempts)
        last = done
        per_day.append({"day": done.day.isoformat(), "events": done.events, "quarantined": done.quarantined,
                        "quarantine_share": round(done.quarantine_share, 5)})  # fmt: skip
        if len(days) > 1:  # this day's partition shows this day's numbers, not the run's totals
            finished.append(done)
        now = time.monotonic()
        if now - logged >= PROGRESS_SECONDS or len(per_day) == len(days):
            # progress, not a line per day: each is an event in Dagster's event log (a database write)
            logged = now
            context.log.info(
                f"{len(per_day)}/{len(days)} days, up to {done.day}: {totals['events']:,} events, "
                f"{totals['quarantined']:,} quarantined, {totals['duplicates_dropped']:,} duplicates dropped"
            )
        for warning in done.warnings:  # files skipped or cut short: never fatal, always said
            context.log.warning(warning)
        warnings.extend(done.warnings)
    contract.all_added()  # the last days are checked while the metadata below is built
    # Each day's own metadata once every day is written: its small queries, run between two days'
    # writes, waited for the threads parsing the next days (0.6 s of a 1M-event backfill's 31 days,
    # ~1 ms a day once the parsing is done). Dagster records it when the step ends either way.
    for done in finished:
        where = parquet_io_manager.location_for(key, done.day.isoformat())
        own = {**day_metadata(done), "path": dg.MetadataValue.path(where)}
        add_partition_metadata(context, done.day.isoformat(), own, run_keys)
    lines = totals["events"] + totals["quarantined"]
    share = totals["quarantined"] / lines if lines else 0.0
    metadata: dict[str, Any] = {
        "dagster/row_count": totals["events"],
        **totals,
        "quarantine_reasons": dg.MetadataValue.json(reasons),
        "attempts": pl.concat(attempts).n_unique() if attempts else 0,
        "events_by_type": dg.MetadataValue.json(by_type),
        "source_files": dg.MetadataValue.json(sorted(sources)),
        "file_warnings": dg.MetadataValue.json(warnings),
        "preview": dg.MetadataValue.md(markdown_table(_preview(last), limit=10)),
    }
    if last is not None:
        metadata["dagster/column_schema"] = dg.TableSchema(
            columns=[dg.TableColumn(name, str(dtype)) for name, dtype in CLEANED_SCHEMA.items()]
        )
    if len(days) == 1 and last is not None:
        # The day's numbers: across partitions, the Plots tab draws them as daily time series.
        metadata.update(ui.rounded(usage.day_numbers(last.session_ends)))
    if len(days) > 1:
        metadata["days_in_run"] = len(days)
        metadata["by_day"] = dg.MetadataValue.md(markdown_table(pl.DataFrame(per_day), limit=400))
    checked = contract.result()
    yield dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name="quarantine_share_below_threshold",
                passed=not over,
                severity=dg.AssetCheckSeverity.WARN,
                description=(
                    f"{share:.2%} of {lines:,} lines quarantined (threshold {threshold:.2%})"
                    + (f"; over it: {', '.join(over[:10])}" if over else "")
                ),
                metadata={
                    "quarantine_share": share,
                    "threshold": threshold,
                    "quarantined": totals["quarantined"],
                    "reasons": dg.MetadataValue.json(reasons),
                },
            ),
            checked,
        ],
    )


def stored_partitions(
    io: PolarsParquetIOManager, partition_keys: Sequence[str] | None
) -> pl.LazyFrame | None:
    """The stored ``cleaned_events`` of some partitions (all stored ones when ``None``), as a scan
    (``None`` when there is none)."""
    key = dg.AssetKey("cleaned_events")
    files = io.stored_partitions(key) if partition_keys is None else io.stored(key, list(partition_keys))
    return scan_tables(files)


__all__ = [
    "DAILY_ASSETS",
    "LOG_DAYS",
    "PARQUET_IO",
    "VALUE_COLUMNS",
    "analytics_sensor_status",
    "build_log_days_sensor",
    "cleaned_events",
    "cleaned_events_job",
    "validate_events",
]
