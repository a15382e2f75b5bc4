"""Reading JSONL logs into a typed frame of valid events and a quarantine of everything else.

Speed comes from letting polars parse whole blocks of lines at once, with every field read as
*JSON text* (a ``String`` schema makes ``read_ndjson`` keep ``12``, ``"12"`` and ``{"a": 1}`` alike
as text). A wrongly typed value therefore never fails a block; the contract's vectorized rules then
say which rows are bad and why. Only lines that are not JSON at all (malformed, invalid UTF-8, not an
object) make a block fail to parse; the block is then bisected until the bad lines are isolated and
judged one by one in Python, so one bad line costs a few extra parses of its neighbourhood rather
than a slow path for the whole file.

A last line without its newline is a writer mid-``write``: it is left for the next read (the offset
returned stops before it) unless the caller says the file is final, in which case it is quarantined
as ``truncated_line``.
"""

from __future__ import annotations

import bisect
import io
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from agent_pipelines import archive, paths
from agent_pipelines.contract import (
    CLEANED_SCHEMA,
    INT_FIELDS,
    MAX_LINE_BYTES,
    PAYLOAD_BOOL_FIELDS,
    PAYLOAD_COLUMNS,
    PAYLOAD_FLOAT_FIELDS,
    PAYLOAD_INT_FIELDS,
    STRING_FIELDS,
    TOP_LEVEL_FIELDS,
    ContractError,
    Reason,
    check_event,
    timestamp_expr,
    violation_exprs,
)

BLOCK_BYTES = 32 << 20  # parse up to 32 MiB at a time: big enough for polars, bounded memory
_SMALL_SEGMENT = 16  # below this many lines, judge each line in Python
_FAN_OUT = 64  # a block that fails to parse is retried as this many segments
RAW_KEEP_BYTES = 64 << 10  # quarantine keeps at most this much of a bad line (and says so)

RAW_SCHEMA: dict[str, pl.DataType] = {name: pl.String() for name in TOP_LEVEL_FIELDS}
PAYLOAD_SCHEMA: dict[str, pl.DataType] = {name: pl.String() for name in PAYLOAD_COLUMNS}

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "source_file": pl.String(),
    "line_number": pl.Int64(),
    "byte_offset": pl.Int64(),
    "reason": pl.String(),
    "detail": pl.String(),
    "raw": pl.String(),
    "raw_bytes": pl.Int64(),
}


@dataclass
class ReadResult:
    """Valid events (``CLEANED_SCHEMA``), the quarantine, and how far each file was read."""

    events: pl.DataFrame
    quarantine: pl.DataFrame
    offsets: dict[str, int] = field(default_factory=dict)  # source_file -> bytes consumed
    lines: dict[str, int] = field(default_factory=dict)  # source_file -> lines consumed
    pending_bytes: int = 0  # bytes of half-written last lines left for the next read

    @property
    def reasons(self) -> dict[str, int]:
        if self.quarantine.is_empty():
            return {}
        counts = self.quarantine.group_by("reason").len().sort("reason")
        return dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True))

    @classmethod
    def concat(cls, results: Iterable[ReadResult]) -> ReadResult:
        results = list(results)
        if not results:
            return cls(empty_events(), empty_quarantine())
        out = cls(
            pl.concat([r.events for r in results], how="vertical"),
            pl.concat([r.quarantine for r in results], how="vertical"),
        )
        for r in results:
            out.offsets.update(r.offsets)
            out.lines.update(r.lines)
            out.pending_bytes += r.pending_bytes
        return out


def empty_events() -> pl.DataFrame:
    return pl.DataFrame(schema=CLEANED_SCHEMA)


def empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


