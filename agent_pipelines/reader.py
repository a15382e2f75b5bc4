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
import errno
import io
import json
import math
import os
import re
import stat
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import BinaryIO

import polars as pl

from agent_pipelines import archive, paths
from agent_pipelines.contract import (
    CLEANED_SCHEMA,
    INT_FIELDS,
    MAX_DEPTH,
    MAX_LINE_BYTES,
    MAX_YEAR,
    MIN_YEAR,
    PAYLOAD_BOOL_FIELDS,
    PAYLOAD_COLUMNS,
    PAYLOAD_FLOAT_FIELDS,
    PAYLOAD_INT_FIELDS,
    PAYLOAD_OBJECT_FIELDS,
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
BOM = b"\xef\xbb\xbf"  # Windows PowerShell 5.1 starts UTF-8 files with it

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
            out.warnings.extend(r.warnings)
        return out


def empty_events() -> pl.DataFrame:
    return pl.DataFrame(schema=CLEANED_SCHEMA)


def empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


# --------------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lines:
    """Complete lines (``data`` ends with a newline) starting at byte ``offset`` of the file."""

    data: bytes
    offset: int


@dataclass(frozen=True)
class LongLine:
    """A line over the bound, walked past without holding it: where it starts, how long it is
    (without its newline), its first bytes, and whether its newline was found before the end."""

    offset: int
    length: int
    head: bytes
    ended: bool


@dataclass(frozen=True)
class Tail:
    """The file's last bytes after its last newline (a line a writer may still be finishing)."""

    data: bytes
    offset: int


def iter_blocks(
    handle: BinaryIO | io.BufferedIOBase | io.RawIOBase | _Salvaging,
    *,
    offset: int = 0,
    max_line_bytes: int = MAX_LINE_BYTES,
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[Lines | LongLine | Tail]:
    """Split a file into blocks of whole lines, holding at most about two blocks in memory.

    A line that grows past ``max_line_bytes`` before its newline is walked to its end chunk by
    chunk and reported as a :class:`LongLine`; the lines after it are read as usual. This is the
    one place where files are cut into lines: the reader and the rotation both use it.
    """
    carry = b""
    while True:
        chunk = handle.read(block_bytes)
        buf = carry + chunk if carry else chunk
        cut = buf.rfind(b"\n") + 1
        if cut:
            yield Lines(buf[:cut], offset)
            offset += cut
            carry = buf[cut:]
        else:
            carry = buf
        if len(carry) > max_line_bytes:
            head, length = carry[:RAW_KEEP_BYTES], len(carry)
            carry = b""
            while True:
                chunk = handle.read(block_bytes)
                if not chunk:  # the file ends inside it
                    yield LongLine(offset, length, head, ended=False)
                    return
                nl = chunk.find(b"\n")
                if nl >= 0:
                    length += nl
                    yield LongLine(offset, length, head, ended=True)
                    offset += length + 1
                    carry = chunk[nl + 1 :]
                    break
                length += len(chunk)
            continue
        if not chunk:
            if carry:
                yield Tail(carry, offset)
            return


class _Salvaging:
    """Reads a file in small steps so that damage (a corrupt gzip member, an I/O error) costs only
    what follows it: the bytes before are returned first, the error is raised on the next read."""

    STEP = 1 << 20

    def __init__(self, handle: BinaryIO | io.BufferedIOBase | io.RawIOBase) -> None:
        self._handle = handle
        # read1: one underlying read at a time, so a gzip member's bytes come back before the
        # next member's damage is met
        self._read = getattr(handle, "read1", handle.read)
        self._error: BaseException | None = None

    def read(self, size: int) -> bytes:
        if self._error is not None:
            raise self._error
        parts: list[bytes] = []
        got = 0
        while got < size:
            try:
                piece = self._read(min(self.STEP, size - got))
            except (OSError, EOFError, zlib.error) as exc:
                self._error = exc
                break
            if not piece:
                break
            parts.append(piece)
            got += len(piece)
        if not parts and self._error is not None:
            raise self._error
        return b"".join(parts)


def skip_bom(handle: BinaryIO | io.BufferedIOBase | io.RawIOBase) -> int:
    """Step over a UTF-8 byte-order mark at the start of a file; returns the bytes skipped."""
    if handle.read(len(BOM)) == BOM:
        return len(BOM)
    handle.seek(0)
    return 0


def read_file(
    path: str | os.PathLike[str],
    *,
    start: int = 0,
    first_line: int = 1,
    final: bool = False,
    source_name: str | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
    identity: tuple[int, int] | None = None,
) -> ReadResult:
    """Read one JSONL file from byte ``start`` (a line boundary) to its last complete line.

    ``first_line`` is the line number at ``start`` (for a tailer resuming mid-file). With ``final``
    a trailing partial line is quarantined instead of being left for later. Memory stays bounded
    by the block size whatever the lines; a line over ``max_line_bytes`` is quarantined as
    ``line_too_long`` and the lines after it are read. A UTF-8 byte-order mark at the start of the
    file is skipped (it counts in the offsets, not as a line).

    Raises ``OSError`` when the file cannot be opened (missing, unreadable, not a regular file:
    :class:`~agent_pipelines.archive.NotARegularFile`), and ``FileNotFoundError`` when ``identity``
    (device, inode) is given and the file at ``path`` is another one. Damage met while reading (a
    corrupt archive, an I/O error) ends the read with a warning; what was read before it is kept.
    """
    path = Path(path)
    name = source_name or str(path)
    events: list[pl.DataFrame] = []
    quarantine: list[dict] = []
    offset, line_no, pending = start, first_line, 0
    # An archived day (``.jsonl.gz``) reads like any other file; offsets count decompressed bytes.
    warnings: list[str] = []
    with archive.open_log(path) as handle:
        if identity is not None:
            st = os.fstat(handle.fileno())
            if (st.st_dev, st.st_ino) != identity:
                raise FileNotFoundError(errno.ENOENT, "replaced by another file since it was listed", name)
        try:
            if start == 0:
                offset = skip_bom(handle)
            else:
                handle.seek(start)
            pieces = iter_blocks(_Salvaging(handle), offset=offset, max_line_bytes=max_line_bytes)
            for piece in pieces:
                if isinstance(piece, Lines):
                    frame, bad = _parse_block(piece.data, name, line_no, piece.offset, max_line_bytes)
                    if frame.height:
                        events.append(frame)
                    quarantine.extend(bad)
                    line_no += piece.data.count(b"\n")
                    offset = piece.offset + len(piece.data)
                elif isinstance(piece, LongLine):
                    detail = f"line is {piece.length} bytes, over the {max_line_bytes}-byte bound"
                    if piece.ended or final:
                        record = _bad(
                            name,
                            line_no,
                            piece.offset,
                            Reason.LINE_TOO_LONG,
                            detail,
                            piece.head,
                            piece.length,
                        )
                        quarantine.append(record)
                        offset = piece.offset + piece.length + piece.ended
                        line_no += 1
                    else:
                        pending = piece.length
                elif final:
                    detail = "last line has no newline"
                    quarantine.append(
                        _bad(name, line_no, piece.offset, Reason.TRUNCATED_LINE, detail, piece.data)
                    )
                    offset = piece.offset + len(piece.data)
                    line_no += 1
                else:
                    pending = len(piece.data)
        except (OSError, EOFError, zlib.error) as exc:  # a corrupt archive, a failing disk
            warnings.append(
                f"{name}: reading stopped after byte {offset} ({_os_reason(exc)}); "
                f"the {line_no - first_line} lines before it are kept"
            )
    return ReadResult(
        events=pl.concat(events, how="vertical") if events else empty_events(),
        quarantine=pl.DataFrame(quarantine, schema=QUARANTINE_SCHEMA) if quarantine else empty_quarantine(),
        offsets={name: offset},
        lines={name: line_no - 1},
        pending_bytes=pending,
        warnings=warnings,
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


def regular_file(path: Path, warnings: list[str] | None = None, root: Path | None = None) -> bool:
    """Whether ``path`` is a regular file to read. A directory, FIFO, socket or symbolic link (even one
    pointing at a log elsewhere: its lines may be anyone's) is reported in ``warnings`` and skipped."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    except OSError as exc:
        if warnings is not None:
            warnings.append(f"{_shown(path, root)}: cannot be looked at ({exc.strerror or exc}); skipped")
        return False
    if stat.S_ISREG(st.st_mode):
        return True
    if warnings is not None:
        kind = archive.file_kind(st.st_mode)
        warnings.append(f"{_shown(path, root)} is {kind}, not a log file: skipped (never followed)")
    return False


def _shown(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return str(path)


def _regular_dir(path: Path, warnings: list[str] | None, root: Path) -> bool:
    """Whether ``path`` is a real folder inside the log folder (a symlinked one is not followed)."""
    if path.is_symlink():
        if warnings is not None:
            warnings.append(f"{_shown(path, root)} is a symbolic link: not followed")
        return False
    return path.is_dir()


def stream_files(
    logs_root: Path, days: Iterable[date] | None = None, warnings: list[str] | None = None
) -> list[Path]:
    """The files holding stream events: archived days, daily partitions (all, or the given days), the
    seed's file, and days a failed rotation left staged. A day can be in both the archive and a
    partition (a late line written after the day was rotated); each line is in exactly one of them.

    Only regular files inside the log folder are returned; anything else is named in ``warnings``.
    """
    wanted = set(days) if days is not None else None
    candidates: list[Path] = archive.archived_stream_files(logs_root, wanted)
    stream_dir = logs_root / paths.STREAM_DIR
    if _regular_dir(stream_dir, warnings, logs_root):
        if wanted is None:
            candidates.extend(sorted(stream_dir.glob("*.jsonl")))
        else:
            candidates.extend(paths.stream_partition_path(logs_root, d) for d in sorted(wanted))
    candidates.append(logs_root / paths.STREAM_FILE)
    candidates.extend(staged_stream_files(logs_root, wanted))
    files = []
    for path in candidates:
        if regular_file(path, warnings, logs_root):
            files.append(path)
    return files


def staged_stream_files(logs_root: Path, days: set[date] | None = None) -> list[Path]:
    """Stream files a rotation staged and has not yet prepared (it stopped: disk full, killed...).

    Until the next rotation finishes them their lines are nowhere else, so they are read where they
    are. Once a rotation wrote its manifest the archives hold those lines; the staged copy is not read.
    """
    found: list[Path] = []
    staging = archive.staging_root(logs_root)
    if not staging.is_dir() or staging.is_symlink():
        return found
    for tokdir in sorted(staging.iterdir()):
        if tokdir.is_symlink() or not tokdir.is_dir() or (tokdir / "manifest.json").exists():
            continue
        try:
            origin = json.loads((tokdir / "origin.json").read_bytes())
            if origin.get("kind") != archive.Kind.STREAM.value:
                continue
            name = Path(str(origin["origin"]))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if days is not None and name.parent.name == paths.STREAM_DIR:
            try:
                if date.fromisoformat(name.stem) not in days:
                    continue
            except ValueError:
                continue
        source = tokdir / "source.jsonl"
        if source.exists():
            found.append(source)
    return found


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
    for source in staged_stream_files(logs_root):  # a day a failed rotation left staged
        try:
            origin = json.loads((source.parent / "origin.json").read_bytes())
            days.add(date.fromisoformat(Path(str(origin["origin"])).stem))
        except (OSError, ValueError, KeyError, TypeError):
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
    ``final_before`` are final: their half-written last line will never be finished. A file that
    cannot be read (unreadable, corrupt archive, not a regular file) is a warning in the result,
    never the end of the run: whatever it held before the damage is kept.
    """
    root = Path(logs_root)
    wanted = set(days) if days is not None else None
    warnings: list[str] = []
    results = []
    for path in stream_files(root, wanted, warnings):
        rel = path.relative_to(root).as_posix()
        final = archive.is_compressed(path) or path.name == "source.jsonl"  # never written to again
        if final_before is not None and path.parent == root / paths.STREAM_DIR:
            try:
                final = date.fromisoformat(path.stem) < final_before
            except ValueError:
                final = False
        try:
            result = read_file(path, final=final, source_name=rel)
        except FileNotFoundError:
            continue  # rotated away between listing and reading: it is found under its new name
        except OSError as exc:
            warnings.append(f"{rel}: cannot be read ({_os_reason(exc)}); skipped")
            continue
        if wanted is not None:
            result.events = result.events.filter(pl.col("day").is_in(sorted(wanted)))
        results.append(result)
    out = ReadResult.concat(results)
    out.warnings = warnings + out.warnings
    return out


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


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
    """Parse complete lines (``block`` ends with a newline). Returns (events, quarantine records).

    Most lines go to polars in one parse. The few it cannot read faithfully (see
    :func:`_line_flags`) are judged one by one in Python, so each is an event or a quarantined
    record with a reason, and nothing in a line can raise past it.
    """
    lines = block.split(b"\n")[:-1]
    starts: list[int] | None = None
    bad: list[dict] = []

    def quarantine(i: int, reason: Reason, detail: str) -> None:
        nonlocal starts
        if starts is None:
            starts = _line_starts(lines)
        bad.append(_bad(name, first_line + i, base_offset + starts[i], reason, detail, lines[i]))

    invalid: set[int] = set()
    try:
        str(block, "utf-8")
        text = pl.Series(lines, dtype=pl.Binary).cast(pl.String)
    except UnicodeDecodeError:
        starts = _line_starts(lines)
        invalid = _non_utf8_lines(block, starts)
        decoded = block.decode("utf-8", errors="replace")
        text = pl.Series([decoded]).str.split("\n").explode().head(len(lines))
    suspect_set, key_counts = _line_flags(text, max_line_bytes)
    suspects = sorted(suspect_set | invalid)
    frames = []
    keep: list[int] = list(range(len(lines)))
    payload = block
    if suspects:
        starts = starts or _line_starts(lines)
        keep = [i for i in keep if i not in set(suspects)]
        payload = _without_lines(block, starts, suspects)
        frame, rows, seg_bad = _python_rows(lines, suspects, max_line_bytes)
        if frame is not None:
            frames.append(frame.with_columns(_line_idx=pl.Series(rows, dtype=pl.Int64)))
        for problem in seg_bad:
            quarantine(*problem)
    for segment, rows, seg_bad in _parse_segments(
        lines, keep, payload=payload, max_line_bytes=max_line_bytes
    ):
        if segment is not None:
            frames.append(
                segment.with_columns(_line_idx=pl.Series(rows, dtype=pl.Int64), _keys=key_counts[rows])
            )
        for problem in seg_bad:
            quarantine(*problem)
    if not frames:
        bad.sort(key=lambda r: r["line_number"])
        return empty_events(), bad
    raw = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
    raw = raw.sort("_line_idx") if len(frames) > 1 else raw
    events, invalid_rows, recheck = _validate(raw, name, first_line)
    if recheck:  # rows polars may have read differently from Python: Python decides
        frame, rows, seg_bad = _python_rows(lines, recheck, max_line_bytes)
        for problem in seg_bad:
            quarantine(*problem)
        if frame is not None:
            more, more_invalid, _ = _validate(
                frame.with_columns(_line_idx=pl.Series(rows, dtype=pl.Int64)), name, first_line
            )
            events = pl.concat([events, more]).sort("line_number")
            invalid_rows = pl.concat([invalid_rows, more_invalid], how="diagonal_relaxed")
    for i, reason, detail in invalid_rows.select("_line_idx", "_reason", "_detail").iter_rows():
        quarantine(i, Reason(reason), detail)
    bad.sort(key=lambda r: r["line_number"])
    return events, bad


def _line_starts(lines: list[bytes]) -> list[int]:
    starts, pos = [], 0
    for line in lines:
        starts.append(pos)
        pos += len(line) + 1
    return starts


# Keys whose repetition in a line matters (top-level and payload fields): one key twice is read as
# the first by polars and as the last by Python, jq and JavaScript, so such a line is refused.
_KEY_NAMES = "|".join(re.escape(k) for k in (*TOP_LEVEL_FIELDS, *PAYLOAD_COLUMNS))
_KEY_PATTERN = rf'"(?:{_KEY_NAMES})":'
# Escapes polars does not carry faithfully into the JSON text of nested objects (an escaped
# backslash, a backslash or a surrogate written as \u), and keys written with escapes (which
# could spell a known key twice without the key pattern seeing it).
_ESCAPE_SUSPECT = r'\\\\|\\u005[cC]|\\u[dD][89a-fA-F]|\\(?:[^"\\]|\\.)*"\s*:'


def _line_flags(text: pl.Series, max_line_bytes: int) -> tuple[set[int], pl.Series]:
    """Lines to judge in Python rather than hand to polars, and each line's count of known keys.

    A suspect is a line that cannot be a well-formed object (blank, torn, not ``{...}``, too long),
    or one polars would misread: deeper than :data:`~agent_pipelines.contract.MAX_DEPTH` (counted
    generously: every bracket), or holding an escape polars does not carry faithfully. The key
    count lets :func:`_validate` spot a key written twice (polars keeps the first, Python, jq and
    JavaScript the last) by comparing it with the fields polars found.
    """
    line = pl.col("l")
    flags = pl.DataFrame({"l": text}).select(
        (
            ~line.str.starts_with("{")
            | ~(line.str.ends_with("}") | line.str.ends_with("}\r"))
            | (line.str.len_bytes() > max_line_bytes)
            | (line.str.count_matches(r"[\[{]") > MAX_DEPTH)
            | line.str.contains(_ESCAPE_SUSPECT)
            | line.str.contains(r'"\s+:')  # a key spaced from its colon: the key count would miss it
        ).alias("suspect"),
        line.str.count_matches(_KEY_PATTERN).cast(pl.Int32).alias("keys"),
    )
    return set(flags["suspect"].arg_true().to_list()), flags["keys"]


def _parse_segments(
    lines: list[bytes],
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
        yield _python_rows(lines, indices, max_line_bytes)
        return
    # Split wide rather than in halves: with k bad lines among n, re-parsing costs about
    # n * k / _FAN_OUT extra lines instead of n * log2(k).
    step = max(_SMALL_SEGMENT, -(-len(indices) // _FAN_OUT))
    for lo in range(0, len(indices), step):
        yield from _parse_segments(lines, indices[lo : lo + step], max_line_bytes=max_line_bytes)


def _schema_for(lines: list[bytes], indices: list[int]) -> dict[str, pl.DataType]:
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


# --------------------------------------------------------------------------------------------
# One line in Python: the slow path, and the authority on what a line holds
# --------------------------------------------------------------------------------------------


_Refused = ContractError  # a line refused in Python carries the same reason codes


_SURROGATE = re.compile("[\ud800-\udfff]")
_DEPTH_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def _too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether brackets outside strings nest deeper than ``limit``; iterative and linear."""
    if text.count("{") + text.count("[") <= limit:
        return False
    depth = 0
    for match in _DEPTH_TOKENS.finditer(text):
        char = text[match.start()]
        if char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _Refused(Reason.DUPLICATE_KEY, f"key {twice!r:.60} appears twice in one object")
    return obj


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(Reason.MALFORMED_JSON, f"number {text[:40]} is out of range")
    return value


def _no_constant(name: str) -> object:
    raise _Refused(Reason.MALFORMED_JSON, f"{name} is not JSON")


def decode_line(line: bytes) -> dict:
    """One line as a Python object, or :class:`_Refused` with the reason it is not an event object.

    Strict about everything readers disagree on: invalid UTF-8, nesting deeper than ``MAX_DEPTH``,
    duplicate keys, NaN/Infinity and numbers out of range. Lone surrogates (``\\ud800``), which
    are valid JSON but not text, become U+FFFD wherever they appear.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Refused(Reason.INVALID_UTF8, f"invalid UTF-8 at byte {exc.start}") from None
    obj = decode_json(text)
    if not isinstance(obj, dict):
        raise _Refused(Reason.NOT_AN_OBJECT, f"a line must be a JSON object, got {type(obj).__name__}")
    return obj


def decode_json(text: str) -> object:
    """JSON text as Python, refusing with a :class:`~agent_pipelines.contract.ContractError` what
    readers disagree on: nesting deeper than ``MAX_DEPTH``, a key twice in one object, NaN,
    Infinity and numbers beyond a double. Used for lines and for the ``log`` command's ``--data``."""
    if _too_deep(text):
        raise _Refused(Reason.TOO_DEEP, f"nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(
            text, object_pairs_hook=_unique_keys, parse_float=_finite, parse_constant=_no_constant
        )
    except ContractError:  # a duplicate key or a number out of range, from the hooks
        raise
    except RecursionError:  # pragma: no cover - _too_deep caught it first
        raise _Refused(Reason.TOO_DEEP, f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise _Refused(Reason.MALFORMED_JSON, f"malformed JSON: {exc}") from None


def loads_any(raw: bytes | str) -> object:
    """One JSON line of any of our files (alerts, metrics...) as Python, raising only ``ValueError``
    (malformed, invalid UTF-8, or a :class:`~agent_pipelines.contract.ContractError` for nesting
    over ``MAX_DEPTH``, duplicate keys, NaN): a hostile line is skipped by callers, never fatal."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    return decode_json(text)


def _as_text(value: object) -> str | None:
    """A decoded value as the raw frame holds it (polars' ``String`` reading): strings as
    themselves, everything else as JSON text."""
    if value is None:
        return None
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    return _SURROGATE.sub("\ufffd", json.dumps(value, ensure_ascii=False))


def _python_rows(
    lines: list[bytes], indices: list[int], max_line_bytes: int
) -> tuple[pl.DataFrame | None, list[int], list[tuple[int, Reason, str]]]:
    """Judge lines one by one: (raw rows of the good ones, their indices, (index, reason, detail))."""
    rows: list[dict[str, str | None]] = []
    kept: list[int] = []
    bad: list[tuple[int, Reason, str]] = []
    for i in indices:
        line = lines[i]
        if len(line) > max_line_bytes:
            bad.append(
                (i, Reason.LINE_TOO_LONG, f"line is {len(line)} bytes, over the {max_line_bytes}-byte bound")
            )
            continue
        if not line.strip():
            continue  # a blank line holds nothing to keep
        try:
            obj = decode_line(line)
        except _Refused as exc:
            bad.append((i, exc.reason, exc.detail))
            continue
        rows.append(
            {_SURROGATE.sub("\ufffd", k): _as_text(v) for k, v in obj.items() if not k.startswith("_")}
        )
        kept.append(i)
    if not rows:
        return None, kept, bad
    schema = dict(RAW_SCHEMA)
    for row in rows:
        for key in row:
            if key not in schema:
                schema[key] = pl.String()
    frame = pl.DataFrame([{k: row.get(k) for k in schema} for row in rows], schema=schema)
    return frame, kept, bad


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
    # polars holds year 0 and beyond 9999; Python (and so every consumer of an event) does not
    return pl.select(pl.when(fast.dt.year().is_between(MIN_YEAR, MAX_YEAR)).then(fast)).to_series()


# polars writes nested objects back as JSON text with control characters raw (JSON wants them
# escaped); this puts the escapes back, exactly as ``json.dumps`` writes them.
_CONTROL_CHARS = [chr(i) for i in range(32)]
_CONTROL_ESCAPES = [json.dumps(c)[1:-1] for c in _CONTROL_CHARS]


def _json_escaped(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_many(_CONTROL_CHARS, _CONTROL_ESCAPES)


def _payload_frame(data: pl.Series) -> pl.DataFrame:
    """Flatten ``data`` (JSON text) into one text column per known payload field.

    polars reads string fields faithfully but writes nested objects (``outcome``, ``tool_params``)
    back without escaping backslashes; rows whose ``data`` holds an escaped backslash have those
    two fields taken from Python's reading instead.
    """
    text = data.fill_null("{}")
    text = pl.select(pl.when(text.str.starts_with("{")).then(text).otherwise(pl.lit("{}"))).to_series()
    payload = None
    try:
        payload = pl.read_ndjson(
            io.BytesIO(("\n".join(text.to_list()) + "\n").encode("utf-8")), schema=PAYLOAD_SCHEMA
        )
        if payload.height != len(text):
            payload = None
    except Exception:
        payload = None
    if payload is None:
        rows = [_payload_row(value) for value in text.to_list()]  # rare: a string value starting with "{"
        return pl.DataFrame(rows, schema=PAYLOAD_SCHEMA)
    payload = payload.with_columns(*[_json_escaped(pl.col(c)) for c in PAYLOAD_OBJECT_FIELDS])
    redo = text.str.contains("\\\\", literal=True)  # an escaped backslash
    if redo.any():
        idx = redo.arg_true()
        fixed = [_payload_row(text[i]) for i in idx.to_list()]
        for name in PAYLOAD_OBJECT_FIELDS:
            values = pl.Series(name, [row[name] for row in fixed], dtype=pl.String)
            payload = payload.with_columns(payload[name].scatter(idx, values))
    return payload


def _payload_row(value: str) -> dict[str, str | None]:
    try:
        obj = json.loads(value)
    except (ValueError, RecursionError):
        obj = {}
    obj = obj if isinstance(obj, dict) else {}
    return {k: _as_text(obj.get(k)) for k in PAYLOAD_COLUMNS}


def _validate(raw: pl.DataFrame, name: str, first_line: int) -> tuple[pl.DataFrame, pl.DataFrame, list[int]]:
    """Split raw rows into typed valid events, (line, reason, detail) for the invalid ones, and the
    lines to judge again in Python (a known key counted more often than polars found it set)."""
    raw = raw.with_columns(_json_escaped(pl.col("data")))
    payload = _payload_frame(raw["data"]).rename({k: f"d.{k}" for k in PAYLOAD_COLUMNS})
    extras = [c for c in raw.columns if c not in RAW_SCHEMA and c not in ("_line_idx", "_keys")]
    frame = pl.concat([raw, payload], how="horizontal")
    recheck: list[int] = []
    if "_keys" in frame.columns:
        found = pl.sum_horizontal(
            [pl.col(c).is_not_null() for c in (*TOP_LEVEL_FIELDS, *(f"d.{k}" for k in PAYLOAD_COLUMNS))]
        )
        again = pl.col("_keys").is_not_null() & (pl.col("_keys") != found)
        recheck = frame.filter(again)["_line_idx"].to_list()
        if recheck:
            frame = frame.filter(~again)
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
    return typed.select(list(CLEANED_SCHEMA)), invalid, recheck


_TYPED_PAYLOAD = {*PAYLOAD_INT_FIELDS, *PAYLOAD_FLOAT_FIELDS, *PAYLOAD_BOOL_FIELDS}


def _data_with_extras(extras: list[str]) -> pl.Expr:
    """``data`` as JSON text; unknown top-level fields ride along under ``"_extra"`` so none is lost."""
    data = pl.col("data").fill_null("{}")
    if not extras:
        return data.alias("data")
    extra_json = _json_escaped(pl.struct(extras).struct.json_encode())
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
    try:
        obj = decode_line(line.rstrip(b"\r"))
    except _Refused as exc:
        return exc.reason, exc.detail
    try:
        check_event(obj)
    except ContractError as exc:
        return exc.reason, exc.detail
    return None
