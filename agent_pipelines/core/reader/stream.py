"""Reading one file (or bytes): blocks of whole lines, a half-written last line left for later,
a damaged file read up to its damage."""

from __future__ import annotations

import errno
import io
import os
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import polars as pl

from agent_pipelines.core import archive
from agent_pipelines.core.contract import (
    MAX_LINE_BYTES,
    Reason,
)
from agent_pipelines.core.reader.blocks import parse_block, parse_lines, quarantine_record
from agent_pipelines.core.reader.pool import parse_pool
from agent_pipelines.core.reader.result import (
    BLOCK_BYTES,
    BOM,
    MID_BLOCK_BYTES,
    MID_FILE_BYTES,
    QUARANTINE_SCHEMA,
    RAW_KEEP_BYTES,
    READ_BLOCK_BYTES,
    WHOLE_FILE_BYTES,
    ReadResult,
    empty_events,
    empty_quarantine,
)


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
    whole = False  # whether ``carry`` may hold whole lines (what followed a long line in its chunk)
    while True:
        chunk = handle.read(block_bytes)
        if whole:
            chunk, carry, whole = carry + chunk, b"", False
        cut = chunk.rfind(b"\n") + 1
        if cut:
            # one copy of the block's bytes (a whole chunk: none), not a join and then a slice
            lines = chunk if not carry and cut == len(chunk) else b"".join((carry, memoryview(chunk)[:cut]))
            yield Lines(lines, offset)
            offset += len(lines)
            carry = chunk[cut:]
        else:
            carry = carry + chunk if carry else chunk
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
                    carry, whole = chunk[nl + 1 :], True
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
        # A plain file in one read: the system call returns the bytes before an I/O error, and the
        # error comes with the next read; no pieces to join (a copy of every block).
        self._step = 1 << 62 if isinstance(handle, io.BufferedReader) else self.STEP
        self._error: BaseException | None = None

    def read(self, size: int) -> bytes:
        if self._error is not None:
            raise self._error
        parts: list[bytes] = []
        got = 0
        while got < size:
            try:
                piece = self._read(min(self._step, size - got))
            except (OSError, EOFError, zlib.error) as exc:
                self._error = exc
                break
            if not piece:
                break
            parts.append(piece)
            got += len(piece)
        if not parts and self._error is not None:
            raise self._error
        return parts[0] if len(parts) == 1 else b"".join(parts)


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
    block_bytes: int | None = None,
    parallel: int = 0,
) -> ReadResult:
    """Read one JSONL file from byte ``start`` (a line boundary) to its last complete line.

    ``first_line`` is the line number at ``start`` (for a tailer resuming mid-file). With ``final``
    a trailing partial line is quarantined instead of being left for later. A line over
    ``max_line_bytes`` is quarantined as ``line_too_long`` and the lines after it are read. A UTF-8
    byte-order mark at the start of the file is skipped (it counts in the offsets, not as a line).

    This is :func:`iter_read`'s blocks (``parallel`` of them parsed ahead) put together: a caller that
    can handle a file block by block (``cleaned_events``) uses that instead and holds one block.

    Raises ``OSError`` when the file cannot be opened (missing, unreadable, not a regular file:
    :class:`~agent_pipelines.core.archive.NotARegularFile`), and ``FileNotFoundError`` when ``identity``
    (device, inode) is given and the file at ``path`` is another one. Damage met while reading (a
    corrupt archive, an I/O error) ends the read with a warning; what was read before it is kept.
    """
    blocks = iter_read(path, start=start, first_line=first_line, final=final, source_name=source_name,
                       max_line_bytes=max_line_bytes, identity=identity, block_bytes=block_bytes,
                       parallel=parallel)  # fmt: skip
    return ReadResult.concat(blocks)