def read_file(
    path: str | os.PathLike[str],
    *,
    start: int = 0,
    first_line: int = 1,
    final: bool = False,
    source_name: str | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> ReadResult:
    """Read one JSONL file from byte ``start`` (a line boundary) to its last complete line.

    ``first_line`` is the line number at ``start`` (for a tailer resuming mid-file). With ``final``
    a trailing partial line is quarantined instead of being left for later.
    """
    path = Path(path)
    name = source_name or str(path)
    events: list[pl.DataFrame] = []
    quarantine: list[dict] = []
    offset, line_no, pending = start, first_line, 0
    # An archived day (``.jsonl.gz``) reads like any other file; offsets count decompressed bytes.
    with archive.open_log(path) as handle:
        handle.seek(start)
        carry = b""
        while True:
            chunk = handle.read(BLOCK_BYTES)
            block = carry + chunk
            if not chunk:
                if block:  # no newline at the end of the file
                    if final:
                        quarantine.append(
                            _bad(
                                name,
                                line_no,
                                offset,
                                Reason.TRUNCATED_LINE,
                                "last line has no newline",
                                block,
                            )
                        )
                        offset += len(block)
                        line_no += 1
                    else:
                        pending = len(block)
                break
            cut = block.rfind(b"\n") + 1
            if cut == 0:
                if len(block) <= max_line_bytes:
                    carry = block
                    continue
                # An enormous line: walk to its end without holding it in memory.
                head, length = block[:RAW_KEEP_BYTES], len(block)
                while (chunk := handle.read(BLOCK_BYTES)) and (nl := chunk.find(b"\n")) < 0:
                    length += len(chunk)
                detail = f"line is over the {max_line_bytes}-byte bound"
                if not chunk:  # the file ends inside it
                    if final:
                        quarantine.append(
                            _bad(name, line_no, offset, Reason.LINE_TOO_LONG, detail, head, length)
                        )
                        offset, line_no = offset + length, line_no + 1
                    else:
                        pending = length
                    carry = b""
                    break
                length += nl
                quarantine.append(_bad(name, line_no, offset, Reason.LINE_TOO_LONG, detail, head, length))
                offset, line_no = offset + length + 1, line_no + 1
                carry = chunk[nl + 1 :]
                continue
            frame, bad = _parse_block(block[:cut], name, line_no, offset, max_line_bytes)
            if frame.height:
                events.append(frame)
            quarantine.extend(bad)
            line_no += block.count(b"\n", 0, cut)
            offset += cut
            carry = block[cut:]
    return ReadResult(
        events=pl.concat(events, how="vertical") if events else empty_events(),
        quarantine=pl.DataFrame(quarantine, schema=QUARANTINE_SCHEMA) if quarantine else empty_quarantine(),
        offsets={name: offset},
        lines={name: line_no - 1},
        pending_bytes=pending,
    )


def read_bytes(
    data: bytes, *, source_name: str = "<bytes>", first_line: int = 1, base_offset: int = 0
) -> ReadResult:
    """Parse complete lines held in memory (the data must end with a newline)."""
    frame, bad = _parse_block(data, source_name, first_line, base_offset, MAX_LINE_BYTES)
    return ReadResult(
        events=frame if frame.height else empty_events(),
        quarantine=pl.DataFrame(bad, schema=QUARANTINE_SCHEMA) if bad else empty_quarantine(),
    )


def stream_files(logs_root: Path, days: Iterable[date] | None = None) -> list[Path]:
    """The files holding stream events: archived days, daily partitions (all, or the given days) and
    the seed's file. A day can be in both the archive and a partition (a late line written after the
    day was rotated); each line is in exactly one of them."""
    files: list[Path] = archive.archived_stream_files(logs_root, days)
    stream_dir = logs_root / paths.STREAM_DIR
    if days is None:
        files.extend(sorted(stream_dir.glob("*.jsonl")))
    else:
        files.extend(
            p for d in sorted(set(days)) if (p := paths.stream_partition_path(logs_root, d)).exists()
        )
    legacy = logs_root / paths.STREAM_FILE
    if legacy.exists():
        files.append(legacy)
    return files


def partition_days(logs_root: Path) -> list[date]:
    """UTC days present in the daily partitions and the archive (the seed's single file adds days
    only once read)."""
    days = set()
    for path in (logs_root / paths.STREAM_DIR).glob("*.jsonl"):
        try:
            days.add(date.fromisoformat(path.stem))
        except ValueError:
            continue
    for period, _ in archive.archived(logs_root, archive.Kind.STREAM):
        try:
            days.add(date.fromisoformat(period))
        except ValueError:
            continue
    return sorted(days)


def read_logs(
    logs_root: str | os.PathLike[str],
    *,
    days: Iterable[date] | None = None,
    final_before: date | None = None,
) -> ReadResult:
    """Read the stream of a log folder: every daily partition (or the given days) and the seed's file.

    Events are filtered to ``days`` when given (the seed's file holds all days). Files of days before
    ``final_before`` are final: their half-written last line will never be finished.
    """
    root = Path(logs_root)
    wanted = set(days) if days is not None else None
    results = []
    for path in stream_files(root, wanted):
        rel = path.relative_to(root).as_posix()
        final = archive.is_compressed(path)  # an archive is never written to again
        if final_before is not None and path.parent == root / paths.STREAM_DIR:
            try:
                final = date.fromisoformat(path.stem) < final_before
            except ValueError:
                final = False
        result = read_file(path, final=final, source_name=rel)
        if wanted is not None:
            result.events = result.events.filter(pl.col("day").is_in(sorted(wanted)))
        results.append(result)
    return ReadResult.concat(results)


def dedupe(events: pl.DataFrame) -> pl.DataFrame:
    """One row per distinct line: the same event written twice (or read from two files) counts once."""
    return events.unique(subset=["event_id"], keep="first", maintain_order=True)


# --------------------------------------------------------------------------------------------
# Blocks
# --------------------------------------------------------------------------------------------


def _bad(
    name: str, line_no: int, offset: int, reason: Reason, detail: str, raw: bytes, length: int | None = None
) -> dict:
    text = raw[:RAW_KEEP_BYTES].decode("utf-8", errors="replace")
    return {
        "source_file": name,
        "line_number": line_no,
        "byte_offset": offset,
        "reason": reason.value,
        "detail": detail,
        "raw": text,
        "raw_bytes": len(raw) if length is None else length,
    }


def _parse_block(
    block: bytes, name: str, first_line: int, base_offset: int, max_line_bytes: int
) -> tuple[pl.DataFrame, list[dict]]:
    """Parse complete lines (``block`` ends with a newline). Returns (events, quarantine records)."""
    lines = block.split(b"\n")[:-1]
    starts: list[int] | None = None
    bad: list[dict] = []
    # Lines that cannot be a well-formed object (blank, torn, not starting with "{" and ending with
    # "}", too long, not UTF-8) are judged one by one up front: cheap to spot, and keeping them out
    # of polars' way means a block with a few bad lines still parses in one go.
    suspects = [
        i
        for i, line in enumerate(lines)
        if line[:1] != b"{" or (line[-1:] != b"}" and line[-2:] != b"}\r") or len(line) > max_line_bytes
    ]
    try:
        str(block, "utf-8")
    except UnicodeDecodeError:
        starts = _line_starts(lines)
        suspects = sorted(set(suspects) | _non_utf8_lines(block, starts))
    keep: list[int] | None = None
    payload: bytes | None = None
    frames = []
    if suspects:
        starts = starts or _line_starts(lines)
        suspect_set = set(suspects)
        keep = [i for i in range(len(lines)) if i not in suspect_set]
        payload = _without_lines(block, starts, suspects)
        loose: list[int] = []  # odd-looking but valid objects, e.g. with leading whitespace
        for i in suspects:
            line = lines[i]
            if len(line) > max_line_bytes:
                detail = f"line is {len(line)} bytes, over the {max_line_bytes}-byte bound"
                bad.append(
                    _bad(name, first_line + i, base_offset + starts[i], Reason.LINE_TOO_LONG, detail, line)
                )
            elif not line.strip():
                continue  # a blank line holds nothing to keep
            elif problem := _judge_line(line):
                bad.append(_bad(name, first_line + i, base_offset + starts[i], *problem, line))
            else:
                loose.append(i)
        for segment, rows, seg_bad in _parse_segments(lines, loose, one_by_one=True):
            if segment is not None:
                frames.append(segment.with_columns(_line_idx=pl.Series(rows, dtype=pl.Int64)))
            for i, reason, detail in seg_bad:
                bad.append(_bad(name, first_line + i, base_offset + starts[i], reason, detail, lines[i]))
    indices = keep if keep is not None else range(len(lines))
    for segment, rows, seg_bad in _parse_segments(lines, list(indices), payload=payload or block):
        if segment is not None:
            frames.append(segment.with_columns(_line_idx=pl.Series(rows, dtype=pl.Int64)))
        for i, reason, detail in seg_bad:
            if starts is None:
                starts = _line_starts(lines)
            bad.append(_bad(name, first_line + i, base_offset + starts[i], reason, detail, lines[i]))
    if not frames:
        return empty_events(), bad
    raw = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
    raw = raw.sort("_line_idx") if len(frames) > 1 else raw
    events, invalid = _validate(raw, name, first_line)
    if invalid.height:
        if starts is None:
            starts = _line_starts(lines)
        for i, reason, detail in invalid.select("_line_idx", "_reason", "_detail").iter_rows():
            bad.append(_bad(name, first_line + i, base_offset + starts[i], Reason(reason), detail, lines[i]))
    bad.sort(key=lambda r: r["line_number"])
    return events, bad


def _line_starts(lines: list[bytes]) -> list[int]:
    starts, pos = [], 0
    for line in lines:
        starts.append(pos)
        pos += len(line) + 1
    return starts


def _parse_segments(
    lines: list[bytes], indices: list[int], *, one_by_one: bool = False, payload: bytes | None = None
) -> Iterator[tuple[pl.DataFrame | None, list[int], list[tuple[int, Reason, str]]]]:
    """Parse the given lines (``payload``: those lines already joined); split around bad ones."""
    if not indices:
        return
    frame = None
    if not one_by_one:
        if payload is None:
            payload = b"\n".join(lines[i] for i in indices) + b"\n"
        try:
            frame = pl.read_ndjson(io.BytesIO(payload), schema=_schema_for(lines, indices))
        except Exception:  # polars raises ComputeError (and friends) for any non-JSON line
            frame = None
    if frame is not None and frame.height == len(indices):
        yield frame, indices, []
        return
    if one_by_one or len(indices) <= _SMALL_SEGMENT:
        good: list[int] = []
        bad: list[tuple[int, Reason, str]] = []
        for i in indices:
            problem = _judge_line(lines[i])
            if problem is None:
                good.append(i)
            else:
                bad.append((i, *problem))
        parsed: list[pl.DataFrame] = []
        rows: list[int] = []
        for i in good:  # one at a time: polars and json.loads may disagree on exotic input
            try:
                row = pl.read_ndjson(io.BytesIO(lines[i] + b"\n"), schema=_schema_for(lines, [i]))
            except Exception as exc:
                bad.append((i, Reason.MALFORMED_JSON, f"not parseable as JSON: {str(exc)[:120]}"))
                continue
            parsed.append(row)
            rows.append(i)
        yield (pl.concat(parsed, how="diagonal_relaxed") if parsed else None), rows, bad
        return
    # Split wide rather than in halves: with k bad lines among n, re-parsing costs about
    # n * k / _FAN_OUT extra lines instead of n * log2(k).
    step = max(_SMALL_SEGMENT, -(-len(indices) // _FAN_OUT))
    for lo in range(0, len(indices), step):
        yield from _parse_segments(lines, indices[lo : lo + step])


def _schema_for(lines: list[bytes], indices: list[int]) -> dict[str, pl.DataType]:
    """The raw schema plus any unknown top-level keys seen in the segment's first lines.

    A writer that adds a field adds it to every line it writes, so sampling the head of each
    segment finds it without paying for schema inference over the whole block.
    """
    schema = dict(RAW_SCHEMA)
    for i in indices[:64]:
        try:
            obj = json.loads(lines[i])
        except ValueError:
            continue
        if isinstance(obj, dict):
            for key in obj:
                if key not in schema and isinstance(key, str) and not key.startswith("_"):
                    schema[key] = pl.String()
    return schema


def _non_utf8_lines(block: bytes, starts: list[int]) -> set[int]:
    """Indices of lines holding invalid UTF-8: one decode per bad line, not one per line."""
    bad: set[int] = set()
    view = memoryview(block)
    pos = 0
    while pos < len(block):
        try:
            str(view[pos:], "utf-8")
            break
        except UnicodeDecodeError as exc:
            line = bisect.bisect_right(starts, pos + exc.start) - 1
            bad.add(line)
            pos = starts[line + 1] if line + 1 < len(starts) else len(block)
    return bad


def _without_lines(block: bytes, starts: list[int], drop: list[int]) -> bytes:
    """``block`` minus the given lines (sorted indices), cut with a few slices, not a join per line."""
    pieces, pos = [], 0
    for i in drop:
        pieces.append(block[pos : starts[i]])
        pos = starts[i + 1] if i + 1 < len(starts) else len(block)
    pieces.append(block[pos:])
    return b"".join(pieces)


def _judge_line(line: bytes) -> tuple[Reason, str] | None:
    """Why one line is not a JSON object, or ``None`` if it is one."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Reason.INVALID_UTF8, f"invalid UTF-8 at byte {exc.start}"
    try:
        obj = json.loads(text)
    except ValueError as exc:
        return Reason.MALFORMED_JSON, f"malformed JSON: {exc}"
    if not isinstance(obj, dict):
        return Reason.NOT_AN_OBJECT, f"a line must be a JSON object, got {type(obj).__name__}"
    return None


# --------------------------------------------------------------------------------------------
# From raw text to typed rows
# --------------------------------------------------------------------------------------------


_CANONICAL_TS = "%Y-%m-%dT%H:%M:%S%.fZ"  # what our logger and the seed's write


def _parse_timestamps(text: pl.Series) -> pl.Series:
    """Timestamps as UTC datetimes: one fast format for the usual case, the full grammar for the rest."""
    fast = pl.select(
        pl.when(text.str.contains(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")).then(
            text.str.to_datetime(_CANONICAL_TS, time_unit="us", strict=False).dt.replace_time_zone("UTC")
        )
    ).to_series()
    retry = fast.is_null() & text.is_not_null()
    if retry.any():
        others = pl.DataFrame({"t": text.filter(retry)}).select(timestamp_expr("t")).to_series()
        fast = fast.scatter(retry.arg_true(), others)
    return fast


def _payload_frame(data: pl.Series) -> pl.DataFrame:
    """Flatten ``data`` (JSON text) into one text column per known payload field."""
    text = data.fill_null("{}")
    text = pl.select(pl.when(text.str.starts_with("{")).then(text).otherwise(pl.lit("{}"))).to_series()
    try:
        payload = pl.read_ndjson(
            io.BytesIO(("\n".join(text.to_list()) + "\n").encode("utf-8")), schema=PAYLOAD_SCHEMA
        )
        if payload.height == len(text):
            return payload
    except Exception:
        pass
    rows = []
    for value in text.to_list():  # rare: a string value that merely starts with "{"
        try:
            obj = json.loads(value)
        except ValueError:
            obj = {}
        obj = obj if isinstance(obj, dict) else {}
        rows.append({k: _json_text(obj.get(k)) for k in PAYLOAD_COLUMNS})
    return pl.DataFrame(rows, schema=PAYLOAD_SCHEMA)


def _json_text(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _validate(raw: pl.DataFrame, name: str, first_line: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split raw rows into typed valid events and (line, reason, detail) for the invalid ones."""
    payload = _payload_frame(raw["data"]).rename({k: f"d.{k}" for k in PAYLOAD_COLUMNS})
    extras = [c for c in raw.columns if c not in RAW_SCHEMA and c != "_line_idx"]
    frame = pl.concat([raw, payload], how="horizontal")
    frame = frame.with_columns(_ts=_parse_timestamps(frame["timestamp"]))
    is_bad, reason, detail = violation_exprs()
    frame = frame.with_columns(_bad=is_bad)
    invalid = frame.filter(pl.col("_bad")).with_columns(_reason=reason, _detail=detail)
    valid = frame.filter(~pl.col("_bad"))
    typed = valid.select(
        pl.struct([*TOP_LEVEL_FIELDS, *extras]).hash(seed=0).cast(pl.String).str.zfill(20).alias("event_id"),
        pl.col("_ts").alias("timestamp"),
        pl.col("_ts").dt.date().alias("day"),
        *[pl.col(c) for c in STRING_FIELDS],
        *[pl.col(c).cast(pl.Int64, strict=False) for c in INT_FIELDS],
        *[pl.col(f"d.{c}").alias(c) for c in PAYLOAD_COLUMNS if c not in _TYPED_PAYLOAD],
        *[pl.col(f"d.{c}").cast(pl.Int64, strict=False).alias(c) for c in PAYLOAD_INT_FIELDS],
        *[pl.col(f"d.{c}").cast(pl.Float64, strict=False).alias(c) for c in PAYLOAD_FLOAT_FIELDS],
        *[(pl.col(f"d.{c}") == "true").alias(c) for c in PAYLOAD_BOOL_FIELDS],
        _data_with_extras(extras),
        pl.lit(name).alias("source_file"),
        (pl.col("_line_idx") + first_line).alias("line_number"),
    )
    return typed.select(list(CLEANED_SCHEMA)), invalid


_TYPED_PAYLOAD = {*PAYLOAD_INT_FIELDS, *PAYLOAD_FLOAT_FIELDS, *PAYLOAD_BOOL_FIELDS}


def _data_with_extras(extras: list[str]) -> pl.Expr:
    """``data`` as JSON text; unknown top-level fields ride along under ``"_extra"`` so none is lost."""
    data = pl.col("data").fill_null("{}")
    if not extras:
        return data.alias("data")
    extra_json = pl.struct(extras).struct.json_encode()
    has_extra = pl.any_horizontal([pl.col(c).is_not_null() for c in extras])
    merged = pl.concat_str(
        [
            data.str.strip_suffix("}"),
            pl.when(data == "{}").then(pl.lit("")).otherwise(pl.lit(", ")),
            pl.lit('"_extra": '),
            extra_json,
            pl.lit("}"),
        ]
    )
    return pl.when(has_extra).then(merged).otherwise(data).alias("data")


def check_line(line: bytes) -> tuple[Reason, str] | None:
    """Judge a single line exactly as the reader would (used by tests and the rotation job)."""
    if len(line) > MAX_LINE_BYTES:
        return Reason.LINE_TOO_LONG, f"line is {len(line)} bytes"
    problem = _judge_line(line)
    if problem:
        return problem
    try:
        check_event(json.loads(line))
    except ContractError as exc:
        return exc.reason, exc.detail
    return None
