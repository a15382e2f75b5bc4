"""A block of lines cut into lines: their text for polars (split by polars itself, several times
cheaper than in Python), their bytes for the few that Python judges, and where each starts.

Split from :mod:`~agent_pipelines.core.reader.blocks` (which parses a block and calls these): how
a block becomes lines is a subject of its own — every length must add up to the block's, byte for
byte, or line numbers and offsets would drift.
"""

from __future__ import annotations

import bisect
import itertools
import operator
from collections.abc import Iterator, Sequence

import polars as pl


def text_lines(block: bytes) -> pl.Series | None:
    """The block's lines as text, split by polars' CSV reader (several times cheaper than a split
    in Python and a Series built from it), or ``None`` when that reading may not be exactly the
    lines: a carriage return or NUL byte anywhere, invalid UTF-8, blank lines (each of which the
    CSV reader treats in its own way) — the lengths must add up to the block's to the byte."""
    if b"\r" in block or b"\x00" in block:
        return None
    try:
        text = pl.read_csv(  # the bytes themselves: through a BytesIO it took twice as long
            block, has_header=False, separator="\x00", quote_char=None, schema={"l": pl.String}
        )["l"]
    except Exception:  # invalid UTF-8, or anything else the CSV reader refuses
        return None
    if text.null_count() or int(text.str.len_bytes().sum()) + text.len() != len(block):
        return None
    return text


MAX_FILLED = 64  # lines of invalid UTF-8 a block may hold and still be split by polars


def text_lines_around(block: bytes) -> tuple[pl.Series | None, set[int]]:
    """:func:`text_lines` of a block holding invalid UTF-8 in a few lines: those lines are
    replaced by as many bytes of filler (``~``, which no object starts with) before the split, so
    every length still adds up, and their indices come back to be judged in Python from their own
    bytes (:class:`BlockLines` slices the block). ``(None, set())`` when the block is not such a block
    (or holds more such lines than :data:`MAX_FILLED`): the caller splits it in Python."""
    if b"\r" in block or b"\x00" in block:
        return None, set()
    spans: list[tuple[int, int]] = []
    view = memoryview(block)
    pos = 0
    while pos < len(block):
        try:
            str(view[pos:], "utf-8")
            break
        except UnicodeDecodeError as exc:
            if len(spans) == MAX_FILLED:
                return None, set()
            at = pos + exc.start
            start, end = block.rfind(b"\n", 0, at) + 1, block.find(b"\n", at)
            end = len(block) if end < 0 else end
            spans.append((start, end))
            pos = end + 1
    if not spans:
        return None, set()
    pieces: list[bytes | memoryview] = []
    done = 0
    for start, end in spans:
        pieces += [view[done:start], b"~" * (end - start)]
        done = end
    pieces.append(view[done:])
    text = text_lines(b"".join(pieces))
    if text is None:
        return None, set()
    invalid, line, counted = set(), 0, 0
    for start, _ in spans:  # each line's index: the newlines before it
        line += block.count(b"\n", counted, start)
        counted = start
        invalid.add(line)
    return text, invalid


class BlockLines(Sequence[bytes]):
    """A block's lines, sliced from the block one at a time while few are needed (the lines polars
    cannot read), and split in Python only if many are. ``text`` is the lines as polars split them,
    each as long as its line (filler in lines of invalid UTF-8: :func:`text_lines_around`)."""

    _SPLIT_AFTER = 256

    def __init__(self, block: bytes, text: pl.Series) -> None:
        self._block, self._text = block, text
        self._list: list[bytes] | None = None
        self._starts: list[int] | None = None
        self._reads = 0

    def __len__(self) -> int:
        return self._text.len()

    def __getitem__(self, i: int) -> bytes:  # type: ignore[override]
        if self._list is None:
            self._reads += 1
            if self._reads <= self._SPLIT_AFTER:
                starts = self.starts()
                i = i + len(starts) if i < 0 else i
                end = starts[i + 1] - 1 if i + 1 < len(starts) else len(self._block) - 1
                return self._block[starts[i] : end]
            self._list = self._block.split(b"\n")[:-1]
        return self._list[i]

    def starts(self) -> list[int]:
        """Each line's offset in the block."""
        if self._starts is None:
            ends = (self._text.str.len_bytes().cast(pl.Int64) + 1).cum_sum()
            self._starts = ends.shift(1, fill_value=0).to_list()
        return self._starts

    def __iter__(self) -> Iterator[bytes]:
        if self._list is None:
            self._list = self._block.split(b"\n")[:-1]
        return iter(self._list)


def line_starts(lines: Sequence[bytes]) -> list[int]:
    """Each line's offset in its block: the lengths before it plus one newline each (C-level
    iterators, ~30x cheaper than a Python loop over a block's lines)."""
    if isinstance(lines, BlockLines):
        return lines.starts()
    ends = itertools.accumulate(map(len, lines), initial=0)
    return list(map(operator.add, ends, range(len(lines))))


def non_utf8_lines(block: bytes, starts: list[int]) -> set[int]:
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


def without_lines(block: bytes, starts: list[int], drop: list[int]) -> bytes:
    """``block`` minus the given lines (sorted indices), cut with a few slices, not a join per line
    (views of the block: its bytes are copied once, by the join)."""
    view = memoryview(block)
    pieces, pos = [], 0
    for i in drop:
        pieces.append(view[pos : starts[i]])
        pos = starts[i + 1] if i + 1 < len(starts) else len(block)
    pieces.append(view[pos:])
    return b"".join(pieces)
