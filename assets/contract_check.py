"""``cleaned_events``' contract as a blocking asset check the asset's own step yields: pandera's
``contract.CleanedEvent`` over the rows of a run as they are written (:class:`ContractChecks`), event
ids across days in batches (:data:`CHECK_BATCH_ROWS`). Split from :mod:`assets.events` (the asset
itself): this is what a stored table must be, whoever wrote it.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import dagster as dg
import pandera.errors
import pandera.polars as pa
import polars as pl
from pandera.config import ValidationDepth, config_context

from agent_pipelines.analytics.metrics import markdown_table
from agent_pipelines.core.contract import CleanedEvent
from agent_pipelines.core.contract.gate import judge, passes
from agent_pipelines.orchestration.io_manager import scan_tables

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
"""Event ids are checked unique across consecutive days of a run in batches of up to this many rows
(each day's own rules are checked as it is written); a failing batch is validated by pandera at
once, its fixed cost (some 60 queries a validation) paid once a batch, not once a day, and the ids
it holds (8 bytes a row) stay bounded at any size of run."""

MATCHES_CONTRACT = "matches_contract"
CONTRACT_CHECK = dg.AssetCheckSpec(
    MATCHES_CONTRACT,
    asset="cleaned_events",
    blocking=True,
    description="pandera: contract.CleanedEvent over every day the run wrote (types, UTC timestamps, "
    "known event types and statuses, non-negative costs and counts, unique event ids), each day "
    "checked as soon as it is written.",
)
"""The contract as a check the ``cleaned_events`` step yields itself (``check_specs``), not a step
of its own: no second step, no second read of the whole run at its end (see :class:`ContractChecks`)."""


def _scan(files: list[str]) -> pl.LazyFrame:
    scan = scan_tables(files)
    assert scan is not None  # at least one file
    return scan


GROUP_ROWS = 200_000
"""Consecutive days are checked together once they hold this many rows (a larger day alone): the
gate's fixed cost (its ~60 rules made into one query, ~6 ms) is then paid a few times a run, not
once a day (31 days of 1M events: 0.6 s of CPU checked day by day, 0.4 s in 5 groups), and only the
last group is left to check when the step ends."""


def _group_parts(rows: pl.LazyFrame) -> tuple[bool, int, pl.Series | None]:
    """Some days' rows together (stored days' scan, or the rows as written): whether every rule of
    the model holds over them (the one-query gate: event ids unique across them too), their rows,
    and their event ids as the numbers they spell (``None`` where some id is not a number: a batch's
    ids are then compared by pandera)."""
    ok, values = judge(rows, CleanedEvent)  # the gate reads the ids among its columns
    if values is None or "event_id" not in values.columns or values["event_id"].dtype != pl.String:
        return ok, int(rows.select(pl.len()).collect().item()), None
    # Distinct numbers come from distinct texts, so ids that never repeat as numbers never repeat;
    # two texts spelling one number only send the batch to pandera, which compares the texts.
    numbers = values["event_id"].cast(pl.UInt64, strict=False)
    return ok, values.height, None if numbers.null_count() else numbers


FRAME_GROUP_ROWS = 100_000
"""Rows handed over as written (:meth:`ContractChecks.add_rows`) are checked in groups of this many:
they are held in memory until then (~400 bytes a row: 40 MB), where stored days are only named."""


@dataclass
class _Group:
    days: list[tuple[str, str]]  # (day, where it is stored: "" until the day is, for rows as written)
    verdict: Future[tuple[bool, int, float]]  # passes, rows, seconds it took


def _unique_days(days: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``days`` each once, in order (a day written in blocks can span two groups)."""
    return list(dict.fromkeys(days))


