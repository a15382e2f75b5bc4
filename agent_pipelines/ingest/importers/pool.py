"""A pass's files read in worker processes, with the result of reading them one after another.

Why: the cost of an import is per record Python (decoding, redaction, a session's logic, the
events and their contract check), one core's work; the machine usually has more. A session's state
may cross files (a resumed Claude Code session copies earlier records, a sub-agent writes into its
parent's session, Codex moves a rollout to ``archived_sessions/`` or a user copies a tree), so files
cannot simply be read apart. They are read apart *optimistically*:

* The new files are cut into tasks (consecutive files, a session's files together, a few MB each).
  A worker — or the importing process itself, which takes every task no worker has claimed yet —
  reads a task against the state committed before the pass, keeps its writes in memory and says
  every key of the state it asked about (sessions, record hashes, API requests).
* The main process takes the results **in file order**. A result whose keys no earlier part of the
  pass has touched is exactly what reading its files in turn would have made: its events are
  appended and its writes merged. A result that met an earlier part's key (the same session, a
  record already counted this pass) is thrown away and its files are read again here, after
  everything before them, as a single process would.

So tokens, tool calls and sessions never depend on the number of workers (the tests compare),
and memory holds a few tasks' events (at most the pass's ``flush_events`` unwritten) at a time, not
the tree's.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_pipelines.ingest.importers import shapes
from agent_pipelines.ingest.importers.files import Pending
from agent_pipelines.ingest.importers.report import ImportReport
from agent_pipelines.ingest.importers.state import Buffered, ImportState, Keys

# The importer (core.Importer, which calls this module) is passed in, not imported: typed ``Any`` here.
Importer = Any

MIN_BYTES = 32 << 20  # below this much new data, starting workers (~0.6 s) costs more than it saves
TASK_BYTES = 4 << 20
TASK_FILES = 64
AHEAD = 2  # tasks in flight per worker: enough to keep them busy, few enough to bound memory
# The main process reads too: a task no worker has started when its turn comes (the pool's processes
# take a while to start, and each holds one task ahead) is taken back and read here.
STEAL = True
# Events worth checking and writing while this process waits for a worker (the pass's last tasks).
IDLE_WRITE = 2000


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
    index: int


@dataclass
class Part:
    """What a worker made of its task: its events not yet checked against the contract (the pass
    checks them with the events around them, see :func:`merge`)."""

    events: list[dict[str, Any]]
    lines: list[str]
    event_where: list[tuple[str, int, int]]
    metrics: list[dict[str, Any]]
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


_CLAIMS: Any = (
    None  # a worker's view of who reads which task (0: nobody yet, 1: a worker, 2: the main process)
)


def _start(claims: Any) -> None:
    global _CLAIMS
    _CLAIMS = claims


def _claim(claims: Any, index: int, who: int) -> bool:
    """Whether ``who`` gets task ``index`` (the first to ask does)."""
    with claims.get_lock():
        if claims[index]:
            return False
        claims[index] = who
        return True


def work(job: Job) -> Part | None:
    """A worker's task: its files read against the committed state, nothing written (``None``: the main
    process took the task first)."""
    if _CLAIMS is not None and not _claim(_CLAIMS, job.index, 1):
        return None
    imp = job.make(job.source, job.logs_dir, job.data_dir, **job.options)
    imp.flush_events = None  # the main process appends, in file order
    with ImportState(job.state_path) as state:
        imp.state = state
        imp.read_items(job.items, None, None)
        return Part(
            imp.events,
            imp.lines,
            imp.event_where,
            imp.metrics,
            imp.quarantine,
            imp.report,
            imp.touched,
            state.buffered(),
            state.asked,
        )


def merge(imp: Importer, part: Part) -> None:
    """``part`` taken into the pass as if ``imp`` had read its files. Its events join the pass's
    unwritten ones and are checked and appended with them, every ``flush_events``: the contract
    check costs ~15 ms a call whatever its size, which per task (a few thousand events) was a
    sixth of a pool's CPU."""
    assert imp.state is not None
    imp.events.extend(part.events)
    imp.lines.extend(part.lines)
    imp.event_where.extend(part.event_where)
    imp.metrics.extend(part.metrics)
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
    if imp.flush_events is not None and len(imp.events) >= imp.flush_events:
        imp.write()


def read_parallel(
    imp: Importer, items: list[Pending], workers: int, progress: Callable[[str], None] | None
) -> None:
    """Read ``items`` in ``workers`` processes (this one and a pool of ``workers - 1``), results taken in
    file order (see the module docstring). This process reads every task no worker has started when
    its turn comes: the pool's processes take a while to start, and nothing waits for them."""
    assert imp.state is not None
    cut = tasks(items)
    total, done = sum(i.size - i.start for i in items), 0
    try:
        # Spawned, not from the fork server: a process has one fork server, with the environment
        # and modules it started with, and the run launcher of the process may own it already.
        context = multiprocessing.get_context("spawn")
        claims = context.Array("b", len(cut)) if STEAL else None
        size = max(1, workers - 1) if STEAL else workers
        executor = ProcessPoolExecutor(size, mp_context=context, initializer=_start, initargs=(claims,))
    except (OSError, ValueError, NotImplementedError):  # no process pool here: one process reads all
        imp.read_items(items, None, progress)
        return
    futures: dict[int, Future[Part | None]] = {}
    window = workers * AHEAD
    here: dict[int, Part | None] = {}  # tasks this process read apart while a worker had the one due
    state_path = imp.state.path

    def job(index: int) -> Job:
        return Job(
            type(imp), imp.source, imp.logs_dir, imp.data_dir, state_path, imp.options, cut[index], index
        )

    def submit(index: int) -> None:
        if index >= len(cut) or index in futures or index in here:
            return
        with contextlib.suppress(RuntimeError):  # the pool broke (a worker was killed): the rest is read here
            futures[index] = executor.submit(work, job(index))

    def read_here(index: int) -> Part | None:
        try:
            return work(job(index))
        except Exception:  # read again in order below, where a real problem is reported as usual
            return None

    def steal_ahead(after: int) -> bool:
        for j in range(after, min(len(cut), after + window)):
            if j not in here and (claims is None or _claim(claims, j, 2)):
                here[j] = read_here(j)
                return True
        return False

    with executor:
        for index in range(1, 1 + window):
            submit(index)
        for index, task in enumerate(cut):
            future = futures.pop(index, None)
            if index in here:
                part = here.pop(index)
            elif future is None or (claims is not None and _claim(claims, index, 2)):
                part = read_here(index)
            else:
                while STEAL and not future.done() and steal_ahead(index + 1):
                    pass  # a worker has the task due: read the next ones meanwhile
                if not future.done() and len(imp.events) >= IDLE_WRITE and imp.flush_events is not None:
                    imp.write()  # nothing left to read meanwhile: the events so far are checked and written
                try:
                    part = future.result()
                except Exception:  # a worker died or failed: its files are read here, as without workers
                    part = None
            if part is None or part.asked.meets(imp.state.asked):
                imp.read_items(task, None, None)  # after every file before it, as one process would
            else:
                merge(imp, part)
            submit(index + 1 + window)
            done += sum(i.size - i.start for i in task)
            if progress:
                progress(
                    f"{imp.source.name}: {index + 1}/{len(cut)} tasks, {done / 1e6:.1f}/{total / 1e6:.1f} MB"
                )
