"""A pass's files read in worker processes, with the result of reading them one after another.

Why: the cost of an import is per record Python (decoding, redaction, a session's logic, the
events and their contract check), one core's work; the machine usually has more. A session's state
may cross files (a resumed Claude Code session copies earlier records, a sub-agent writes into its
parent's session, Codex moves a rollout to ``archived_sessions/`` or a user copies a tree), so files
cannot simply be read apart. They are read apart *optimistically*:

* The new files are cut into tasks (consecutive files, a session's files together, a few MB each).
  Each worker reads its task against the state committed before the pass, keeps its writes in
  memory and says every key of the state it asked about (sessions, record hashes, API requests).
* The main process takes the results **in file order**. A result whose keys no earlier part of the
  pass has touched is exactly what reading its files in turn would have made: its events are
  appended and its writes merged. A result that met an earlier part's key (the same session, a
  record already counted this pass) is thrown away and its files are read again here, after
  everything before them, as a single process would.

So tokens, tool calls and sessions never depend on the number of workers (the tests compare),
and memory holds a few tasks' events at a time, not the tree's.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_pipelines.core.writer import append_lines
from agent_pipelines.ingest.importers import shapes
from agent_pipelines.ingest.importers.files import Pending
from agent_pipelines.ingest.importers.report import ImportReport
from agent_pipelines.ingest.importers.state import Buffered, ImportState, Keys

# The importer (core.Importer, which calls this module) is passed in, not imported: typed ``Any`` here.
Importer = Any

MIN_BYTES = 8 << 20  # below this much new data, starting workers costs more than it saves
TASK_BYTES = 4 << 20
TASK_FILES = 64
AHEAD = 2  # tasks in flight per worker: enough to keep them busy, few enough to bound memory


@dataclass
class Job:
    """One task for a worker: how to make the importer, and the files to read."""

    make: Any  # the importer's class
    source: Any
    logs_dir: Path
    data_dir: Path
    state_path: Path
    options: dict[str, Any]
    items: list[Pending]


@dataclass
class Part:
    """What a worker made of its task."""

    lines: dict[Path, list[str]]
    quarantine: list[dict[str, Any]]
    report: ImportReport
    touched: set[str]
    buffered: Buffered
    asked: Keys


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def workers_for(items: list[Pending], workers: int | None) -> int:
    """How many worker processes to read ``items`` in (1: this process alone)."""
    if len(items) < 2:
        return 1
    if workers is not None:
        return max(1, workers)
    if sum(i.size - i.start for i in items) < MIN_BYTES:
        return 1
    return min(cores(), 8)


def _key(item: Pending) -> str | None:
    """The session a file most likely belongs to, so a session's files go to one task: the first id
    in its folders (Claude Code's ``<session>/subagents/``), else the one in its name."""
    found = shapes.UUID.search(str(item.path.parent))
    return found.group(0) if found else shapes.session_from_name(item.path)


def tasks(items: list[Pending]) -> list[list[Pending]]:
    """Consecutive files in tasks of about ``TASK_BYTES``, never cutting a run of one session's files."""
    out: list[list[Pending]] = []
    current: list[Pending] = []
    size, last = 0, object()
    for item in items:
        key = _key(item)
        if current and key != last and (size >= TASK_BYTES or len(current) >= TASK_FILES):
            out.append(current)
            current, size = [], 0
        current.append(item)
        size += item.size - item.start
        last = key
    if current:
        out.append(current)
    return out


def work(job: Job) -> Part:
    """A worker's task: its files read against the committed state, nothing written."""
    imp = job.make(job.source, job.logs_dir, job.data_dir, **job.options)
    imp.flush_events = None  # the main process appends, in file order
    with ImportState(job.state_path) as state:
        imp.state = state
        imp.read_items(job.items, None, None)
        lines = imp.lines_by_target()
        return Part(lines, imp.quarantine, imp.report, imp.touched, state.buffered(), state.asked)


def merge(imp: Importer, part: Part) -> None:
    """``part`` taken into the pass as if ``imp`` had read its files."""
    assert imp.state is not None
    for target, lines in part.lines.items():
        append_lines(target, lines)
    imp.quarantine.extend(part.quarantine)
    imp.state.merge(part.buffered)
    imp.touched |= part.touched
    mine, theirs = imp.report, part.report
    for name in ("files_read", "files_skipped", "bytes_read", "records", "duplicate_records", "tokens"):
        setattr(mine, name, getattr(mine, name) + getattr(theirs, name))
    mine.cost_usd += theirs.cost_usd
    for name in ("events", "sessions_ended", "quarantined", "unknown_types", "skipped", "unpriced_models"):
        getattr(mine, name).update(getattr(theirs, name))
    mine.notes.extend(theirs.notes)


def read_parallel(
    imp: Importer, items: list[Pending], workers: int, progress: Callable[[str], None] | None
) -> None:
    """Read ``items`` in ``workers`` processes, results taken in file order (see the module docstring)."""
    assert imp.state is not None
    todo = deque(tasks(items))
    total, done, count = sum(i.size - i.start for i in items), 0, 0
    try:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__, "agent_pipelines.ingest.importers.core"])
        executor = ProcessPoolExecutor(workers, mp_context=context)
    except (OSError, ValueError, NotImplementedError):  # no process pool here: one process reads all
        imp.read_items(items, None, progress)
        return
    flight: deque[tuple[list[Pending], Future[Part] | None]] = deque()

    def submit() -> None:
        if not todo:
            return
        task = todo.popleft()
        job = Job(type(imp), imp.source, imp.logs_dir, imp.data_dir, imp.state.path, imp.options, task)
        try:
            flight.append((task, executor.submit(work, job)))
        except RuntimeError:  # the pool broke (a worker was killed): the rest is read here
            flight.append((task, None))

    with executor:
        for _ in range(workers * AHEAD):
            submit()
        while flight:
            task, future = flight.popleft()
            part = None
            if future is not None:
                try:
                    part = future.result()
                except Exception:  # a worker died or failed: its files are read here, as without workers
                    part = None
            if part is None or part.asked.meets(imp.state.asked):
                imp.read_items(task, None, None)  # after every file before it, as one process would
                imp.write()
            else:
                merge(imp, part)
            submit()
            count += len(task)
            done += sum(i.size - i.start for i in task)
            if progress:
                progress(
                    f"{imp.source.name}: {count}/{len(items)} files, {done / 1e6:.1f}/{total / 1e6:.1f} MB"
                )
