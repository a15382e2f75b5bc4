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
import pandera.errors
import pandera.polars as pa
import polars as pl
from pandera.config import ValidationDepth, config_context

from agent_pipelines.analytics import usage
from agent_pipelines.analytics.metrics import markdown_table
from agent_pipelines.core.cleaned import CleanedDay, clean_days
from agent_pipelines.core.contract import CLEANED_SCHEMA, CleanedEvent
from agent_pipelines.core.inherit import last_context
from agent_pipelines.orchestration import ui_metadata as ui
from agent_pipelines.orchestration.io_manager import (
    PARQUET_IO,
    PolarsParquetIOManager,
    add_partition_metadata,
    scan_tables,
)
from agent_pipelines.orchestration.log_store import LogStore
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
        )
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
    days = [date.fromisoformat(k) for k in context.partition_keys]
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

    for done in clean_days(
        log_store.logs_path, days, write, data_dir=log_store.data_path, final_before=today, earlier=earlier
    ):
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
            where = parquet_io_manager.location_for(key, done.day.isoformat())
            add_partition_metadata(
                context, done.day.isoformat(), {**day_metadata(done), "path": dg.MetadataValue.path(where)}
            )
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
            )
        ],
    )


# --------------------------------------------------------------------------------------------
# The contract as an asset check (pandera)
# --------------------------------------------------------------------------------------------


_CONTRACT = CleanedEvent.to_schema()
# Columns whose values the contract checks (non-null, unique, lengths, ranges, allowed values): the
# others (free text: prompts, payloads, stack traces, the bulk of a day's bytes) are checked for
# their presence and type, which the Parquet schema answers without reading a row.
VALUE_COLUMNS = tuple(
    name
    for name, column in _CONTRACT.columns.items()
    if not column.nullable or column.unique or column.checks
)
_ROW_CHECKS = pa.DataFrameSchema(checks=_CONTRACT.checks, name="CleanedEvent")


def validate_events(events: pl.DataFrame | pl.LazyFrame) -> dg.AssetCheckResult:
    """Run the pandera contract over cleaned events; failures carry their cases as Markdown.

    The whole of ``contract.CleanedEvent`` is checked, in three passes that each read only what
    they need (from a Parquet scan, only those columns are read): every column and its type against
    the schema (no rows); the values of :data:`VALUE_COLUMNS`, read once; then the checks across
    columns (a ``session_end`` has a status...), each reading the columns it uses.
    """
    lazy = events.lazy()
    present = set(lazy.collect_schema())
    failures: list[pl.DataFrame] = []
    _validate(_CONTRACT, lazy, ValidationDepth.SCHEMA_ONLY, failures)
    values = [c for c in VALUE_COLUMNS if c in present]
    frame = lazy.select(values).collect()
    columns = _CONTRACT.select_columns(values)
    columns.checks, columns.strict = [], False  # the other columns and row checks: the other passes
    _validate(columns, frame.lazy(), ValidationDepth.SCHEMA_AND_DATA, failures)
    _validate(_ROW_CHECKS, lazy, ValidationDepth.SCHEMA_AND_DATA, failures)
    if not failures:
        return dg.AssetCheckResult(
            passed=True, metadata={"rows": frame.height, "model": CleanedEvent.__name__}
        )
    cases = pl.concat(failures, how="diagonal_relaxed")
    summary = (
        cases.group_by("column", "check").len().sort("len", descending=True)
        if {"column", "check"} <= set(cases.columns)
        else cases.head(0)
    )
    return dg.AssetCheckResult(
        passed=False,
        description=f"{cases.height:,} failure cases against contract.CleanedEvent",
        metadata={
            "rows": frame.height,
            "failure_cases": cases.height,
            "failures_by_check": dg.MetadataValue.md(markdown_table(summary, limit=30)),
            "failure_case_sample": dg.MetadataValue.md(markdown_table(cases, limit=20)),
        },
    )


def _validate(
    schema: pa.DataFrameSchema,
    frame: pl.LazyFrame,
    depth: ValidationDepth,
    failures: list[pl.DataFrame],
) -> None:
    try:
        with config_context(validation_depth=depth):
            schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        failures.append(exc.failure_cases)
    except pandera.errors.SchemaError as exc:  # pragma: no cover - lazy=True collects them all
        failures.append(pl.DataFrame({"check": [str(exc)[:500]]}))


def stored_partitions(
    io: PolarsParquetIOManager, partition_keys: Sequence[str] | None
) -> pl.LazyFrame | None:
    """The stored ``cleaned_events`` of some partitions (all stored ones when ``None``), as a scan
    (``None`` when there is none)."""
    key = dg.AssetKey("cleaned_events")
    files = io.stored_partitions(key) if partition_keys is None else io.stored(key, list(partition_keys))
    return scan_tables(files)


