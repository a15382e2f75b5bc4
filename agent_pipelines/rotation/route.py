"""Routing each line: to its day's archive, back to a live file, or to the quarantine (with the
reader's rules, then pandera as the last gate)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import accumulate
from pathlib import Path
from typing import Any, Protocol

import pandera.errors
import polars as pl

from agent_pipelines import contract, paths, reader
from agent_pipelines.archive import (
    EVENT_KINDS,
    LIVE_FILES,
    MONTHLY,
    Kind,
)
from agent_pipelines.contract import MAX_LINE_BYTES, Reason
from agent_pipelines.rotation.config import RotationError, Settings


class _Sink(Protocol):
    def archive(self, kind: Kind, period: str, data: bytes, lines: int) -> None: ...
    def back(self, target: str, data: bytes, lines: int) -> None: ...
    def quarantine(self, records: list[dict[str, Any]]) -> None: ...
    def oversize(self, source: Path, offset: int, length: int) -> str | None: ...


def _route_file(
    path: Path, kind: Kind, origin: str, quarantine_name: str, s: Settings, sink: _Sink
) -> dict[str, int]:
    """Read a file block by block (the reader's :func:`~agent_pipelines.reader.iter_blocks`, so
    memory stays bounded whatever the lines) and hand each line to the sink. Returns
    bytes/lines/blank. A UTF-8 byte-order mark at the start is not a line: it is dropped."""
    totals = {"bytes": 0, "lines": 0, "blank": 0}
    with open(path, "rb") as handle:
        offset = reader.skip_bom(handle)
        line_no = 1
        for piece in reader.iter_blocks(handle, offset=offset, max_line_bytes=MAX_LINE_BYTES):
            if isinstance(piece, reader.Lines):
                n, blank = _route_block(piece.data, kind, quarantine_name, line_no, piece.offset, s, sink)
                totals["lines"] += n
                totals["blank"] += blank
                line_no += n
                offset = piece.offset + len(piece.data)
            elif isinstance(piece, reader.LongLine):
                kept = sink.oversize(path, piece.offset, piece.length)
                detail = f"line is {piece.length} bytes, over the {MAX_LINE_BYTES}-byte bound"
                if kept:
                    detail += f"; kept whole in the quarantine as {kept}"
                record = _record(quarantine_name, line_no, piece.offset, Reason.LINE_TOO_LONG, detail, b"")
                record["raw"] = piece.head.decode("utf-8", errors="backslashreplace")
                record["raw_bytes"] = piece.length
                sink.quarantine([record])
                totals["lines"] += 1
                line_no += 1
                offset = piece.offset + piece.length + piece.ended
            else:  # no writer can finish it any more: the file was renamed away and locked
                sink.quarantine(
                    [
                        _record(
                            quarantine_name,
                            line_no,
                            piece.offset,
                            Reason.TRUNCATED_LINE,
                            "no newline",
                            piece.data,
                        )
                    ]
                )
                totals["lines"] += 1
                offset = piece.offset + len(piece.data)
    totals["bytes"] = offset
    return totals


def _route_block(
    block: bytes, kind: Kind, qname: str, first_line: int, base_offset: int, s: Settings, sink: _Sink
) -> tuple[int, int]:
    """Route the complete lines of one block. Returns (lines, blank lines)."""
    if kind in EVENT_KINDS:
        judged = _judge_events(block, kind, qname, first_line, base_offset, s.today)
        if isinstance(judged, _OneDestination):
            return judged.route(sink, kind)
        verdicts, bad_idx = judged
        lines = block.split(b"\n")
    else:
        lines = block.split(b"\n")
        verdicts, bad_idx = _judge_light(lines[:-1], kind, s.today)
    lines.pop()  # the block ends with a newline
    bad = _records(lines, bad_idx, qname, first_line, base_offset)
    if bad:
        sink.quarantine(bad)
    blank = len(lines) - verdicts.height - len(bad)
    if verdicts.is_empty():
        return len(lines), blank
    dests = verdicts["dest"].unique()
    if not bad and blank == 0 and dests.len() == 1:  # the whole block, as is
        _emit(sink, kind, dests[0], block, len(lines))
        return len(lines), blank
    grouped = verdicts.group_by("dest", maintain_order=True).agg(pl.col("idx").sort())
    for dest, idxs in grouped.iter_rows():
        data = b"\n".join([lines[i] for i in idxs]) + b"\n"
        _emit(sink, kind, dest, data, len(idxs))
    return len(lines), blank


@dataclass
class _OneDestination:
    """A block of event lines whose good lines all go to one place, and whose bad lines the reader
    located (offset and length): the common case, routed by cutting the bad lines out of the block
    instead of splitting it into lines and joining them again."""

    block: bytes
    dest: str
    lines: int
    cuts: list[tuple[int, int]]  # (offset in the block, length) of each bad line, in order
    records: list[dict[str, Any]]

    def route(self, sink: _Sink, kind: Kind) -> tuple[int, int]:
        if self.records:
            sink.quarantine(self.records)
        data = self.block
        if self.cuts:
            pieces, at = [], 0
            for offset, length in self.cuts:
                pieces.append(data[at:offset])
                at = offset + length + 1
            pieces.append(data[at:])
            data = b"".join(pieces)
        _emit(sink, kind, self.dest, data, self.lines - len(self.cuts))
        return self.lines, 0


def _emit(sink: _Sink, kind: Kind, dest: str, data: bytes, n: int) -> None:
    where, _, name = dest.partition(":")
    if where == "archive":
        sink.archive(kind, name, data, n)
    else:
        sink.back(name, data, n)


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


def _judge_events(
    block: bytes, kind: Kind, qname: str, first_line: int, base: int, today: date
) -> _OneDestination | tuple[pl.DataFrame, dict[int, tuple[str, str]]]:
    """Verdicts for event lines: the reader's contract checks, then the pandera model as a gate.

    The common case comes back as a :class:`_OneDestination`; otherwise (good lines for several
    places, blank lines, a line pandera refused or one the reader did not locate) the verdict per
    line index: its destination, or its quarantine reason and detail.
    """
    result = reader.read_bytes(block, source_name=qname, first_line=first_line, base_offset=base)
    events = result.events
    failures = _pandera_failures(events)
    if not failures.height:
        one = _one_destination(block, events, result.quarantine, kind, qname, base, today)
        if one is not None:
            return one
    bad_idx: dict[int, tuple[str, str]] = {
        ln - first_line: (reason, detail)
        for ln, reason, detail in result.quarantine.select("line_number", "reason", "detail").iter_rows()
    }
    if failures.height:
        failed = events.select("event_id", "line_number").join(failures, on="event_id", how="inner")
        for ln, reason, detail in failed.select("line_number", "reason", "detail").iter_rows():
            bad_idx[ln - first_line] = (reason, detail)
        events = events.join(failures, on="event_id", how="anti")
    verdicts = events.select((pl.col("line_number") - first_line).alias("idx"), _dest_expr(kind, today))
    return verdicts, bad_idx


def _one_destination(
    block: bytes, events: pl.DataFrame, bad: pl.DataFrame, kind: Kind, qname: str, base: int, today: date
) -> _OneDestination | None:
    if events.is_empty():
        return None
    dests = events.select(_dest_expr(kind, today)).unique()
    n_lines = block.count(b"\n")
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
        records.append(_record(qname, ln, offset, reason, detail, block[start:end]))
    return _OneDestination(block, dests.item(), n_lines, cuts, records)


def _pandera_failures(events: pl.DataFrame) -> pl.DataFrame:
    """event_id, reason, detail for rows ``contract.CleanedEvent`` refuses.

    Identical lines (same event_id) are judged once: the table the model describes holds one row
    per distinct line, and duplicates ride along with their first copy. A schema-level failure (a
    column missing or mistyped) is a bug in our code, not bad input, so it stops the rotation.
    """
    empty = pl.DataFrame(schema={"event_id": pl.String, "reason": pl.String, "detail": pl.String})
    if events.is_empty():
        return empty
    unique = reader.dedupe(events)
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


def _judge_light(
    lines: list[bytes], kind: Kind, today: date
) -> tuple[pl.DataFrame, dict[int, tuple[str, str]]]:
    """Verdicts for alerts and metrics: any JSON object with an ISO 8601 ``timestamp``."""
    idx: list[int] = []
    days: list[date] = []
    bad_idx: dict[int, tuple[str, str]] = {}
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        day = _line_day(line)
        if isinstance(day, tuple):
            bad_idx[i] = (day[0].value, day[1])
        else:
            idx.append(i)
            days.append(day)
    frame = pl.DataFrame({"idx": idx, "day": days}, schema={"idx": pl.Int64, "day": pl.Date})
    return frame.select("idx", _dest_expr(kind, today)), bad_idx


def _line_day(line: bytes) -> date | tuple[Reason, str]:
    """The UTC day of a line's ``timestamp``, or why the line cannot have one."""
    if len(line) > MAX_LINE_BYTES:
        return Reason.LINE_TOO_LONG, f"line is {len(line)} bytes"
    try:
        obj = reader.decode_line(line.rstrip(b"\r"))  # the reader's rules: depth, duplicate keys, NaN
    except contract.ContractError as exc:
        return exc.reason, exc.detail
    stamp = obj.get("timestamp")
    if stamp is None:
        return Reason.MISSING_FIELD, "'timestamp' is required"
    if not isinstance(stamp, str):
        return Reason.WRONG_TYPE, "'timestamp' must be an ISO 8601 string"
    try:
        return contract.parse_timestamp(stamp).date()
    except ValueError:
        return Reason.INVALID_TIMESTAMP, f"'timestamp' is not ISO 8601: {stamp!r:.60}"


def _records(
    lines: list[bytes], bad_idx: dict[int, tuple[str, str]], qname: str, first_line: int, base: int
) -> list[dict[str, Any]]:
    if not bad_idx:
        return []
    starts = [0, *accumulate(len(line) + 1 for line in lines)]
    return [
        _record(qname, first_line + i, base + starts[i], reason, detail, lines[i])
        for i, (reason, detail) in sorted(bad_idx.items())
    ]


def _record(qname: str, line_no: int, offset: int, reason: str, detail: str, raw: bytes) -> dict[str, Any]:
    """A quarantine record keeping the whole raw line (rotation removes it from the logs)."""
    return {
        "source_file": qname,
        "line_number": line_no,
        "byte_offset": offset,
        "reason": str(reason),
        "detail": detail,
        "raw": raw.decode("utf-8", errors="backslashreplace"),
        "raw_bytes": len(raw),
    }
