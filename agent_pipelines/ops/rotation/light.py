"""The day of each line of the alerts and metrics files (any JSON object with an ISO 8601
``timestamp``), a block at a time: polars reads the lines it can prove it reads as Python would,
and Python (:func:`line_day`, the authority) judges the rest one by one.

Judged line by line in Python, the metrics file alone was ~0.4 s of CPU at 1M events, all of it
holding the interpreter lock the partitions' judges need between their polars queries. The screen
(:func:`polars_days`) leaves a line to Python unless every one of these holds, and then polars'
reading and Python's agree on it:

* it is ``{...}``, not over :data:`~agent_pipelines.core.contract.MAX_LINE_BYTES`, holds no
  backslash (so no escape: every string is ``"``, then no ``"``, then ``"``) and no more brackets
  than :data:`~agent_pipelines.core.contract.MAX_DEPTH` (so it is not nested deeper);
* no key name is written twice anywhere in it, at any depth (a key twice in one object is refused
  in Python; polars would keep the first). Without escapes a key is a string followed by a colon,
  and the regex finds every key unless some string starts with spaces and a colon (``":..."``),
  which the screen refuses too;
* polars reads it: simd-json is strict JSON like Python's (no NaN or Infinity, no number beyond a
  double, no control character in a string, no trailing comma); a line it refuses is left to
  Python with the few read beside it;
* its top-level ``timestamp`` reads as the canonical ``YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z`` with
  a real date, hour and minute (only a JSON string can: polars gives any other value as its JSON
  text), so its UTC day is its first ten characters.
"""

from __future__ import annotations

import io
from datetime import date

import polars as pl

from agent_pipelines.core import contract, reader
from agent_pipelines.core.contract import MAX_DEPTH, MAX_LINE_BYTES, Reason
from agent_pipelines.core.reader.lines import text_lines, text_lines_around

Verdict = date | tuple[Reason, str]

_KEY = r'"[^"]*"\s*:'  # a key, in a line without escapes where no string starts with a colon
_COLON_STRING = r'[,\[{:]\s*"\s*:'  # a string starting with a colon: a key could hide behind it
_CANONICAL = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:[0-5]\d(\.\d{3}|\.\d{6})?Z$"


def line_day(line: bytes) -> Verdict:
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


def light_days(block: bytes) -> tuple[pl.DataFrame, dict[int, tuple[str, str]], int]:
    """The block's lines (``block`` ends with a newline) judged: (``idx``, ``day``) of the good
    ones in line order, line index -> (reason, detail) of the bad ones, and the count of lines.
    Blank lines are in neither."""
    text = text_lines(block)
    invalid: set[int] = set()
    if text is None:  # invalid UTF-8 in a few lines: those are judged in Python, the rest by block
        text, invalid = text_lines_around(block)
    lines = block.split(b"\n")[:-1]
    if text is None:  # blank lines, carriage returns, NUL bytes: every line judged in Python
        fast = pl.DataFrame(schema={"idx": pl.Int64, "day": pl.Date})
        rest: list[int] = list(range(len(lines)))
    else:
        fast = polars_days(block, text, invalid)
        rest = sorted(set(range(len(lines))).difference(fast["idx"].to_list()))
    idx: list[int] = []
    days: list[date] = []
    bad: dict[int, tuple[str, str]] = {}
    for i in rest:
        line = lines[i]
        if not line.strip():
            continue
        day = line_day(line)
        if isinstance(day, tuple):
            bad[i] = (day[0].value, day[1])
        else:
            idx.append(i)
            days.append(day)
    if not idx:
        return fast, bad, len(lines)
    slow = pl.DataFrame({"idx": idx, "day": days}, schema={"idx": pl.Int64, "day": pl.Date})
    return pl.concat([fast, slow]).sort("idx"), bad, len(lines)


def polars_days(block: bytes, text: pl.Series, invalid: set[int]) -> pl.DataFrame:
    """(``idx``, ``day``) of the lines polars reads as Python would (see the module's docstring),
    in line order; Python judges the others."""
    line = pl.col("l")
    keys = line.str.extract_all(_KEY)
    screen = (
        line.str.starts_with("{")
        & line.str.ends_with("}")
        & (line.str.len_bytes() <= MAX_LINE_BYTES)
        & ~line.str.contains("\\", literal=True)
        & (line.str.count_matches(r"[\[{]") <= MAX_DEPTH)
        & ~line.str.contains(_COLON_STRING)
        & (keys.list.n_unique() == keys.list.len())
    )
    if invalid:
        screen = screen & ~pl.col("idx").is_in(sorted(invalid))
    screened = pl.DataFrame({"l": text}).with_row_index("idx").filter(screen)
    if screened.is_empty():
        return screened.select(pl.col("idx").cast(pl.Int64), pl.lit(None, pl.Date).alias("day"))
    payload = block if screened.height == text.len() else None  # the usual block: every line, as is
    stamp = pl.col("timestamp")
    day = stamp.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    return (
        _read_stamps(screened, payload)
        .filter(
            stamp.str.contains(_CANONICAL)
            & (stamp.str.slice(11, 2).cast(pl.Int32, strict=False) <= 23)
            & (stamp.str.slice(14, 2).cast(pl.Int32, strict=False) <= 59)
        )
        .select(pl.col("idx").cast(pl.Int64), day.alias("day"))
        .filter(pl.col("day").is_not_null() & (pl.col("day").dt.year() >= 1))
    )


_FAN_OUT = 64  # a segment polars refuses is read again as this many
_SMALL = 16  # a segment this short that polars refuses is left to Python


def _read_stamps(lines: pl.DataFrame, payload: bytes | None = None) -> pl.DataFrame:
    """(``idx``, ``timestamp``) of the screened ``lines`` polars reads: one parse of them all
    (``payload``: their bytes, when the block is exactly them); when polars refuses one of them
    (NaN, a torn object, a number beyond a double...), the lines are read again in segments, so
    only the few lines around it are left out, for Python to judge."""
    if payload is None:
        payload = lines.select(pl.col("l").str.join("\n")).item().encode() + b"\n"
    try:  # simd-json: strict JSON (no NaN, no overflowing number, no control character in a string)
        read = pl.read_ndjson(io.BytesIO(payload), schema={"timestamp": pl.String})
        if read.height == lines.height:
            return lines.select("idx", read["timestamp"])
    except Exception:  # polars raises ComputeError (and friends) for a line it cannot read
        pass
    if lines.height <= _SMALL:
        return lines.select("idx", pl.lit(None, pl.String).alias("timestamp")).clear()
    step = max(_SMALL, -(-lines.height // _FAN_OUT))
    return pl.concat([_read_stamps(lines.slice(lo, step)) for lo in range(0, lines.height, step)])
