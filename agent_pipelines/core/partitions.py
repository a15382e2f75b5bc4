"""Daily and weekly partitions: exactly the UTC days (and ISO weeks) that the log folder holds.

Why dynamic partitions rather than ``DailyPartitionsDefinition(start_date=...)``: the first day of
the logs is data, not code. A time-window definition needs its start date when the code location
loads, so it would either be a guess (a fixed date or "30 days before deploy": empty or missing days
in the UI, and a start that moves every day) or computed by scanning the log folder at import time
(definitions that change with the data, and with whichever log folder the process happens to see,
which breaks tests and the CLI's ``--logs-dir``). With a ``DynamicPartitionsDefinition`` the UI
shows one partition per day that has logs — today's included as soon as its first line is written —
and nothing else; generated data from any date works unchanged.

The partition *definitions* are Dagster wiring (``assets/partitions.py``); the days, the keys and
their registration are here, for the assets, the sensors and the CLI alike.

Who adds the keys: :func:`agent_pipelines.orchestration.partitions.register_partitions`, called by
``agent-pipelines materialize`` before it
runs, and by ``log_days_sensor`` (``assets/events.py``), which also re-materializes a day whose file
grew, so today's partition follows the lines as they arrive.

Weekly partitions (the weekly report) use the same mechanism: key = the Monday (``YYYY-MM-DD``) of an
ISO week that has at least one log day, added together with its days. A week is therefore in the UI
as soon as it has data; the Monday-morning schedule reports on :func:`previous_week_key` if it exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from agent_pipelines.core import paths
from agent_pipelines.core.contract import TIMESTAMP_DAY
from agent_pipelines.core.reader import partition_days

LOG_DAYS = "log_days"
LOG_WEEKS = "log_weeks"

_SCAN_BYTES = 16 << 20


def week_key(day: date) -> str:
    """The weekly partition key of a day: the Monday of its ISO week."""
    return (day - timedelta(days=day.weekday())).isoformat()


def week_days(key: str) -> list[date]:
    """The seven UTC days of a weekly partition key."""
    monday = date.fromisoformat(key)
    return [monday + timedelta(days=i) for i in range(7)]


def previous_week_key(now: datetime | None = None) -> str:
    """The last complete week at ``now`` (what a Monday-morning report is about)."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    return week_key(today - timedelta(days=7))


def legacy_file_days(logs_root: Path) -> list[date]:
    """UTC days mentioned by timestamps in the original logger's single ``agent-work-stream.jsonl``.

    A byte-level scan (no JSON parsing): cheap enough to run on every sensor tick. Lines whose
    timestamp is not at this position are still read by ``cleaned_events``; they only need one day
    of theirs to be a partition, which their neighbours almost always provide.
    """
    legacy = logs_root / paths.STREAM_FILE
    if not legacy.exists():
        return []
    found: set[bytes] = set()
    with open(legacy, "rb") as handle:
        tail = b""
        while chunk := handle.read(_SCAN_BYTES):
            block = tail + chunk
            found.update(TIMESTAMP_DAY.findall(block))
            tail = block[-64:]
    days = []
    for raw in found:
        try:
            days.append(date.fromisoformat(raw.decode()))
        except ValueError:
            continue
    return sorted(days)


def log_days(logs_root: Path) -> list[date]:
    """Every UTC day with logs: the daily stream files and the days in the original logger's single
    file."""
    return sorted(set(partition_days(logs_root)) | set(legacy_file_days(logs_root)))


def day_ranges(ordered_keys: Sequence[str], wanted: Iterable[str]) -> list[tuple[str, str]]:
    """``wanted`` day keys as runs of neighbours in ``ordered_keys`` (the instance's partition order).

    One run per range: a backfill of 30 consecutive days is one run; a gap starts another, because
    a run's partition range covers everything between its ends.
    """
    chosen = set(wanted)
    ranges: list[tuple[str, str]] = []
    start = end = None
    for key in ordered_keys:
        if key in chosen:
            start = start or key
            end = key
        elif start is not None and end is not None:
            ranges.append((start, end))
            start = end = None
    if start is not None and end is not None:
        ranges.append((start, end))
    return ranges


def range_tags(first: str, last: str) -> dict[str, str]:
    """Run tags for a run over the partitions ``first`` .. ``last`` (Dagster's single-run backfills)."""
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
