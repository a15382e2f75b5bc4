"""Following the stream files of a log folder: what is new since the last read, and where it is.

A cursor entry remembers one *file* — its identity ``(st_dev, st_ino)``, a hash of its first bytes,
the byte offset read to and the number of lines consumed — not one path. That is what makes the
cases a log tailer meets every day come out right:

* **append** — same identity, bigger size: read from the offset;
* **half-written last line** — the reader stops before a line without its newline and reports
  the offset it really consumed; the rest is read next time;
* **rotation** (rename or move, then a new file at the old path) — the old identity is found
  again under its new name (``archive/`` or anywhere in the folder) and its tail is drained; the
  new file at the path is a new identity, read from byte 0;
* **truncation** (``size < offset``, or the first bytes changed: the file was rewritten) — read
  again from byte 0, and say so in a note;
* **inode reuse** (a deleted file's inode given to a new file) — caught by the head hash;
* **restart** — the cursor is a small JSON string (the sensor's cursor and the detector state
  both hold one).

Scanning only calls ``stat`` (and reads up to 256 bytes per file for the head hash), so the sensor
can afford it every 5 seconds.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from agent_pipelines.core import archive, paths
from agent_pipelines.core.reader import ReadResult, read_file, stream_files

HEAD_BYTES = 256


@dataclass(frozen=True)
class FilePos:
    """How far one file (by identity) was read. ``line`` is the number of lines consumed."""

    path: str  # relative to the log folder, where the file was last seen
    dev: int
    ino: int
    offset: int
    line: int
    head: str = ""  # hash of the first ``head_len`` bytes
    head_len: int = 0

    @property
    def identity(self) -> tuple[int, int]:
        return (self.dev, self.ino)


@dataclass(frozen=True)
class Range:
    """New bytes of one file to read: from ``start`` (line ``first_line``) to about ``end``.

    ``end`` is the size seen by the scan; the reader goes on to the last complete line, which may
    be further if the file grew in between (the next range then starts where the reader stopped).
    """

    path: str
    dev: int
    ino: int
    start: int
    first_line: int
    end: int
    note: str | None = None

    @property
    def identity(self) -> tuple[int, int]:
        return (self.dev, self.ino)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict) -> Range:
        return cls(**{k: value[k] for k in cls.__dataclass_fields__ if k in value})


class Cursor:
    """Read positions by file identity; serializes to a compact JSON string."""

    def __init__(self, positions: dict[tuple[int, int], FilePos] | None = None) -> None:
        self.positions: dict[tuple[int, int], FilePos] = dict(positions or {})

    def to_json(self) -> str:
        entries = [
            [p.path, p.dev, p.ino, p.offset, p.line, p.head, p.head_len]
            for p in sorted(self.positions.values(), key=lambda p: p.path)
        ]
        return json.dumps(entries, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> Cursor:
        if not text:
            return cls()
        try:
            entries = json.loads(text)
        except ValueError:
            return cls()
        positions = {}
        for entry in entries if isinstance(entries, list) else []:
            try:
                dev, ino, offset, line = (int(x) for x in entry[1:5])
                pos = FilePos(str(entry[0]), dev, ino, offset, line, str(entry[5]), int(entry[6]))
            except (IndexError, TypeError, ValueError):
                continue
            positions[pos.identity] = pos
        return cls(positions)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cursor) and self.positions == other.positions

    def __repr__(self) -> str:
        return f"Cursor({self.to_json()})"

    def total_offset(self) -> int:
        return sum(p.offset for p in self.positions.values())


@dataclass
class ScanResult:
    ranges: list[Range]
    notes: list[str]
    dropped: list[tuple[int, int]]  # identities gone for good (no longer findable)


def watched_files(root: Path) -> list[Path]:
    """The files holding stream events: the daily partitions and the original PowerShell logger's
    single file. Only regular files inside the folder (the reader's rule: a directory, FIFO or
    symlink is skipped)."""
    return [p for p in stream_files(root) if not archive.is_compressed(p)]


def _head(path: Path, length: int, identity: tuple[int, int] | None = None) -> str | None:
    """Hash of the first ``length`` bytes; ``None`` when the file at ``path`` is not ``identity``
    (replaced since it was looked at) or cannot be read."""
    try:
        with open(path, "rb") as handle:
            st = os.fstat(handle.fileno())
            if identity is not None and (st.st_dev, st.st_ino) != identity:
                return None
            return hashlib.blake2b(handle.read(length), digest_size=8).hexdigest()
    except OSError:
        return None


def resume_point(
    shown: str, size: int, offset: int, line: int, same_start: Callable[[], bool]
) -> tuple[int, int, str | None]:
    """Where to read a known file from again: ``(start, first_line, note)``.

    Its remembered ``offset`` (and the line after ``line``) when the file only grew; byte 0 with a
    note saying why when it shrank or its first bytes changed (rewritten). ``same_start`` is only
    asked when the size allows an append. The live tailer and the transcript importer both decide so.
    """
    if size < offset:
        return 0, 1, f"{shown} was truncated ({size} < {offset} bytes): reading it again from the start"
    if not same_start():
        return 0, 1, f"{shown} was rewritten (its first bytes changed): reading it again from the start"
    return offset, line + 1, None


def _same_file(path: Path, pos: FilePos) -> bool:
    """Whether ``path`` is the file ``pos`` remembers: device, inode *and* first bytes. An inode is
    reused as soon as its file is deleted, so the first two alone can name a stranger."""
    return not pos.head_len or _head(path, pos.head_len, pos.identity) == pos.head


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


# Files that never hold stream lines: a stream file's inode reused by one of them is a stranger.
_NOT_STREAM = frozenset({paths.ERRORS_FILE, paths.ALERTS_FILE, paths.METRICS_FILE})


def _find_moved(root: Path, wanted: dict[tuple[int, int], FilePos]) -> dict[tuple[int, int], Path]:
    """Where files with the wanted identities are now (renamed within the folder, or staged by a
    rotation), checked by device, inode and head hash; symlinks and non-regular files are skipped."""
    found: dict[tuple[int, int], Path] = {}
    if not wanted:
        return found
    candidates = [*root.glob("*"), *(root / paths.STREAM_DIR).glob("*")]
    staging = root / paths.ARCHIVE_DIR
    if staging.is_dir() and not staging.is_symlink():
        candidates.extend(staging.rglob("*"))
    for path in candidates:
        if path.name in _NOT_STREAM and path.parent == root:
            continue
        try:
            st = path.lstat()
        except OSError:
            continue
        key = (st.st_dev, st.st_ino)
        if key in wanted and stat.S_ISREG(st.st_mode) and _same_file(path, wanted[key]):
            found[key] = path
    return found


def scan(root: str | os.PathLike[str], cursor: Cursor) -> ScanResult:
    """Compare the folder with the cursor; return the ranges to read. Does not change ``cursor``."""
    root = Path(root)
    ranges: list[Range] = []
    notes: list[str] = []
    present: set[tuple[int, int]] = set()
    for path in watched_files(root):
        try:
            st = path.stat()
        except OSError:
            continue  # deleted between glob and stat
        key = (st.st_dev, st.st_ino)
        present.add(key)
        rel = _rel(root, path)
        pos = cursor.positions.get(key)
        start, first_line, note = 0, 1, None
        if pos is not None:
            start, first_line, note = resume_point(
                rel, st.st_size, pos.offset, pos.line, functools.partial(_same_file, path, pos)
            )
        if note:
            notes.append(note)
        if st.st_size > start:
            ranges.append(Range(rel, key[0], key[1], start, first_line, st.st_size, note))
    missing = {k: p for k, p in cursor.positions.items() if k not in present}
    moved = _find_moved(root, missing)
    dropped = []
    for key in sorted(missing):
        pos = cursor.positions[key]
        moved_to = moved.get(key)
        if moved_to is None:
            notes.append(f"{pos.path} is gone (rotated or deleted) after {pos.offset} bytes read")
            dropped.append(key)
            continue
        try:
            size = moved_to.stat().st_size
        except OSError:
            size = 0
        if size > pos.offset:
            rel = _rel(root, moved_to)
            note = f"{pos.path} was moved to {rel}: reading its last {size - pos.offset} bytes"
            notes.append(note)
            ranges.append(Range(rel, key[0], key[1], pos.offset, pos.line + 1, size, note))
        else:
            dropped.append(key)  # fully read where it was; nothing left to follow
    return ScanResult(ranges, notes, dropped)


def advance(cursor: Cursor, rng: Range, offset: int, lines_consumed: int, root: Path) -> Cursor:
    """A new cursor after ``rng`` was read up to ``offset`` (lines up to ``lines_consumed``)."""
    positions = dict(cursor.positions)
    head_len = min(HEAD_BYTES, offset)
    head = _head(root / rng.path, head_len, rng.identity) if head_len else ""
    if head is None:  # replaced since it was read: remember no head, the next scan reads it anew
        head, head_len = "", 0
    positions[rng.identity] = FilePos(rng.path, rng.dev, rng.ino, offset, lines_consumed, head, head_len)
    return Cursor(positions)


def forget(cursor: Cursor, identities: list[tuple[int, int]]) -> Cursor:
    return Cursor({k: v for k, v in cursor.positions.items() if k not in set(identities)})


def read_range(root: Path, rng: Range, parallel: int = 0) -> ReadResult:
    """Read one range with the shared reader; events carry the file's relative name and line numbers.
    ``parallel``: blocks parsed ahead (:func:`~agent_pipelines.core.reader.iter_read`)."""
    return read_file(
        root / rng.path,
        start=rng.start,
        first_line=rng.first_line,
        source_name=rng.path,
        identity=rng.identity,
        parallel=parallel,
    )


def ranges_to_json(ranges: list[Range]) -> str:
    return json.dumps([r.to_json() for r in ranges], separators=(",", ":"))


def ranges_from_json(text: str | None) -> list[Range]:
    if not text:
        return []
    return [Range.from_json(v) for v in json.loads(text)]


def ranges_key(ranges: list[Range]) -> str:
    """A short stable id of what a set of ranges covers (for idempotent run keys)."""
    text = "|".join(f"{r.dev}:{r.ino}:{r.start}-{r.end}" for r in sorted(ranges, key=lambda r: r.identity))
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


@dataclass
class NewData:
    """Everything read in one pass: events, quarantine, the advanced cursor, and notes for the log."""

    result: ReadResult
    cursor: Cursor
    notes: list[str]
    ranges: list[Range]

    @property
    def bytes_read(self) -> int:
        return sum(self.result.offsets.get(r.path, r.start) - r.start for r in self.ranges)


def read_new(root: str | os.PathLike[str], cursor: Cursor, *, parallel: int = 0) -> NewData:
    """Read every file's new complete lines since ``cursor``; return them and the advanced cursor.

    The cursor given is the *committed* one (what was processed), so a run that read more than a
    sensor asked for, or a retry after a failed run, neither skips nor re-reads a line.
    """
    root = Path(root)
    found = scan(root, cursor)
    results = []
    new_cursor = forget(cursor, found.dropped)
    for rng in found.ranges:
        try:
            result = read_range(root, rng, parallel)
        except FileNotFoundError:
            found.notes.append(f"{rng.path} disappeared before it could be read; it will be looked for again")
            continue
        except OSError as exc:  # unreadable, or no longer a regular file: the next scan looks again
            found.notes.append(f"{rng.path} cannot be read ({exc.strerror or exc}); skipped this time")
            continue
        found.notes.extend(result.warnings)
        results.append(result)
        new_cursor = advance(
            new_cursor, rng, result.offsets.get(rng.path, rng.start), result.lines.get(rng.path, 0), root
        )
    return NewData(ReadResult.concat(results), new_cursor, found.notes, found.ranges)


def has_complete_line(root: str | os.PathLike[str], rng: Range, limit: int = 2 << 20) -> bool:
    """Whether a range holds at least one newline (else it is only a half-written line: not yet)."""
    try:
        with open(Path(root) / rng.path, "rb") as handle:
            handle.seek(rng.start)
            remaining = min(limit, max(0, rng.end - rng.start))
            while remaining > 0:
                chunk = handle.read(min(65536, remaining))
                if not chunk:
                    return False
                if b"\n" in chunk:
                    return True
                remaining -= len(chunk)
    except OSError:
        return False
    return rng.end - rng.start > limit  # a line over the bound: the reader will quarantine it
