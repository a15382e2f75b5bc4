"""The quarantine: every line the contract refused, with its reason and where it came from.

Nothing the reader refuses is dropped: it lands here as a JSONL record (source file, line number,
byte offset, reason, detail and the raw text, cut at 64 KiB). The same bad line is read again
whenever its file is read again (an asset re-materialized, the sensor and the assets both reading
today's file), so records are keyed by ``(source_file, byte_offset)`` and written once.

Layout: ``<data>/quarantine/<source file, encoded>.jsonl`` — one file per source, so a user
looking for "what was wrong with yesterday's log" opens one file.
"""

from __future__ import annotations

import contextlib
import os
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from agent_pipelines.core import paths
from agent_pipelines.core.contract import TIMESTAMP_DAY_PATTERN
from agent_pipelines.core.jsonl import iter_json_objects, read_json_objects
from agent_pipelines.core.partitions import log_days
from agent_pipelines.core.reader import QUARANTINE_SCHEMA
from agent_pipelines.core.writer import append_records

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def quarantine_file(data_dir: Path, source_file: str) -> Path:
    return paths.quarantine_dir(data_dir) / paths.session_file_name(
        source_file.replace("/", "__").removesuffix(".jsonl")
    )


def write_quarantine(data_dir: str | os.PathLike[str], quarantine: pl.DataFrame) -> int:
    """Append quarantine records not already kept; returns how many were new."""
    if quarantine.is_empty():
        return 0
    return sum(
        write_quarantine_records(data_dir, str(source), group.to_dicts())
        for (source,), group in quarantine.group_by("source_file", maintain_order=True)
    )


def write_quarantine_records(
    data_dir: str | os.PathLike[str], source_file: str, records: list[dict[str, Any]]
) -> int:
    """:func:`write_quarantine` for records of one source file held as dicts (each with the keys of
    ``QUARANTINE_SCHEMA``): no polars, for a caller on a path whose other threads keep polars' pool
    busy (the rotation's commit, while its judges parse), where even a tiny query waits its turn."""
    if not records:
        return 0
    target = quarantine_file(Path(data_dir), source_file)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_fd = os.open(f"{target}.lock", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
        seen = _keys(target)
        fresh = [r for r in records if (r["byte_offset"], r["reason"]) not in seen]
        append_records(target, fresh)
    finally:
        os.close(lock_fd)
    return len(fresh)


def _keys(target: Path) -> set[tuple[int, str]]:
    keys: set[tuple[int, str]] = set()
    for record in iter_json_objects(target):
        with contextlib.suppress(KeyError, TypeError):  # a record of another shape keys nothing
            keys.add((record["byte_offset"], record["reason"]))
    return keys


def read_quarantine(data_dir: str | os.PathLike[str]) -> pl.DataFrame:
    """All quarantine records kept so far."""
    folder = paths.quarantine_dir(Path(data_dir))
    frames = []
    for path in sorted(folder.glob("*.jsonl")):
        rows = read_json_objects(path)
        if rows:
            frames.append(pl.DataFrame(rows, schema=QUARANTINE_SCHEMA))
    if not frames:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    return pl.concat(frames, how="vertical")


def quarantine_of_day(quarantine: pl.DataFrame, day: date, logs_root: Path) -> pl.DataFrame:
    """The quarantined lines that belong to ``day``'s partition.

    A daily file's bad lines are its day's. The original logger's single file holds every
    day, and it is read
    for every partition, so its bad lines are attributed by the date in their raw text, and those
    without a recognizable date to the first log day — each counted once, not once per partition.
    """
    if quarantine.is_empty():
        return quarantine
    legacy = pl.col("source_file") == paths.STREAM_FILE
    raw_day = pl.col("raw").str.extract(TIMESTAMP_DAY_PATTERN, 1)
    first_day = None
    if quarantine.filter(legacy & raw_day.is_null()).height:
        days = log_days(logs_root)
        first_day = days[0].isoformat() if days else day.isoformat()
    mine = (
        ~legacy | (raw_day == day.isoformat()) | (raw_day.is_null() & (pl.lit(first_day) == day.isoformat()))
    )
    return quarantine.filter(mine.fill_null(False))


def quarantine_summary(data_dir: str | os.PathLike[str]) -> dict[str, object]:
    """``{"quarantined": N, "reasons": {reason: count}}`` for status pages and the UI."""
    frame = read_quarantine(data_dir)
    reasons = {}
    if frame.height:
        counts = frame.group_by("reason").len().sort("reason")
        reasons = dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True))
    return {"quarantined": frame.height, "reasons": reasons}
