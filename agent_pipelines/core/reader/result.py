"""What a read returns: valid events, the quarantine and how far each file was read; the schemas."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

from agent_pipelines.core.contract import (
    ALIAS_FIELDS,
    CLEANED_SCHEMA,
    PAYLOAD_COLUMNS,
    TOP_LEVEL_FIELDS,
)

BLOCK_BYTES = 32 << 20  # :func:`~agent_pipelines.core.reader.iter_blocks`' default read (the rotation's)
# What the reader parses at once. Parsing a block takes some 15-20x its size at its peak (its text,
# flags, raw and typed frames), so this bounds the reader's memory: on a 186 MB day, 8 MiB blocks
# peaked at 280 MiB against 620 MiB with 32 MiB blocks, for the same CPU time (4.8 s against 5.1 s).
READ_BLOCK_BYTES = 8 << 20
# ...but a file no larger than this is read as one block when the caller leaves the size to the
# reader: each block has a fixed cost (~65 polars queries), and a day of a small fleet (17 MB at 1M
# events a month) cut into 8 + 8 + 1 MiB paid it three times (measured: 1M events 10.8-12.3 s with
# 8 MiB blocks, 9.2 s read whole, floor 8.3 s). Memory stays bounded by this size.
WHOLE_FILE_BYTES = 32 << 20
# ...and a file no larger than this in blocks of at most MID_BLOCK_BYTES: the fixed cost of a block
# (its ~65 polars queries and the day's bookkeeping of it: ~20 ms) is paid half as often. A day of
# 56 MB (3M events a month) in 4 blocks rather than 8 took 18.4-19.4 s against 19.5-21.6 s, peaking
# at 830-950 MiB against 600-640 MiB. Larger files keep 8 MiB blocks, so memory stays bounded
# whatever the size (16 MiB blocks at 10M events: 1,048 MiB peak against 760, no faster).
MID_FILE_BYTES = 64 << 20
MID_BLOCK_BYTES = 16 << 20
RAW_KEEP_BYTES = 64 << 10  # quarantine keeps at most this much of a bad line (and says so)
BOM = b"\xef\xbb\xbf"  # Windows PowerShell 5.1 starts UTF-8 files with it

RAW_SCHEMA: dict[str, pl.DataType] = {name: pl.String() for name in TOP_LEVEL_FIELDS}
# The payload fields parsed from ``data``: ours, and theirs that stand for ours (contract.shapes).
PAYLOAD_SCHEMA: dict[str, pl.DataType] = {name: pl.String() for name in (*PAYLOAD_COLUMNS, *ALIAS_FIELDS)}

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
    warnings: list[str] = field(default_factory=list)  # files skipped or cut short, and why

    @property
    def reasons(self) -> dict[str, int]:
        if self.quarantine.is_empty():
            return {}
        counts = self.quarantine.group_by("reason").len().sort("reason")
        return dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True))

    @classmethod
    def concat(cls, results: Iterable[ReadResult]) -> ReadResult:
        results = list(results)
        events = [r.events for r in results if r.events.height]
        quarantine = [r.quarantine for r in results if r.quarantine.height]
        out = cls(
            pl.concat(events, how="vertical") if events else empty_events(),
            pl.concat(quarantine, how="vertical") if quarantine else empty_quarantine(),
        )
        for r in results:
            out.offsets.update(r.offsets)
            out.lines.update(r.lines)
            out.pending_bytes += r.pending_bytes
            out.warnings.extend(r.warnings)
        return out


def empty_events() -> pl.DataFrame:
    return pl.DataFrame(schema=CLEANED_SCHEMA)


def empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)