CHECK_BATCH_ROWS = 1_500_000
"""The contract check validates the run's days together, in batches of consecutive days of up to
this many rows: pandera's fixed cost (some 60 queries a validation) is paid once a batch instead of
once a day (30 days of 1M events: 1.2 s one day at a time, 0.5 s at once), while the values it
reads (some 200 bytes a row) stay bounded at any size of run."""


def _scan(files: list[str]) -> pl.LazyFrame:
    scan = scan_tables(files)
    assert scan is not None  # at least one file
    return scan


def _batches(sizes: list[tuple[str, str, int]], limit: int) -> list[list[tuple[str, str, int]]]:
    """Consecutive (day, file, rows) cut into batches of at most ``limit`` rows (a larger day alone)."""
    batches: list[list[tuple[str, str, int]]] = []
    rows = 0
    for item in sizes:
        if not batches or rows + item[2] > limit:
            batches.append([])
            rows = 0
        batches[-1].append(item)
        rows += item[2]
    return batches


@dg.asset_check(
    asset=cleaned_events,
    name="matches_contract",
    required_resource_keys={PARQUET_IO},
    blocking=True,
    description="pandera: contract.CleanedEvent over the partition (types, UTC timestamps, known "
    "event types and statuses, non-negative costs and counts, unique event ids).",
)
def cleaned_events_matches_contract(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    # The partitions are read here rather than taken as an input: Dagster 1.13 hands a check's
    # input *every* partition of a partitioned asset, and validating 30 days per run is wasteful.
    # A run over many days (a backfill) validates them together, batches of days of at most
    # CHECK_BATCH_ROWS rows at a time (one pandera validation each); so does a check-only run (no
    # partition), over every stored day. Event ids are unique across a batch's days too: an id is
    # the hash of its line, timestamp included, and a line belongs to its timestamp's day.
    io: PolarsParquetIOManager = getattr(context.resources, PARQUET_IO)
    asset = dg.AssetKey("cleaned_events")
    if context.has_partition_key:
        keys = [context.partition_key]
    elif context.has_partition_key_range:
        keys = list(context.partition_keys)
    else:
        stored = io.stored_partitions(asset)
        keys = [where.rsplit("/", 1)[-1].removesuffix(".parquet") for where in stored]
        if not keys:
            return dg.AssetCheckResult(passed=True, description="no stored partition to check")
    files = [(key, where) for key in keys for where in io.stored(asset, [key])]
    counts = pl.collect_all([_scan([where]).select(pl.len()) for _, where in files])  # the footers
    sizes = [(key, where, int(c.item())) for (key, where), c in zip(files, counts, strict=True)]
    rows = sum(n for _, _, n in sizes)
    failed: list[tuple[str, dg.AssetCheckResult]] = []
    for batch in _batches(sizes, CHECK_BATCH_ROWS):
        result = validate_events(_scan([where for _, where, _ in batch]))
        if result.passed:
            continue
        if len(batch) == 1:
            failed.append((batch[0][0], result))
            continue
        # rare: which of the batch's days fail, each validated alone
        alone = [(key, validate_events(_scan([where]))) for key, where, _ in batch]
        # none alone: the days pass one by one, not together (an event id in two days)
        together = [(f"{batch[0][0]}..{batch[-1][0]}", result)]
        failed.extend([(k, r) for k, r in alone if not r.passed] or together)
    if not failed:
        return dg.AssetCheckResult(
            passed=True, metadata={"rows": rows, "model": CleanedEvent.__name__, "partitions": len(keys)}
        )
    key, first = failed[0]
    if len(failed) == 1:
        return dg.AssetCheckResult(
            passed=False,
            description=f"{key}: {first.description}",
            metadata={**first.metadata, "failed_days": dg.MetadataValue.json([key])},
        )
    return dg.AssetCheckResult(
        passed=False,
        description=f"{len(failed)} of {len(keys)} days fail contract.CleanedEvent: "
        + ", ".join(str(k) for k, _ in failed[:10]),
        metadata={
            **first.metadata,
            "rows": rows,
            "failed_days": dg.MetadataValue.json([k for k, _ in failed]),
        },
    )


__all__ = [
    "DAILY_ASSETS",
    "LOG_DAYS",
    "PARQUET_IO",
    "analytics_sensor_status",
    "build_log_days_sensor",
    "cleaned_events",
    "cleaned_events_job",
    "cleaned_events_matches_contract",
    "validate_events",
]
