"""One block of lines through polars at once; a block that does not parse is cut into segments
until the bad lines are found and judged one by one in Python."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence

import polars as pl

from agent_pipelines.core.contract import (
    MAX_DEPTH,
    MAX_LINE_BYTES,
    PAYLOAD_COLUMNS,
    STRING_FIELDS,
    Reason,
)
from agent_pipelines.core.reader.decode import python_rows
from agent_pipelines.core.reader.lines import (
    BlockLines,
    line_starts,
    non_utf8_lines,
    text_lines,
    text_lines_around,
    without_lines,
)
from agent_pipelines.core.reader.result import (
    RAW_KEEP_BYTES,
    RAW_SCHEMA,
    empty_events,
)
from agent_pipelines.core.reader.rows import validate
from agent_pipelines.text.redaction_frame import redact_frame, redact_record

# Columns of the cleaned table holding JSON text: redacted value by value so they stay JSON.
_JSON_COLUMNS = ("data", "outcome", "tool_params")
# Columns the reader makes itself (a hash, the file's name) or the contract holds to a list of names.
_OWN_COLUMNS = ("event_id", "source_file", "event_type")

_SMALL_SEGMENT = 16  # below this many lines, judge each line in Python
_FAN_OUT = 64  # a block that fails to parse is retried as this many segments


def quarantine_record(
    name: str, line_no: int, offset: int, reason: Reason, detail: str, raw: bytes, length: int | None = None
) -> dict:
    """One quarantined line; its text is redacted here, the one place every quarantine record is made."""
    text = raw[:RAW_KEEP_BYTES].decode("utf-8", errors="replace")
    return redact_record(
        {
            "source_file": name,
            "line_number": line_no,
            "byte_offset": offset,
            "reason": reason.value,
            "detail": detail,
            "raw": text,
            "raw_bytes": len(raw) if length is None else length,
        },
        ("detail", "raw"),
    )


def parse_block(
    block: bytes,
    name: str,
    first_line: int,
    base_offset: int,
    max_line_bytes: int,
    *,
    screen: bool = True,
    redact: bool = True,
) -> tuple[pl.DataFrame, list[dict]]:
    """Parse complete lines (``block`` ends with a newline). Returns (events, quarantine records):
    :func:`parse_lines` without the count of lines."""
    events, bad, _ = parse_lines(
        block, name, first_line, base_offset, max_line_bytes, screen=screen, redact=redact
    )
    return events, bad


def parse_lines(
    block: bytes,
    name: str,
    first_line: int,
    base_offset: int,
    max_line_bytes: int,
    *,
    screen: bool = True,
    redact: bool = True,
) -> tuple[pl.DataFrame, list[dict], int]:
    """Parse complete lines (``block`` ends with a newline). Returns (events, quarantine records,
    the block's count of lines: known from the split, not counted again over its bytes).

    Most lines go to polars in one parse. The few it cannot read faithfully (see
    :func:`_line_flags`) are judged one by one in Python, so each is an event or a quarantined
    record with a reason, and nothing in a line can raise past it. ``screen=False`` runs every
    rule on every row (the tests hold the screened reading to the same result). ``redact=False``:
    see :func:`~agent_pipelines.core.reader.stream.read_bytes`.
    """
    text = text_lines(block)
    invalid: set[int] = set()
    if text is None:  # invalid UTF-8 in a few lines: the rest is still split by polars
        text, invalid = text_lines_around(block)
    lines: Sequence[bytes] = BlockLines(block, text) if text is not None else block.split(b"\n")[:-1]
    starts: list[int] | None = None
    bad: list[dict] = []

    def quarantine(i: int, reason: Reason, detail: str) -> None:
        nonlocal starts
        if starts is None:
            starts = line_starts(lines)
        bad.append(quarantine_record(name, first_line + i, base_offset + starts[i], reason, detail, lines[i]))

    if text is None:
        try:
            str(block, "utf-8")
            text = pl.Series(lines, dtype=pl.Binary).cast(pl.String)
        except UnicodeDecodeError:
            starts = line_starts(lines)
            invalid = non_utf8_lines(block, starts)
            decoded = block.decode("utf-8", errors="replace")
            text = pl.Series([decoded]).str.split("\n").explode().head(len(lines))
    suspect_set, counts = _line_flags(text, max_line_bytes)
    suspects = sorted(suspect_set | invalid)
    frames = []
    # the lines polars parses, as a Series (their ``_line_idx``) and a list (for the segments)
    kept = pl.int_range(len(lines), dtype=pl.Int64, eager=True)
    payload = block
    if suspects:
        starts = starts or line_starts(lines)
        kept = kept.filter(kept.is_in(pl.Series(suspects, dtype=pl.Int64).implode()).not_())
        payload = without_lines(block, starts, suspects)
        frame, rows, seg_bad = python_rows(lines, suspects, max_line_bytes)
        if frame is not None:
            frames.append(frame.with_columns(_line_idx=pl.Series(rows, dtype=pl.Int64)))
        for problem in seg_bad:
            quarantine(*problem)
    keep = kept.to_list()
    for segment, rows, seg_bad in _parse_segments(
        lines, keep, payload=payload, max_line_bytes=max_line_bytes
    ):
        if segment is not None:
            # the usual case, every kept line in one parse: no Series built from a list of them
            idx = kept if rows is keep else pl.Series(rows, dtype=pl.Int64)
            frames.append(pl.concat([segment.with_columns(_line_idx=idx), counts[idx]], how="horizontal"))
        for problem in seg_bad:
            quarantine(*problem)
    if not frames:
        bad.sort(key=lambda r: r["line_number"])
        return empty_events(), bad, len(lines)
    raw = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
    # one chunk per column: read_ndjson hands back dozens, and every eager query of a frame whose
    # columns are in many chunks pays for it again (~2.5 ms on a 35k-row block, some 70 queries)
    raw = raw.sort("_line_idx") if len(frames) > 1 else raw.rechunk()
    events, invalid_rows, recheck = validate(raw, name, first_line, screen=screen)
    if recheck:  # rows polars may have read differently from Python: Python decides
        frame, rows, seg_bad = python_rows(lines, recheck, max_line_bytes)
        for problem in seg_bad:
            quarantine(*problem)
        if frame is not None:
            more, more_invalid, _ = validate(
                frame.with_columns(_line_idx=pl.Series(rows, dtype=pl.Int64)), name, first_line, screen=screen
            )
            events = pl.concat([events, more]).sort("line_number")
            invalid_rows = pl.concat([invalid_rows, more_invalid], how="diagonal_relaxed")
    for i, reason, detail in invalid_rows.select("_line_idx", "_reason", "_detail").iter_rows():
        quarantine(i, Reason(reason), detail)
    bad.sort(key=lambda r: r["line_number"])
    # Secrets go here, before anything downstream (masking, fingerprints, storage) sees the text.
    if redact:
        pieces = ("data", PAYLOAD_COLUMNS, events["_verbatim"])
        events = redact_frame(events, _JSON_COLUMNS, skip=_OWN_COLUMNS, distinct=STRING_FIELDS, parts=pieces)
    return events.drop("_verbatim"), bad, len(lines)


# Escapes polars does not carry faithfully into the JSON text of nested objects (an escaped
# backslash, a backslash or a surrogate written as \u), keys written with escapes (which could
# spell one key twice unseen), a colon written as \u003a (which would hide a colon from the
# duplicate-key count of :func:`~agent_pipelines.core.reader.screens.duplicate_suspects`), and a string
# that starts with a bracket, written or escaped (``"{..."``: read as text it looks like an object).
# (every alternative starts with a backslash: the regex engine skips to those, so it stays cheap)
_ESCAPE_SUSPECT = r'\\(?:\\|u005[cCbB]|u003[aA]|u007[bB]|u[dD][89a-fA-F]|(?:[^"\\]|\\.)*"\s*:)'


def _line_flags(text: pl.Series, max_line_bytes: int) -> tuple[set[int], pl.DataFrame]:
    """Lines to judge in Python rather than hand to polars, and each line's count of colons and
    of opening brackets.

    A suspect is a line that cannot be a well-formed object (blank, torn, not ``{...}``, too long),
    or one polars would misread: deeper than :data:`~agent_pipelines.core.contract.MAX_DEPTH` (counted
    generously: every bracket), or holding an escape polars does not carry faithfully (looked for
    only in the lines holding a backslash, where every escape starts). The colon
    count lets :func:`~agent_pipelines.core.reader.rows.validate` spot a key written twice in any
    object (polars keeps the first, Python, jq and JavaScript the last): every key brings one
    colon, so a line holding more colons than the keys and values polars read is judged again.
    """
    line = pl.col("l")
    flags = pl.DataFrame({"l": text}).select(
        (
            ~line.str.starts_with("{")
            | ~(line.str.ends_with("}") | line.str.ends_with("}\r"))
            | (line.str.len_bytes() > max_line_bytes)
            | line.str.contains('"{', literal=True)
            | line.str.contains('"[', literal=True)
        ).alias("suspect"),
        # a regex, not ``literal=True``: over whole lines (~40 colons each) polars' literal search
        # took 3.8 ms a 7 MB block, its regex engine 2.7
        line.str.count_matches(":").cast(pl.Int32).alias("_colons"),
        line.str.count_matches(r"[\[{]").cast(pl.Int32).alias("_brackets"),
        line.str.contains("\\", literal=True).alias("_backslash"),
    )
    # the depth bound from the bracket count, not a second count (an eager select does not share it)
    suspect = flags.select(pl.col("suspect") | (pl.col("_brackets") > MAX_DEPTH)).to_series()
    found = set(suspect.arg_true().to_list())
    escaped = flags["_backslash"].arg_true()  # every escape starts with a backslash: only those lines
    if escaped.len():
        found.update(escaped.filter(text.gather(escaped).str.contains(_ESCAPE_SUSPECT)).to_list())
    return found, flags.select("_colons", "_brackets", "_backslash")


def _parse_segments(
    lines: Sequence[bytes],
    indices: list[int],
    *,
    payload: bytes | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[tuple[pl.DataFrame | None, list[int], list[tuple[int, Reason, str]]]]:
    """Parse the given lines (``payload``: those lines already joined); split around bad ones."""
    if not indices:
        return
    if payload is None:
        payload = b"\n".join(lines[i] for i in indices) + b"\n"
    try:
        frame = pl.read_ndjson(io.BytesIO(payload), schema=_schema_for(lines, indices))
    except Exception:  # polars raises ComputeError (and friends) for any line it cannot read
        frame = None
    if frame is not None and frame.height == len(indices):
        yield frame, indices, []
        return
    if len(indices) <= _SMALL_SEGMENT:
        yield python_rows(lines, indices, max_line_bytes)
        return
    # Split wide rather than in halves: with k bad lines among n, re-parsing costs about
    # n * k / _FAN_OUT extra lines instead of n * log2(k).
    step = max(_SMALL_SEGMENT, -(-len(indices) // _FAN_OUT))
    for lo in range(0, len(indices), step):
        yield from _parse_segments(lines, indices[lo : lo + step], max_line_bytes=max_line_bytes)


def _schema_for(lines: Sequence[bytes], indices: list[int]) -> dict[str, pl.DataType]:
    """The raw schema plus any unknown top-level keys seen in the segment's first lines.

    A writer that adds a field adds it to every line it writes, so sampling the head of each
    segment finds it without paying for schema inference over the whole block.
    """
    schema = dict(RAW_SCHEMA)
    for i in indices[:64]:
        try:
            obj = json.loads(lines[i])
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict):
            for key in obj:
                if key not in schema and isinstance(key, str) and not key.startswith("_"):
                    schema[key] = pl.String()
    return schema
