"""Where routed lines go while a file is prepared: counting (a plan), or archive files being written."""

from __future__ import annotations

import shutil
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_pipelines.core.archive import (
    Kind,
    archive_path,
    count_lines,
    gzip_member,
    member_holds,
)
from agent_pipelines.core.atomic import fsync_dir, fsync_path
from agent_pipelines.core.writer import serialize
from agent_pipelines.ops.rotation.config import BLOCK_BYTES, KEEP_ON_REPREPARE, QUARANTINE, RotationError
from agent_pipelines.ops.rotation.manifest import ArchiveEntry, QuarantineEntry, ReturnEntry
from agent_pipelines.ops.rotation.plan import Outcome


class CountingSink:
    """A dry run's sink: counts what would be written."""

    def __init__(self, logs_root: Path) -> None:
        self.root = logs_root
        self._outcome = Outcome()
        self._lines = 0

    def archive(self, kind: Kind, period: str, data: bytes, lines: int) -> None:
        path = archive_path(self.root, kind, period)
        target = path.relative_to(self.root).as_posix()
        self._outcome.add_archive(target, lines, len(data), 0, path.exists())

    def back(self, target: str, data: bytes, lines: int) -> None:
        self._outcome.returned[target] = self._outcome.returned.get(target, 0) + lines

    def quarantine(self, records: list[dict[str, Any]]) -> None:
        for r in records:
            self._outcome.quarantined[r["reason"]] = self._outcome.quarantined.get(r["reason"], 0) + 1

    def oversize(self, source: Path, offset: int, length: int) -> str | None:
        return None

    def outcome(self, origin: str) -> Outcome:
        self._outcome.sources.append({"origin": origin})
        return self._outcome


@dataclass
class _ArchiveTmp:
    target: str
    tmp: str
    merged: bool
    existing_lines: int
    existing_bytes: int  # of the archive copied first (merged), else 0
    lines_new: int = 0
    raw_bytes: int = 0
    compressed_bytes: int = 0


def _checked_member(data: bytes) -> bytes:
    """``data`` as one gzip member, decompressed again before it is trusted: the archive's check.

    Runs on the compression threads (ISA-L releases the GIL), beside the parsing of the next block,
    instead of a second pass that read every archive back after it was written.
    """
    member = gzip_member(data)
    if not member_holds(member, data):
        raise RotationError("a compressed block does not decompress to its lines; nothing deleted")
    return member


class PreparingSink:
    """Writes outputs into the token folder. Compression (and its check) runs on a small thread
    pool while the main thread parses the next block; writes keep submission order."""

    def __init__(self, logs_root: Path, tokdir: Path) -> None:
        self.root = logs_root
        self.tokdir = tokdir
        self._archives: dict[str, _ArchiveTmp] = {}
        self._returns: dict[str, dict[str, Any]] = {}
        self._quarantine_lines = 0
        self._reasons: dict[str, int] = {}
        self._pool = ThreadPoolExecutor(max_workers=2)
        self._oversize: list[str] = []
        self._pending: deque[tuple[_ArchiveTmp, Future[bytes]]] = deque()

    def archive(self, kind: Kind, period: str, data: bytes, lines: int) -> None:
        path = archive_path(self.root, kind, period)
        target = path.relative_to(self.root).as_posix()
        entry = self._archives.get(target)
        if entry is None:
            tmp = f"archive-{kind.value}-{period}.jsonl.gz"
            merged = path.exists()
            if merged:
                shutil.copyfile(path, self.tokdir / tmp)
            else:
                (self.tokdir / tmp).touch()
            existing = (self.tokdir / tmp).stat().st_size
            entry = _ArchiveTmp(target, tmp, merged, count_lines(path) if merged else 0, existing)
            self._archives[target] = entry
        entry.lines_new += lines
        entry.raw_bytes += len(data)
        self._pending.append((entry, self._pool.submit(_checked_member, data)))
        while len(self._pending) > 3:
            self._write_next()

    def _write_next(self) -> None:
        entry, future = self._pending.popleft()
        member = future.result()
        entry.compressed_bytes += len(member)
        with open(self.tokdir / entry.tmp, "ab") as handle:
            handle.write(member)

    def back(self, target: str, data: bytes, lines: int) -> None:
        entry = self._returns.get(target)
        if entry is None:
            entry = {
                "target": target,
                "file": f"return-{len(self._returns):03d}.jsonl",
                "lines": 0,
                "bytes": 0,
            }
            self._returns[target] = entry
        with open(self.tokdir / entry["file"], "ab") as handle:
            handle.write(data)
        entry["lines"] += lines
        entry["bytes"] += len(data)

    def quarantine(self, records: list[dict[str, Any]]) -> None:
        payload = "".join(serialize(r) + "\n" for r in records).encode("utf-8")
        with open(self.tokdir / QUARANTINE, "ab") as handle:
            handle.write(payload)
        self._quarantine_lines += len(records)
        for r in records:
            self._reasons[r["reason"]] = self._reasons.get(r["reason"], 0) + 1

    def oversize(self, source: Path, offset: int, length: int) -> str | None:
        """Copy an over-long line byte for byte, in bounded pieces, to a file the commit moves into
        the quarantine folder (its record holds only the first 64 KiB)."""
        name = f"oversize-{offset}.line"
        with open(source, "rb") as src, open(self.tokdir / name, "wb") as dst:
            src.seek(offset)
            left = length
            while left > 0:
                piece = src.read(min(BLOCK_BYTES, left))
                if not piece:
                    break
                dst.write(piece)
                left -= len(piece)
        self._oversize.append(name)
        return f"oversize/{self.tokdir.name}-{name}"

    def oversize_entries(self) -> tuple[str, ...]:
        return tuple(self._oversize)

    def close(self) -> None:
        try:
            while self._pending:
                self._write_next()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
        for path in self.tokdir.iterdir():
            if path.name not in KEEP_ON_REPREPARE:
                fsync_path(path)
        fsync_dir(self.tokdir)

    def verify(self) -> None:
        """After :meth:`close`: each archive file holds exactly the archive it was copied from (if
        any) and the checked members appended to it, byte count for byte count."""
        for e in self._archives.values():
            found = (self.tokdir / e.tmp).stat().st_size
            if found != e.existing_bytes + e.compressed_bytes:
                raise RotationError(
                    f"{e.target}: expected {e.existing_bytes + e.compressed_bytes} bytes in the new archive, "
                    f"found {found}; nothing deleted"
                )

    def archive_entries(self) -> tuple[ArchiveEntry, ...]:
        return tuple(
            ArchiveEntry(
                target=e.target,
                tmp=e.tmp,
                merged=e.merged,
                lines_new=e.lines_new,
                lines_total=e.existing_lines + e.lines_new,
                raw_bytes=e.raw_bytes,
                compressed_bytes=e.compressed_bytes,
            )
            for e in self._archives.values()
        )

    def return_entries(self) -> tuple[ReturnEntry, ...]:
        return tuple(ReturnEntry(**r) for r in self._returns.values())

    def quarantine_entry(self) -> QuarantineEntry:
        return QuarantineEntry(QUARANTINE, self._quarantine_lines, dict(self._reasons))
