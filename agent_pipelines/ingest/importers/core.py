"""One import pass: new transcript lines in, events of our contract out, state committed.

The source modules (:mod:`~agent_pipelines.ingest.importers.claude_code`,
:mod:`~agent_pipelines.ingest.importers.codex`) only say what one record *means*; everything else is
shared, here and in the modules beside it: reading files by identity and offset, quarantining bad
lines, deduplicating records, building and checking events, tokens and cost, deciding when a
session has ended, and appending the events to the log folder exactly where our logger would (the
day's stream partition, the attempt's transcript, ``agent-errors.jsonl``, and a summary in
``agent-metrics.jsonl``).

What a session *is* — its events, tokens and cost, and when it ends — is built by
:class:`~agent_pipelines.ingest.importers.sessions.SessionRecorder`; this module runs the pass over the files.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from agent_pipelines.core import paths
from agent_pipelines.core.contract import ContractError, Reason
from agent_pipelines.core.logger import event_destinations
from agent_pipelines.core.settings import Settings, defaults
from agent_pipelines.core.writer import append_lines, serialize
from agent_pipelines.ingest.importers import checking, chunks, documents, pool
from agent_pipelines.ingest.importers import files as files_mod
from agent_pipelines.ingest.importers.pricing import PriceTable
from agent_pipelines.ingest.importers.report import ImportReport
from agent_pipelines.ingest.importers.sessions import COST_MODES, IDLE_CLOSE_S, STALE_S, SessionRecorder
from agent_pipelines.ingest.importers.state import (
    ImportState,
    adopt_legacy_state,
    content_hash,
    record_hash,
    state_path,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

CHUNK_RECORDS = 2000
FLUSH_EVENTS = 20000  # events held before they are appended to the log folder


class LockedError(RuntimeError):
    """Another import of the same source is running."""


class Source(Protocol):
    """What a transcript format must provide (see ``claude_code.py`` and ``codex.py``)."""

    name: str
    executor: str
    known_types: frozenset[str]

    def default_roots(self, settings: Settings) -> list[Path]: ...

    def record_id(self, record: dict[str, Any], file_session: str | None) -> str | None: ...

    def file_session(self, path: Path) -> str | None:
        """The session a file holds when its records do not all say (read before its first line)."""
        ...

    def handle(self, record: dict[str, Any], imp: Importer) -> None: ...


class Importer(SessionRecorder):
    """One pass over one source: new lines of its files in, events appended to the log folder."""

    def __init__(
        self,
        source: Source,
        logs_dir: Path,
        data_dir: Path,
        *,
        now: datetime | None = None,
        prices: PriceTable | None = None,
        idle_close_s: float = IDLE_CLOSE_S,
        stale_s: float = STALE_S,
        cost_mode: str = "auto",
        workers: int | None = None,
    ) -> None:
        super().__init__(
            source.name,
            source.executor,
            now=now,
            prices=prices,
            idle_close_s=idle_close_s,
            stale_s=stale_s,
            cost_mode=cost_mode,
        )
        self.source = source
        self.logs_dir = logs_dir
        self.data_dir = data_dir
        # What a worker process needs to make the same importer (see pool.py).
        self.options: dict[str, Any] = {
            "now": now,
            "prices": self.prices,
            "idle_close_s": idle_close_s,
            "stale_s": stale_s,
            "cost_mode": cost_mode,
        }
        self.workers = workers
        self.flush_events: int | None = FLUSH_EVENTS  # None: a worker's, whose lines the pass appends

    def run(
        self,
        roots: list[Path],
        *,
        max_bytes: int | None = None,
        wait: bool = True,
        progress: Callable[[str], None] | None = None,
    ) -> ImportReport:
        started = time.perf_counter()
        path = state_path(self.data_dir, self.source.name, self.logs_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        adopt_legacy_state(self.data_dir, self.source.name, path)
        lock_fd = os.open(f"{path}.lock", os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(lock_fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                except BlockingIOError:
                    raise LockedError(f"another {self.source.name} import is running") from None
            with ImportState(path) as state:
                self.state = state
                self._read(roots, max_bytes, progress)
                self.close_quiet_sessions()
                self.write()
                state.commit()
                self.report.sessions_open = int(
                    state.db.execute("SELECT count(*) FROM sessions WHERE open = 1").fetchone()[0]
                )
        finally:
            os.close(lock_fd)
        self.report.sessions_touched = len(self.touched)
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _read(self, roots: list[Path], max_bytes: int | None, progress: Callable[[str], None] | None) -> None:
        assert self.state is not None
        known = self.state.files()
        suffixes = getattr(self.source, "suffixes", (".jsonl",))
        items, notes = files_mod.pending(roots, known, suffixes)
        self.report.files_seen = len(files_mod.transcript_files(roots, suffixes))
        if getattr(self.source, "documents", False):  # whole JSON files (Gemini CLI, OpenCode, SWE-agent)
            self._documents(items)
            return
        self.report.notes.extend(notes)
        workers = pool.workers_for(items, self.workers) if max_bytes is None else 0
        if workers > 1:
            pool.read_parallel(self, items, workers, progress)
            return
        self.read_items(items, max_bytes, progress)

    def read_items(
        self, items: list[files_mod.Pending], max_bytes: int | None, progress: Callable[[str], None] | None
    ) -> None:
        """New lines of ``items`` in turn; events go to the log folder every ``FLUSH_EVENTS``."""
        budget = max_bytes
        total = sum(i.size - i.start for i in items)
        done = 0
        for index, item in enumerate(items):
            if budget is not None and budget <= 0:
                self.report.more_pending = True
                break
            try:
                read = self._read_file(item, budget)
            except OSError as exc:  # one file that cannot be read: reported, skipped, retried next pass
                self.report.notes.append(f"{item.path}: cannot be read ({exc.strerror or exc}); skipped")
                self.report.files_skipped += 1
                continue
            if budget is not None:
                budget -= read
                if item.start + read < item.size and budget <= 0:
                    self.report.more_pending = True
            done += read
            if self.flush_events is not None and len(self.events) >= self.flush_events:
                self.write()
            if progress and (index % 200 == 199 or index == len(items) - 1):
                progress(
                    f"{self.source.name}: {index + 1}/{len(items)} files, "
                    f"{done / 1e6:.1f}/{total / 1e6:.1f} MB"
                )

    def _documents(self, items: list[files_mod.Pending]) -> None:
        """Each changed file read whole, its records handled in time order; record ids skip the
        records a file already had when it was read before (these files are rewritten, not appended)."""
        assert self.state is not None
        batch = documents.read(self.source, items)  # type: ignore[arg-type]  # documents=True says it has records_of
        for path, problem in batch.problems:
            self.where = (str(path), 0, 0)
            self.bad(problem[0], problem[1])
        for path, chunk in batch.chunks:
            self.file_session = None
            self._records(path, chunk)
        for item in items:
            self.state.set_file(files_mod.file_state(item, item.size, 0, None))
            self.report.files_read += 1
            self.report.bytes_read += item.size

    def _read_file(self, item: files_mod.Pending, budget: int | None) -> int:
        """New complete lines of one file into records; returns the bytes read. An ``OSError`` (the
        file went, cannot be opened, is no longer a regular file) leaves its state as it was."""
        assert self.state is not None
        self.file_session = item.previous.session if item.previous and not item.note else None
        if self.file_session is None:
            self.file_session = self.source.file_session(item.path)
        offset, line = item.start, item.first_line - 1
        chunk: list[tuple[int, int, bytes]] = []
        for line_no, off, raw in files_mod.read_lines(item, budget):
            chunk.append((line_no, off, raw))
            offset, line = off + len(raw) + 1, line_no
            if len(chunk) >= CHUNK_RECORDS:
                self._records(item.path, chunk)
                chunk = []
        self._records(item.path, chunk)
        read = offset - item.start
        if read:
            self.report.files_read += 1
            self.report.bytes_read += read
        self.state.set_file(files_mod.file_state(item, offset, line, self.file_session))
        return read

    def _records(self, path: Path, chunk: list[tuple[int, int, bytes]]) -> None:
        if not chunk:
            return
        assert self.state is not None
        name = str(path)
        parsed, skipped = chunks.records(self, self.source, name, chunk)
        self.report.records += len(parsed) + skipped
        # Records copied into a resumed session (same record id) become events once.
        # A record without an id of its own is known by its session, line and content, so a copied
        # or moved file (same lines at the same places) is never counted twice.
        ids: list[int | None] = []
        record_id, file_session = self.source.record_id, self.file_session
        by_line = f"{self.source.name}:{file_session}:"
        for line_no, _off, raw, record in parsed:
            try:
                rid = record_id(record, file_session)
            except (TypeError, ValueError, AttributeError):
                rid = None  # a record of an odd shape has no id; handling it says what is wrong
            if rid is None and file_session is not None:
                rid = f"{by_line}{line_no}:{content_hash(raw)}"
            ids.append(record_hash(rid) if rid else None)
        fresh = self.state.unseen(h for h in ids if h is not None)
        in_chunk: set[int] = set()
        handle = self.source.handle
        for (line_no, off, raw, record), h in zip(parsed, ids, strict=True):
            if h is not None:
                if h not in fresh or h in in_chunk:
                    self.report.duplicate_records += 1
                    continue
                in_chunk.add(h)
            self.where = (name, line_no, off)
            try:
                handle(record, self)
            except ContractError as exc:
                self.bad(exc.reason, exc.detail, raw)
            except Exception as exc:  # one record the source could not make sense of: never the pass
                self.bad(Reason.WRONG_TYPE, f"unexpected record shape: {type(exc).__name__}: {exc}", raw)
        self.state.mark_seen(in_chunk)

    def write(self) -> None:
        """Append the events made so far where our logger would, one locked write per file, and
        forget them (a pass holds the events of a few files at most, never a whole tree's)."""
        for target, lines in self.lines_by_target().items():
            append_lines(target, lines)
        if self.quarantine:
            from agent_pipelines.core.quarantine import write_quarantine
            from agent_pipelines.core.reader import QUARANTINE_SCHEMA

            write_quarantine(self.data_dir, pl.DataFrame(self.quarantine, schema=QUARANTINE_SCHEMA))
        self.events, self.lines, self.event_where, self.metrics, self.quarantine = [], [], [], [], []

    def lines_by_target(self) -> dict[Path, list[str]]:
        """The events made so far as lines, by the file each goes to (checked against the contract
        at once: an event it refuses is quarantined instead)."""
        lines = self.lines
        refused = checking.refused(lines)
        by_file: dict[Path, list[str]] = {}
        targets: dict[tuple[str, str, bool], list[Path]] = {}
        for index, (event, line) in enumerate(zip(self.events, lines, strict=True)):
            if index in refused:
                self.where = self.event_where[index]
                self.bad(*refused[index])
                self.report.events[event["event_type"]] -= 1
                continue
            key = (event["timestamp"][:10], event["attempt_id"], event["event_type"] == "error")
            if key not in targets:
                targets[key] = event_destinations(self.logs_dir, event)
            for target in targets[key]:
                by_file.setdefault(target, []).append(line)
        if self.metrics:
            by_file.setdefault(self.logs_dir / paths.METRICS_FILE, []).extend(
                serialize(m) for m in self.metrics
            )
        return by_file


def run_import(
    source: Source,
    roots: list[Path] | None = None,
    *,
    logs_dir: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    now: datetime | None = None,
    prices: PriceTable | None = None,
    settings: Settings | None = None,
    idle_close_s: float = IDLE_CLOSE_S,
    stale_s: float = STALE_S,
    cost_mode: str = "auto",
    max_bytes: int | None = None,
    wait: bool = True,
    progress: Callable[[str], None] | None = None,
    workers: int | None = None,
) -> ImportReport:
    """Import what is new in ``roots`` (default: the source's usual folders) into the log folder.

    ``settings`` (the edge's; every default without) give the usual folders and the price file.
    ``workers``: processes to read files in (default: one per core once there are enough new bytes
    to pay for starting them, see :func:`~agent_pipelines.ingest.importers.pool.workers_for`)."""
    settings = settings or defaults()
    importer = Importer(
        source,
        paths.logs_dir(logs_dir),
        paths.data_dir(data_dir),
        now=now,
        prices=prices or PriceTable(settings.prices_file),
        idle_close_s=idle_close_s,
        stale_s=stale_s,
        cost_mode=cost_mode,
        workers=workers,
    )
    return importer.run(
        roots if roots is not None else source.default_roots(settings),
        max_bytes=max_bytes,
        wait=wait,
        progress=progress,
    )


__all__ = [
    "COST_MODES",
    "IDLE_CLOSE_S",
    "STALE_S",
    "ImportReport",
    "Importer",
    "LockedError",
    "Source",
    "run_import",
]
