"""Verdicts for the lines of one block: each line's destination (its day's archive or a live
file) or its quarantine reason, by the shared reader's contract checks and then the pandera model.
Pure functions of the block's bytes, so blocks can be judged in any thread, in any order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandera.errors
import polars as pl

from agent_pipelines.core import contract, paths, reader
from agent_pipelines.core.archive import EVENT_KINDS, LIVE_FILES, MONTHLY, Kind
from agent_pipelines.core.contract import MAX_LINE_BYTES, gate
from agent_pipelines.core.reader.blocks import parse_lines
from agent_pipelines.ops.rotation.config import RotationError
from agent_pipelines.ops.rotation.light import light_days
from agent_pipelines.text.redaction_frame import redact_record


@dataclass
class OneDestination:
    """A block of event lines whose good lines all go to one place, and whose bad lines the reader
    located (offset and length): the common case, routed by cutting the bad lines out of the block
    instead of splitting it into lines and joining them again."""

    block: bytes
    dest: str
    lines: int
    cuts: list[tuple[int, int]]  # (offset in the block, length) of each bad line, in order
    records: list[dict[str, Any]]

    def kept(self) -> bytes:
        """The block without its bad lines (copied once: the pieces are views into the block)."""
        if not self.cuts:
            return self.block
        view = memoryview(self.block)
        pieces, at = [], 0
        for offset, length in self.cuts:
            pieces.append(view[at:offset])
            at = offset + length + 1
        pieces.append(view[at:])
        return b"".join(pieces)


@dataclass
class PerLine:
    """A block's verdict line by line: ``verdicts`` (``idx``, ``dest``) for the lines that go
    somewhere, ``bad`` (line index -> quarantine reason and detail) for the others; the lines not
    in either are blank."""

    verdicts: pl.DataFrame
    bad: dict[int, tuple[str, str]]
    lines: int  # the block's lines, as its judge split it (so no one counts them again)


# A block's verdicts: the common case whole, or the verdict of each line (destination or quarantine)
Judged = OneDestination | PerLine


def judge_block(
    block: bytes, kind: Kind, qname: str, first_line: int, base_offset: int, today: date
) -> Judged:
    """The verdicts for one block's lines (see :func:`_route_block`)."""
    if kind in EVENT_KINDS:
        return _judge_events(block, kind, qname, first_line, base_offset, today)
    days, bad, n_lines = light_days(block)
    return PerLine(_with_dest(days, kind, today, "idx"), bad, n_lines)


def _dest_expr(kind: Kind, today: date) -> pl.Expr:
    """``archive:<period>`` for closed periods, ``back:<live file>`` for the rest."""
    day = pl.col("day")
    if kind in MONTHLY:
        period = day.dt.strftime("%Y-%m")
        closed = period < today.strftime("%Y-%m")
    else:
        period = day.dt.strftime("%Y-%m-%d")
        closed = day < pl.lit(today)
    if kind == Kind.STREAM:
        live = pl.lit("back:" + paths.STREAM_DIR + "/") + period + pl.lit(".jsonl")
    else:
        live = pl.lit("back:" + LIVE_FILES[kind])
    return pl.when(closed).then(pl.lit("archive:") + period).otherwise(live).alias("dest")


def _with_dest(frame: pl.DataFrame, kind: Kind, today: date, *keep: str) -> pl.DataFrame:
    """``keep`` and each row's ``dest`` (:func:`_dest_expr`), formatted once per distinct day and
    joined back: a block holds a day or a few, and formatting a date per row was most of the cost
    of routing a block that is otherwise all polars."""
    days = frame.select(pl.col("day").unique())
    dests = days.with_columns(_dest_expr(kind, today))
    joined = frame.select(*keep, "day").join(
        dests, on="day", how="left", nulls_equal=True, maintain_order="left"
    )
    return joined.drop("day")