def _failing(days: list[tuple[str, str]], alone: bool = True) -> list[tuple[str, dg.AssetCheckResult]]:
    """pandera's failures in days the gate refused: each day alone (``alone``), and where none fails
    alone, the days together (an event id in two of them), named by their first and last day."""
    failed: list[tuple[str, dg.AssetCheckResult]] = []
    if alone or len(days) == 1:
        failed = [(day, r) for day, where in days if not (r := validate_events(_scan([where]))).passed]
    if not failed and len(days) > 1:
        together = validate_events(_scan([where for _, where in days]))
        if not together.passed:
            failed.append((f"{days[0][0]}..{days[-1][0]}", together))
    return failed


class ContractChecks:
    """``contract.CleanedEvent`` over the days a run writes, checked in a thread of its own as they
    are written, while the step reads the next days (the gate's query runs in polars, off the
    interpreter lock); :meth:`result` waits for the last days and answers.

    Every stored row is still validated each run: the rows as the step writes them (:meth:`add_rows`,
    the step does not read back what it wrote: re-reading and decoding the files was most of the
    check's cost), or days stored before (:meth:`add`, from the files: what a reader gets);
    consecutive days in groups of :data:`GROUP_ROWS` rows by the one-query gate (held to pandera's
    verdict by ``tests/test_contract_gate.py``), event ids unique across the groups of a batch of up
    to :data:`CHECK_BATCH_ROWS` rows (a batch's ids, 8 bytes each, dropped once compared), and
    pandera itself, for its failure cases, only where the gate refused: each day of a refused group
    alone, so the result names the failing days.
    """

    def __init__(self, batch_rows: int = CHECK_BATCH_ROWS, group_rows: int = GROUP_ROWS) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="contract-check")
        self._limits = (batch_rows, group_rows)
        self._batches: list[tuple[list[_Group], Future[bool]]] = []  # and whether no id is in two groups
        self._groups: list[_Group] = []  # the open batch's
        self._days: list[tuple[str, str]] = []  # the open group's
        self._rows = [0, 0]  # in the open batch, in the open group
        self._ids: list[pl.Series | None] = []  # the open batch's, touched by the checking thread only
        self._frames: list[pl.DataFrame] = []  # the open group's rows as written (add_rows)
        self._as_written: dict[str, str] = {}  # days checked as written -> where they are stored
        self._frame_rows = min(group_rows, FRAME_GROUP_ROWS)

    def add(self, day: str, where: str, rows: int) -> None:
        """Check the day stored at ``where`` (a file or an ``s3://`` URL; ``rows`` written); for a
        day whose rows were handed over as written (:meth:`add_rows`), only say where it is."""
        if day in self._as_written:
            self._as_written[day] = where
            return
        if self._frames:  # a group holds rows or names stored days, not both
            self._close_group()
        if (self._groups or self._days) and self._rows[0] + rows > self._limits[0]:
            self._close_batch()
        self._days.append((day, where))
        self._rows = [self._rows[0] + rows, self._rows[1] + rows]
        if self._rows[1] >= self._limits[1]:
            self._close_group()

    def add_rows(self, day: str, rows: pl.DataFrame) -> None:
        """Check ``rows`` of ``day`` as they are written (a block at a time; :meth:`add` follows once
        the day is stored, to say where it is, for the failure cases)."""
        if not rows.height:
            return
        if self._days and not self._frames:  # the open group names stored days
            self._close_group()
        if (self._groups or self._days) and self._rows[0] + rows.height > self._limits[0]:
            self._close_batch()
        if not self._days or self._days[-1][0] != day:
            self._days.append((day, ""))
        self._as_written.setdefault(day, "")
        self._frames.append(rows)
        self._rows = [self._rows[0] + rows.height, self._rows[1] + rows.height]
        if self._rows[1] >= self._frame_rows:
            self._close_group()

    def all_added(self) -> None:
        """Every day is added: the last ones are checked from now on (while the caller does other
        work before it asks for the :meth:`result`)."""
        self._close_batch()

    def _close_group(self) -> None:
        if self._days:
            rows = (
                pl.concat(self._frames, how="vertical").lazy()
                if self._frames
                else _scan([where for _, where in self._days])
            )
            self._groups.append(_Group(self._days, self._pool.submit(self._check_group, rows)))
        self._days, self._frames, self._rows[1] = [], [], 0

    def _close_batch(self) -> None:
        self._close_group()
        if self._groups:
            self._batches.append((self._groups, self._pool.submit(self._ids_apart, len(self._groups))))
        self._groups, self._rows[0] = [], 0

    def _check_group(self, rows: pl.LazyFrame) -> tuple[bool, int, float]:
        started = time.perf_counter()
        ok, rows_checked, ids = _group_parts(rows)
        self._ids.append(ids)
        return ok, rows_checked, time.perf_counter() - started

    def _ids_apart(self, groups: int) -> bool:
        """Whether no event id of the batch just checked (its ``groups`` groups) is in two of them
        (``False`` also when some id is not a number: pandera then decides)."""
        ids, self._ids = self._ids, []
        if groups == 1:
            return True  # within a group: the gate's own uniqueness rule
        numbers = [n for n in ids if n is not None]
        return len(numbers) == len(ids) and not pl.concat(numbers).is_duplicated().any()

    def __enter__(self) -> ContractChecks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop checking (a step that failed); days being checked are finished first."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def result(self) -> dg.AssetCheckResult:
        """The verdict over every day added (waits for the days still being checked)."""
        started = time.perf_counter()
        self._close_batch()
        try:
            batches = [
                ([(g, *g.verdict.result()) for g in groups], apart.result())
                for groups, apart in self._batches
            ]
        finally:
            self.close()
        checked = [group for groups, _ in batches for group in groups]
        # what checking as the days were written took, and how long the step waited for it at its end
        timing = {
            "checking_seconds": round(sum(seconds for *_, seconds in checked), 3),
            "waited_seconds": round(time.perf_counter() - started, 3),
        }
        if not checked:
            return dg.AssetCheckResult(check_name=MATCHES_CONTRACT, passed=True, description="no day written")
        failed: list[tuple[str, dg.AssetCheckResult]] = []
        for groups, _ in batches:  # days checked as written: pandera's cases come from where they are
            for g, *_ in groups:
                g.days = [(day, self._as_written.get(day) or where) for day, where in g.days]
        for groups, apart in batches:
            refused = [_unique_days(g.days) for g, ok, *_ in groups if not ok]
            for group_days in refused:
                failed.extend(_failing(group_days))
            if not refused and not apart:
                failed.extend(
                    _failing(_unique_days([day for g, *_ in groups for day in g.days]), alone=False)
                )
        days = len({day for g, *_ in checked for day, _ in g.days})
        rows = sum(n for _, _, n, _ in checked)
        if not failed:
            return dg.AssetCheckResult(
                check_name=MATCHES_CONTRACT,
                passed=True,
                metadata={
                    "rows": rows,
                    "model": CleanedEvent.__name__,
                    "partitions": days,
                    **timing,
                },
            )
        key, first = failed[0]
        if len(failed) == 1:
            return dg.AssetCheckResult(
                check_name=MATCHES_CONTRACT,
                passed=False,
                description=f"{key}: {first.description}",
                metadata={**first.metadata, "failed_days": dg.MetadataValue.json([key])},
            )
        return dg.AssetCheckResult(
            check_name=MATCHES_CONTRACT,
            passed=False,
            description=f"{len(failed)} of {days} days fail contract.CleanedEvent: "
            + ", ".join(str(k) for k, _ in failed[:10]),
            metadata={
                **first.metadata,
                "rows": rows,
                "failed_days": dg.MetadataValue.json([k for k, _ in failed]),
            },
        )


__all__ = [
    "CHECK_BATCH_ROWS",
    "CONTRACT_CHECK",
    "FRAME_GROUP_ROWS",
    "GROUP_ROWS",
    "MATCHES_CONTRACT",
    "VALUE_COLUMNS",
    "ContractChecks",
    "check_unique_ids",
    "validate_events",
]
