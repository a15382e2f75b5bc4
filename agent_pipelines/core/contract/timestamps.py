"""Event timestamps: one grammar (ISO 8601 date-time, naive = UTC) in Python and in polars."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl

from agent_pipelines.core.contract.fields import MAX_YEAR, MIN_YEAR

# Seconds 00-59: polars (chrono) reads a leap second, ``23:59:60``, as the next minute; Python refuses it.
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:[0-5]\d(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$"
_TIMESTAMP = re.compile(TIMESTAMP_PATTERN)

# The UTC day a raw line claims in its ``timestamp`` field, found without decoding the line: what
# partitions, quarantine attribution and rotation route by (a line it misses is still read whole).
TIMESTAMP_DAY_PATTERN = r'"timestamp"\s*:\s*"(\d{4}-\d{2}-\d{2})'
TIMESTAMP_DAY = re.compile(TIMESTAMP_DAY_PATTERN.encode())


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO 8601 date-time; naive times are taken as UTC (the original PowerShell logger
    always wrote ``Z``).

    Stricter than :meth:`datetime.fromisoformat` on purpose (a date alone is not an event time),
    and the same grammar as :func:`timestamp_expr`, so Python and polars agree on every line.
    """
    if not _TIMESTAMP.match(value):
        raise ValueError(f"not an ISO 8601 date-time: {value!r:.60}")
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is in year 0 in UTC
        raise ValueError(f"outside the years {MIN_YEAR}-{MAX_YEAR} in UTC: {value!r:.60}") from None


def timestamp_expr(col: str) -> pl.Expr:
    """ISO 8601 strings to UTC datetimes, null where invalid: :func:`parse_timestamp` for polars."""
    text = pl.col(col)
    valid = text.str.contains(TIMESTAMP_PATTERN)
    with_zone = text.str.replace(r"Z$", "+00:00").str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%#z", time_unit="us", time_zone="UTC", strict=False
    )
    with_zone_space = text.str.replace(r"Z$", "+00:00").str.to_datetime(
        "%Y-%m-%d %H:%M:%S%.f%#z", time_unit="us", time_zone="UTC", strict=False
    )
    naive = pl.coalesce(
        text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False),
        text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", strict=False),
    ).dt.replace_time_zone("UTC")
    parsed = pl.coalesce(with_zone, with_zone_space, naive)
    in_range = parsed.dt.year().is_between(MIN_YEAR, MAX_YEAR)  # what parse_timestamp can hold
    return pl.when(valid & in_range).then(parsed)


def format_timestamp(moment: datetime) -> str:
    """The original PowerShell logger's format: ``2026-02-09T14:23:45.123Z`` (UTC, milliseconds)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"
