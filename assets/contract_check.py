"""``cleaned_events``' contract as a blocking asset check: pandera's ``contract.CleanedEvent`` over the
stored days of a run, validated together in batches (:data:`CHECK_BATCH_ROWS`), reading only the
columns each pass needs. Split from :mod:`assets.events` (the asset itself): this is what a stored
table must be, whoever wrote it.
"""

import dagster as dg
import pandera.errors
import pandera.polars as pa
import polars as pl
from pandera.config import ValidationDepth, config_context

from agent_pipelines.analytics.metrics import markdown_table
from agent_pipelines.core.contract import CleanedEvent
from agent_pipelines.core.contract.gate import passes
from agent_pipelines.orchestration.io_manager import PARQUET_IO, PolarsParquetIOManager, scan_tables

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

    The model's rules are first run as one query (:func:`~agent_pipelines.core.contract.gate.passes`,
    held to pandera's verdict on every rule by ``tests/test_contract_gate.py``): a frame that
    passes costs one read of the columns the rules look at. Only when it says no does pandera run,
    for its failure cases.

    The whole of ``contract.CleanedEvent`` is checked, in three passes that each read only what
    they need (from a Parquet scan, only those columns are read): every column and its type against
    the schema (no rows); the values of :data:`VALUE_COLUMNS`, read once; then the checks across
    columns (a ``session_end`` has a status...), each reading the columns it uses.
    """
    lazy = events.lazy()
    if passes(lazy, CleanedEvent):  # the usual case: every rule in one query, nothing to report
        rows = lazy.select(pl.len()).collect().item()  # a scan's count: its files' footers
        return dg.AssetCheckResult(passed=True, metadata={"rows": rows, "model": CleanedEvent.__name__})
    present = set(lazy.collect_schema())
    failures: list[pl.DataFrame] = []
    _validate(_CONTRACT, lazy, ValidationDepth.SCHEMA_ONLY, failures)
    values = [c for c in VALUE_COLUMNS if c in present]
    frame = lazy.select(values).collect()
    columns = _CONTRACT.select_columns(values)
    columns.checks, columns.strict = [], False  # the other columns and row checks: the other passes
    unique = [n for n in _UNIQUE_IDS if n in columns.columns and columns.columns[n].unique]
    for name in unique:  # checked below, the same cases as pandera's, several times cheaper
        columns = columns.update_column(name, unique=False)
    _validate(columns, frame.lazy(), ValidationDepth.SCHEMA_AND_DATA, failures)
    for name in unique:
        check_unique_ids(frame[name], failures)
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


# Columns the model holds unique that hold the reader's ids (20 digits: a 64-bit hash).
_UNIQUE_IDS = ("event_id",)
_ID_DIGITS = r"^[0-9]{20}$"


def check_unique_ids(ids: pl.Series, failures: list[pl.DataFrame]) -> None:
    """pandera's ``unique`` on an id column, with its failure cases (every row holding a repeated
    value): on the numbers the ids spell when all are 20 digits (exactly: one number, one
    spelling), hashing 8-byte integers instead of strings (pandera's own check took 1-2 s per
    million ids, most of the contract check)."""
    keys = ids
    if ids.dtype == pl.String:
        numbers = ids.cast(pl.UInt64, strict=False)
        if numbers.null_count() == 0 and ids.str.contains(_ID_DIGITS).all():
            keys = numbers
    repeated = keys.is_duplicated()
    if not repeated.any():
        return
    failures.append(
        pl.DataFrame(
            {
                "failure_case": ids.filter(repeated).cast(pl.String),
                "schema_context": "Column",
                "column": ids.name,
                "check": "field_uniqueness",
                "check_number": pl.Series([None] * int(repeated.sum()), dtype=pl.Int32),
                "index": repeated.arg_true().cast(pl.Int32),
            }
        )
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
    asset="cleaned_events",
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
    "CHECK_BATCH_ROWS",
    "VALUE_COLUMNS",
    "check_unique_ids",
    "cleaned_events_matches_contract",
    "validate_events",
]
