"""Routing each line: to its day's archive, back to a live file, or to the quarantine (with the
reader's rules, then pandera as the last gate)."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from itertools import accumulate
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from agent_pipelines.core import reader
from agent_pipelines.core.archive import (
    Kind,
)
from agent_pipelines.core.contract import MAX_LINE_BYTES, Reason
from agent_pipelines.ops.rotation.config import Settings
from agent_pipelines.ops.rotation.verdicts import (
    Judged,
    OneDestination,
    judge_block,
    quarantine_record,
)


class _Sink(Protocol):
    def archive(self, kind: Kind, period: str, data: bytes, lines: int) -> None: ...
    def back(self, target: str, data: bytes, lines: int) -> None: ...
    def quarantine(self, records: list[dict[str, Any]]) -> None: ...
    def oversize(self, source: Path, offset: int, length: int) -> str | None: ...


JUDGE_AHEAD = 2  # blocks judged in worker threads while the main thread routes the one before
ROUTE_BLOCK_BYTES = 32 << 20  # smaller blocks cost more CPU per line (pandera's and polars' fixed costs)

_Piece = reader.Lines | reader.LongLine | reader.Tail


@dataclass
class Head:
    """The first blocks of a file, judged before its turn (:func:`prejudge`): each piece with its
    first line number and verdicts, and where reading resumes (``None``: the file ended)."""

    start: int  # past the byte-order mark, if any
    pieces: list[tuple[_Piece, int, Future[Judged] | None]]
    resume: tuple[int, int] | None  # (byte offset, line number)


def prejudge(path: Path, kind: Kind, qname: str, today: date, *, blocks: int = JUDGE_AHEAD) -> Head:
    """Judge the first ``blocks`` blocks of ``path`` now (in the caller's thread), for a
    :func:`route_file` that comes later: a run of many one-block files (a day partition is one
    block up to ~30 MB) then judges the next file while the sink still compresses this one."""
    pieces: list[tuple[_Piece, int, Future[Judged] | None]] = []
    with open(path, "rb") as handle:
        offset = start = reader.skip_bom(handle)
        line_no = 1
        judged = 0
        for piece in _pieces(handle, offset):
            if judged == blocks:
                return Head(start, pieces, (offset, line_no))
            verdicts: Future[Judged] | None = None
            lines = 1  # a long line or a torn last one
            if isinstance(piece, reader.Lines):
                verdicts = Future()
                verdicts.set_result(judge_block(piece.data, kind, qname, line_no, piece.offset, today))
                lines = verdicts.result().lines  # counted by the judge: not counted again
                judged += 1
            pieces.append((piece, line_no, verdicts))
            offset, line_no = _after(piece), line_no + lines
    return Head(start, pieces, None)


def _after(piece: _Piece) -> int:
    """The byte offset just past a piece (past a long line's newline when it has one)."""
    if isinstance(piece, reader.LongLine):
        return piece.offset + piece.length + piece.ended
    return piece.offset + len(piece.data)


def _lines_in(piece: _Piece) -> int:
    return piece.data.count(b"\n") if isinstance(piece, reader.Lines) else 1


def route_file(
    path: Path,
    kind: Kind,
    origin: str,
    quarantine_name: str,
    s: Settings,
    sink: _Sink,
    *,
    head: Head | None = None,
) -> dict[str, int]:
    """Read a file block by block (the reader's :func:`~agent_pipelines.core.reader.iter_blocks`, so
    memory stays bounded whatever the lines) and hand each line to the sink. Returns
    bytes/lines/blank. A UTF-8 byte-order mark at the start is not a line: it is dropped.

    Judging a block (parse, contract, pandera) is nearly all polars work, which releases the GIL:
    the next :data:`JUDGE_AHEAD` blocks are judged in threads while this one routes the block
    before, in order, so the outputs are byte for byte those of judging one block at a time.
    ``head``: the file's first blocks, judged already (:func:`prejudge`).
    """
    totals = {"bytes": 0, "lines": 0, "blank": 0}
    with (
        open(path, "rb") as handle,
        ThreadPoolExecutor(max_workers=JUDGE_AHEAD, thread_name_prefix="rotation-judge") as pool,
    ):
        if head is None:
            offset = reader.skip_bom(handle)
            judged = _judged(_pieces(handle, offset), pool, kind, quarantine_name, s.today, 1)
        else:
            offset, judged = head.start, iter(head.pieces)
            if head.resume is not None:
                resume, line_no = head.resume
                handle.seek(resume)
                more = _judged(_pieces(handle, resume), pool, kind, quarantine_name, s.today, line_no)
                judged = itertools.chain(judged, more)
        for piece, line_no, verdicts in judged:
            if isinstance(piece, reader.Lines) and verdicts is not None:
                n, blank = _route_block(
                    piece.data, verdicts.result(), kind, quarantine_name, line_no, piece.offset, sink
                )
                totals["lines"] += n
                totals["blank"] += blank
            elif isinstance(piece, reader.LongLine):
                kept = sink.oversize(path, piece.offset, piece.length)
                detail = f"line is {piece.length} bytes, over the {MAX_LINE_BYTES}-byte bound"
                if kept:
                    detail += f"; kept whole in the quarantine as {kept}"
                record = quarantine_record(
                    quarantine_name, line_no, piece.offset, Reason.LINE_TOO_LONG, detail, b""
                )
                record["raw"] = piece.head.decode("utf-8", errors="backslashreplace")
                record["raw_bytes"] = piece.length
                sink.quarantine([record])
                totals["lines"] += 1
            else:  # no writer can finish it any more: the file was renamed away and locked
                record = quarantine_record(
                    quarantine_name, line_no, piece.offset, Reason.TRUNCATED_LINE, "no newline", piece.data
                )
                sink.quarantine([record])
                totals["lines"] += 1
            offset = _after(piece)
    totals["bytes"] = offset
    return totals


def _pieces(handle: Any, offset: int) -> Iterator[_Piece]:
    return reader.iter_blocks(
        handle, offset=offset, max_line_bytes=MAX_LINE_BYTES, block_bytes=ROUTE_BLOCK_BYTES
    )


def _judged(
    pieces: Iterator[_Piece], pool: ThreadPoolExecutor, kind: Kind, qname: str, today: date, line_no: int
) -> Iterator[tuple[_Piece, int, Future[Judged] | None]]:
    """Each piece with its first line number and its verdicts being judged, up to
    :data:`JUDGE_AHEAD` blocks ahead of the one the caller routes (memory: a few blocks)."""
    ahead: deque[tuple[_Piece, int, Future[Judged] | None]] = deque()
    for piece in pieces:
        verdicts = None  # a long line or a torn last one: nothing to judge
        if isinstance(piece, reader.Lines):
            verdicts = pool.submit(judge_block, piece.data, kind, qname, line_no, piece.offset, today)
        ahead.append((piece, line_no, verdicts))
        line_no += _lines_in(piece)
        while len(ahead) > JUDGE_AHEAD:
            yield ahead.popleft()
    yield from ahead


def _route_block(
    block: bytes, judged: Judged, kind: Kind, qname: str, first_line: int, base_offset: int, sink: _Sink
) -> tuple[int, int]:
    """Route the complete lines of one block by their verdicts. Returns (lines, blank lines)."""
    if isinstance(judged, OneDestination):
        if judged.records:
            sink.quarantine(judged.records)
        _emit(sink, kind, judged.dest, judged.kept(), judged.lines - len(judged.cuts))
        return judged.lines, 0
    verdicts, bad_idx = judged.verdicts, judged.bad
    lines = block.split(b"\n")
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


def _emit(sink: _Sink, kind: Kind, dest: str, data: bytes, n: int) -> None:
    where, _, name = dest.partition(":")
    if where == "archive":
        sink.archive(kind, name, data, n)
    else:
        sink.back(name, data, n)


def _records(
    lines: list[bytes], bad_idx: dict[int, tuple[str, str]], qname: str, first_line: int, base: int
) -> list[dict[str, Any]]:
    if not bad_idx:
        return []
    starts = [0, *accumulate(len(line) + 1 for line in lines)]
    return [
        quarantine_record(qname, first_line + i, base + starts[i], reason, detail, lines[i])
        for i, (reason, detail) in sorted(bad_idx.items())
    ]
