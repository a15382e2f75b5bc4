"""A realistic, deterministic generator of agent work logs, with the answers written beside them.

Why it exists: users try the product before their own logs arrive, tests check every number
against a ground truth, and benchmarks need ten million events on demand.

What it writes (through :mod:`agent_pipelines.core.writer` and the logger's :func:`build_event`, the
same code an orchestrator's events go through):

* the log folder layout of :mod:`agent_pipelines.core.paths` — daily stream partitions, errors,
  metrics, and per-attempt transcripts for a sample of the tasks (:func:`transcript_every`);
* ``ground-truth.json`` — per-task and per-attempt outcomes, injected incidents and near misses,
  error kinds, the six success metrics as they should come out;
* ``ground-truth-errors.jsonl`` — the true kind (cluster) of every error message written.

Determinism: everything is drawn from ``random.Random`` seeded by ``(seed, chunk)``; work is split
into fixed chunks of tasks, and each day's lines are sorted before they are written, so the same
seed and start day give the same bytes however many processes did the work (a test pins them).

Speed (``benchmarks/bench_generator.py``): moments are integer microseconds formatted from tables,
each attempt serializes its context once and each line adds only its own fields, the tool-call loop
draws and formats inline (same numbers), and a day is merged from the chunks' sorted pieces with
one ``list.sort`` as soon as it is complete, while later chunks are still generated
(:mod:`~agent_pipelines.generator.pipeline`); this process writes the ground truth while the
workers merge the last days.

Modules: :mod:`~agent_pipelines.generator.scenarios` (tasks, attempts and how they go),
:mod:`~agent_pipelines.generator.work` (an attempt's tool calls, written flat for speed),
:mod:`~agent_pipelines.generator.incidents` (errors, incidents, near misses),
:mod:`~agent_pipelines.generator.profiles` (executors, tools, weighted draws),
:mod:`~agent_pipelines.generator.emit` (lines), :mod:`~agent_pipelines.generator.clock` (time),
:mod:`~agent_pipelines.generator.chunks` (a worker's share), :mod:`~agent_pipelines.generator.pipeline`
(chunks and day merges, interleaved), :mod:`~agent_pipelines.generator.malformed`
(bad lines), :mod:`~agent_pipelines.generator.truth` (the answers); here, :func:`generate`.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from agent_pipelines.core import paths
from agent_pipelines.generator import pipeline
from agent_pipelines.generator.malformed import MALFORMED_EVERY, bad_lines
from agent_pipelines.generator.pipeline import CHUNK_TASKS
from agent_pipelines.generator.truth import GenerationStats, ground_truth_text

TRANSCRIPT_TASKS = 1000  # by default, the tasks (about 1,250 attempts) whose transcripts are written


GENERATED_FILES = (paths.STREAM_FILE, paths.ERRORS_FILE, paths.METRICS_FILE, paths.GROUND_TRUTH_FILE,
                   "ground-truth-errors.jsonl")  # fmt: skip


def has_logs(root: Path) -> bool:
    """Whether a log folder already holds events (generated or real)."""
    return any((root / paths.STREAM_DIR).glob("*.jsonl")) or (root / paths.STREAM_FILE).exists()


def transcript_every(tasks: int, transcripts: bool = True, all_transcripts: bool = False) -> int:
    """Which tasks get transcripts: every attempt of every n-th task (0: none).

    A transcript per attempt is what an orchestrator writes, but a generated folder is for demos,
    tests and benchmarks: at ten million events that is 340,000 files and half the bytes, while a
    real ``agent-sessions/`` holds hundreds to a few thousand (the original rotation script keeps
    the newest 100). So by default about :data:`TRANSCRIPT_TASKS` tasks, spread evenly over the
    period, get theirs (all of them up to that many tasks); ``all_transcripts`` writes every one.
    """
    if not transcripts:
        return 0
    return 1 if all_transcripts else -(-tasks // TRANSCRIPT_TASKS)


def generate(
    out: str | os.PathLike[str],
    *,
    days: int,
    tasks: int,
    seed: int = 0,
    start: date | None = None,
    workers: int | None = None,
    force: bool = False,
    transcripts: bool = True,
    all_transcripts: bool = False,
    signal: bool = False,
    progress: Callable[[str], None] | None = None,
) -> GenerationStats:
    """Write ``tasks`` tasks spread over ``days`` UTC days starting at ``start`` into ``out``.

    ``agent-sessions/`` gets the transcripts of a sample of the tasks (:func:`transcript_every`):
    every attempt's with ``all_transcripts``, none without ``transcripts``; the ground truth says
    which attempts have one. Refuses to write into a folder that already holds logs unless
    ``force`` (then the generator's own files are replaced; nothing else in the folder is touched).
    ``signal`` draws the documented predictive effects of :mod:`~agent_pipelines.generator.signal`
    (prompt variants, risky early errors, hard task kinds, cost by task size) and records them in the
    ground truth; without it the output is what it always was for a seed.
    """
    t0 = time.perf_counter()
    if days < 1 or tasks < 1:
        raise ValueError("days and tasks must be at least 1")
    root = Path(out)
    _clear(root, force)
    start = start or (datetime.now(UTC).date() - timedelta(days=days))
    start_dt = datetime(start.year, start.month, start.day, tzinfo=UTC)
    say = progress or (lambda _msg: None)
    n_chunks = (tasks + CHUNK_TASKS - 1) // CHUNK_TASKS
    workers = workers or min(os.cpu_count() or 1, 4)
    every = transcript_every(tasks, transcripts, all_transcripts)
    stats = GenerationStats(tasks=tasks)
    tmp = Path(tempfile.mkdtemp(prefix=".generate-", dir=root))
    try:
        sessions = root / paths.SESSIONS_DIR
        if every:
            sessions.mkdir(parents=True, exist_ok=True)
        jobs = [
            (seed, i, i * CHUNK_TASKS, min(tasks, (i + 1) * CHUNK_TASKS), tasks, start_dt.isoformat(), days,
             str(tmp), str(sessions), every, signal)
            for i in range(n_chunks)
        ]  # fmt: skip

        with pipeline.executor(workers, n_chunks) as pool:
            pipeline.run(
                pool, jobs, root=root, tmp=tmp, seed=seed, start=start, days=days, tasks=tasks,
                window=workers + 1, say=say,
                meanwhile=partial(_finish, root, tmp, stats, seed=seed, start=start, days=days, tasks=tasks,
                                  transcript_every=every, signal=signal),
            )  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    stats.seconds = time.perf_counter() - t0
    say(
        f"done: {stats.events:,} events in {stats.seconds:.1f} s "
        f"({stats.events / max(stats.seconds, 1e-9):,.0f}/s)"
    )
    return stats


def _finish(
    root: Path,
    tmp: Path,
    stats: GenerationStats,
    results: list[dict[str, Any]],
    lines_per_day: dict[str, int],
    *,
    seed: int,
    start: date,
    days: int,
    tasks: int,
    transcript_every: int,
    signal: bool = False,
) -> None:
    """The statistics, the errors and metrics files and the ground truth, written while the workers
    merge the last days: the bad lines of each day follow from its count of good lines
    (:func:`~agent_pipelines.generator.malformed.bad_lines`)."""
    stats.events = sum(r["events"] for r in results)
    stats.days = list(lines_per_day)
    plans = [bad_lines(index, lines_per_day[day]) for index, day in enumerate(stats.days)]
    malformed: Counter[str] = Counter()
    for plan in plans:
        malformed.update(plan.counts())
    stats.malformed = dict(sorted(malformed.items()))
    stats.attempts = sum(r["truth"]["attempts"] for r in results)
    stats.transcripts = sum(r["truth"]["transcripts"] for r in results)
    text = ground_truth_text(results, seed=seed, start=start, days=days, tasks=tasks, stats=stats,
                             duplicates=sum(plan.duplicate for plan in plans),
                             transcript_every=transcript_every, signal=signal)  # fmt: skip
    (root / paths.GROUND_TRUTH_FILE).write_text(text + "\n", encoding="utf-8")


def _clear(root: Path, force: bool) -> None:
    """Refuse a folder holding logs unless ``force``; then remove the generator's own files."""
    if has_logs(root):
        if not force:
            raise FileExistsError(f"{root} already holds logs; pass force=True (--force) to replace them")
        for name in GENERATED_FILES:
            (root / name).unlink(missing_ok=True)
        shutil.rmtree(root / paths.STREAM_DIR, ignore_errors=True)
        shutil.rmtree(root / paths.SESSIONS_DIR, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)


def print_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


__all__ = [
    "CHUNK_TASKS",
    "GENERATED_FILES",
    "MALFORMED_EVERY",
    "TRANSCRIPT_TASKS",
    "GenerationStats",
    "generate",
    "has_logs",
    "print_progress",
    "transcript_every",
]