def iter_read(
    path: str | os.PathLike[str],
    *,
    start: int = 0,
    first_line: int = 1,
    final: bool = False,
    source_name: str | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
    identity: tuple[int, int] | None = None,
    block_bytes: int | None = None,
    parallel: int | Callable[[], int] = 0,
    on_read: Callable[[], None] | None = None,
) -> Iterator[ReadResult]:
    """:func:`read_file` one block at a time: a :class:`ReadResult` per block of lines, then a last
    one (possibly empty) carrying what is only known at the end (the half-written last line, the
    warnings). Each result's ``offsets`` and ``lines`` say how far the file was read once it is
    handled, so :meth:`ReadResult.concat` of them all is exactly :func:`read_file`'s result.

    Memory stays bounded by ``block_bytes`` whatever the size of the file or its lines (by default
    the whole file up to :data:`WHOLE_FILE_BYTES`, else an even number of blocks of at most
    :data:`READ_BLOCK_BYTES`). The file is opened at the first ``next()``, which raises what
    :func:`read_file` raises.

    ``parallel`` blocks after this one are parsed at once (in :func:`parse_pool`'s threads), their
    results still yielded in order: a large day then keeps every core busy, where one block after
    the other left one core to the parse (the next day's reader, a block ahead, soon waits). A
    callable is asked again at every block (a caller can let a reader go further ahead once its
    results are the ones awaited). ``on_read`` is called once the file's last byte is read (its
    last blocks may still be parsing): the pool will get nothing more from this file.
    """
    path = Path(path)
    name = source_name or str(path)
    quarantine: list[dict] = []  # records met between two blocks of lines (long or partial lines)
    offset, line_no, pending = start, first_line, 0
    # An archived day (``.jsonl.gz``) reads like any other file; offsets count decompressed bytes.
    warnings: list[str] = []
    # blocks being parsed: (their parse, the records met before them, offset and line after them)
    parsing: deque[tuple[Future[tuple[pl.DataFrame, list[dict], int]], list[dict], int, int]] = deque()

    def result(events: pl.DataFrame | None = None) -> ReadResult:
        out = ReadResult(
            events=events if events is not None and events.height else empty_events(),
            quarantine=(
                pl.DataFrame(quarantine, schema=QUARANTINE_SCHEMA) if quarantine else empty_quarantine()
            ),
            offsets={name: offset},
            lines={name: line_no - 1},
        )
        quarantine.clear()
        return out

    def parsed(left: int) -> Iterator[ReadResult]:
        """The blocks parsed in the pool, in order, until ``left`` are still being parsed."""
        while len(parsing) > left:
            job, before, end, next_line = parsing.popleft()
            frame, bad, _ = job.result()
            records = before + bad
            yield ReadResult(
                events=frame if frame.height else empty_events(),
                quarantine=(
                    pl.DataFrame(records, schema=QUARANTINE_SCHEMA) if records else empty_quarantine()
                ),
                offsets={name: end},
                lines={name: next_line - 1},
            )

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
            block_bytes = block_bytes or _block_size(path, handle, offset)
            pieces = iter_blocks(
                _Salvaging(handle), offset=offset, max_line_bytes=max_line_bytes, block_bytes=block_bytes
            )
            for piece in pieces:
                ahead = parallel() if callable(parallel) else parallel
                if isinstance(piece, Lines) and (ahead or parsing):  # in order behind those parsing
                    job = parse_pool().submit(
                        parse_lines, piece.data, name, line_no, piece.offset, max_line_bytes
                    )
                    line_no += piece.data.count(
                        b"\n"
                    )  # the next block's first line, before this one is parsed
                    offset = piece.offset + len(piece.data)
                    parsing.append((job, quarantine[:], offset, line_no))
                    quarantine.clear()
                    yield from parsed(ahead)
                elif isinstance(piece, Lines):
                    frame, bad, count = parse_lines(piece.data, name, line_no, piece.offset, max_line_bytes)
                    quarantine.extend(bad)
                    line_no += count
                    offset = piece.offset + len(piece.data)
                    yield result(frame)
                elif isinstance(piece, LongLine):
                    yield from parsed(0)  # its record follows the blocks before it
                    detail = f"line is {piece.length} bytes, over the {max_line_bytes}-byte bound"
                    if piece.ended or final:
                        record = quarantine_record(
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
                    yield from parsed(0)
                    detail = "last line has no newline"
                    quarantine.append(
                        quarantine_record(
                            name, line_no, piece.offset, Reason.TRUNCATED_LINE, detail, piece.data
                        )
                    )
                    offset = piece.offset + len(piece.data)
                    line_no += 1
                else:
                    pending = len(piece.data)
        except (OSError, EOFError, zlib.error) as exc:  # a corrupt archive, a failing disk
            warnings.append(
                f"{name}: reading stopped after byte {offset} ({os_reason(exc)}); "
                f"the {line_no - first_line} lines before it are kept"
            )
    if on_read is not None:
        on_read()
    yield from parsed(0)
    last = result()
    last.pending_bytes = pending
    last.warnings = warnings
    yield last


def read_bytes(
    data: bytes,
    *,
    source_name: str = "<bytes>",
    first_line: int = 1,
    base_offset: int = 0,
    redact: bool = True,
) -> ReadResult:
    """Parse complete lines held in memory (the data must end with a newline).

    ``redact=False`` leaves secrets in the events' text (quarantine records are redacted
    regardless): only for a caller that keeps nothing of the events but their verdicts and days
    (the rotation archives the original bytes), which then skips a tenth of the work."""
    frame, bad = parse_block(data, source_name, first_line, base_offset, MAX_LINE_BYTES, redact=redact)
    return ReadResult(
        events=frame if frame.height else empty_events(),
        quarantine=pl.DataFrame(bad, schema=QUARANTINE_SCHEMA) if bad else empty_quarantine(),
    )


def _block_size(path: Path, handle: object, offset: int) -> int:
    """The reader's own block size for a file: the whole file when it is no larger than
    :data:`WHOLE_FILE_BYTES` (an archive's decompressed size is unknown: blocks), else
    :func:`even_block_bytes` of what is left: blocks of at most :data:`MID_BLOCK_BYTES` up to
    :data:`MID_FILE_BYTES`, of :data:`READ_BLOCK_BYTES` beyond."""
    if archive.is_compressed(path):
        return READ_BLOCK_BYTES
    try:
        left = os.fstat(handle.fileno()).st_size - offset  # type: ignore[attr-defined]
    except (OSError, AttributeError, ValueError):
        return READ_BLOCK_BYTES
    if left <= WHOLE_FILE_BYTES:
        return max(READ_BLOCK_BYTES, left + 1)
    return even_block_bytes(left, MID_BLOCK_BYTES if left <= MID_FILE_BYTES else None)


def even_block_bytes(size: int, most: int | None = None) -> int:
    """A block size of at most ``most`` (:data:`READ_BLOCK_BYTES`) that cuts ``size`` bytes into an
    even number of blocks of about the same size.

    The parse pool's two threads then end a day on a pair of blocks finishing together. With
    8 MiB blocks and whatever was left in the last one, a day of 56 MB was six full blocks and a
    short seventh, parsed alone while the other thread had nothing of the day left (the next
    day's reader, a block ahead, waits for the writer): one block's time of one core lost per day.
    """
    most = most or READ_BLOCK_BYTES
    count = max(1, -(-size // most))
    count += count % 2
    return max(1, -(-size // count))


def os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