def _judge_events(block: bytes, kind: Kind, qname: str, first_line: int, base: int, today: date) -> Judged:
    """Verdicts for event lines: the reader's contract checks, then the pandera model as a gate.

    The common case comes back as a :class:`OneDestination`; otherwise (good lines for several
    places, blank lines, a line pandera refused or one the reader did not locate) the verdict per
    line index: its destination, or its quarantine reason and detail.
    """
    # Not redacted: only the verdicts and days are kept (the archive holds the original bytes, and
    # the quarantine records are redacted as they are made), so the gate judges the lines as archived.
    # The reader's parse of a block in memory (what ``reader.read_bytes`` runs), keeping its count of
    # the block's lines: counting the newlines of every block again cost a quarter second at 1M events.
    events, records, n_lines = parse_lines(block, qname, first_line, base, MAX_LINE_BYTES, redact=False)
    quarantined = pl.DataFrame(records, schema=reader.QUARANTINE_SCHEMA)
    failures = _pandera_failures(events)
    if not failures.height:
        one = _one_destination(block, n_lines, events, quarantined, kind, qname, base, today)
        if one is not None:
            return one
    bad_idx: dict[int, tuple[str, str]] = {
        ln - first_line: (reason, detail)
        for ln, reason, detail in quarantined.select("line_number", "reason", "detail").iter_rows()
    }
    if failures.height:
        failed = events.select("event_id", "line_number").join(failures, on="event_id", how="inner")
        for ln, reason, detail in failed.select("line_number", "reason", "detail").iter_rows():
            bad_idx[ln - first_line] = (reason, detail)
        events = events.join(failures, on="event_id", how="anti")
    indexed = events.select((pl.col("line_number") - first_line).alias("idx"), "day")
    return PerLine(_with_dest(indexed, kind, today, "idx"), bad_idx, n_lines)


def _one_destination(
    block: bytes,
    n_lines: int,
    events: pl.DataFrame,
    bad: pl.DataFrame,
    kind: Kind,
    qname: str,
    base: int,
    today: date,
) -> OneDestination | None:
    if events.is_empty():
        return None
    dests = events.select(pl.col("day").unique()).select(_dest_expr(kind, today)).unique()
    if dests.height != 1 or events.height + bad.height != n_lines:  # several places, or blank lines
        return None
    cuts: list[tuple[int, int]] = []
    records: list[dict[str, Any]] = []
    rows = (
        bad.sort("line_number")
        .select("line_number", "byte_offset", "raw_bytes", "reason", "detail")
        .iter_rows()
    )
    for ln, offset, length, reason, detail in rows:
        start, end = offset - base, offset - base + length
        if (start > 0 and block[start - 1] != 10) or block[end : end + 1] != b"\n":
            return None  # not a whole line as the block has it: let the split path judge
        cuts.append((start, length))
        records.append(quarantine_record(qname, ln, offset, reason, detail, block[start:end]))
    return OneDestination(block, dests.item(), n_lines, cuts, records)


def _pandera_failures(events: pl.DataFrame) -> pl.DataFrame:
    """event_id, reason, detail for rows ``contract.CleanedEvent`` refuses.

    Identical lines (same event_id) are judged once: the table the model describes holds one row
    per distinct line, and duplicates ride along with their first copy. A schema-level failure (a
    column missing or mistyped) is a bug in our code, not bad input, so it stops the rotation.

    The model's checks run first as one query (:func:`~agent_pipelines.core.contract.gate.passes`,
    which says "passes" only where pandera would); pandera itself runs only for a block that fails,
    for its failure cases and messages.
    """
    empty = pl.DataFrame(schema={"event_id": pl.String, "reason": pl.String, "detail": pl.String})
    if events.is_empty():
        return empty
    # A block without a line written twice (the usual one) is its own distinct lines: judged as it
    # is, without deduplicating first. The model's checks are per row but for event_id's uniqueness,
    # so "passes" here means the distinct lines pass too; otherwise deduplicate and judge again.
    if gate.passes(events, contract.CleanedEvent):
        return empty
    unique = reader.dedupe(events)
    if unique.height < events.height and gate.passes(unique, contract.CleanedEvent):
        return empty
    try:
        contract.CleanedEvent.validate(unique, lazy=True)
        return empty
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    if cases["index"].is_null().any():
        summary = cases.filter(pl.col("index").is_null()).select("column", "check").head(5).to_dicts()
        raise RotationError(f"the cleaned-event schema itself fails (a bug, not bad data): {summary}")
    cases = cases.with_columns(pl.col("index").cast(pl.Int64)).unique("index", keep="first")
    ids = unique["event_id"]
    return pl.DataFrame(
        {
            "event_id": [ids[i] for i in cases["index"].to_list()],
            "reason": [f"pandera:{c}" for c in cases["check"].to_list()],
            "detail": [
                f"{col or 'row'}: failure case {str(val)[:80]}"
                for col, val in zip(cases["column"].to_list(), cases["failure_case"].to_list(), strict=True)
            ],
        },
        schema=empty.schema,
    )


def quarantine_record(
    qname: str, line_no: int, offset: int, reason: str, detail: str, raw: bytes
) -> dict[str, Any]:
    """A quarantine record keeping the whole raw line (rotation removes it from the logs), secrets
    redacted (they never leave the log they were written to)."""
    return redact_record(
        {
            "source_file": qname,
            "line_number": line_no,
            "byte_offset": offset,
            "reason": str(reason),
            "detail": detail,
            "raw": raw.decode("utf-8", errors="backslashreplace"),
            "raw_bytes": len(raw),
        },
        ("detail", "raw"),
    )
