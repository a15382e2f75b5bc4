"""Chunks and day merges, interleaved: a day is merged as soon as no chunk still to come can add to it.

Tasks are spread over the period in index order, so chunk ``c`` (tasks from ``c * CHUNK_TASKS``)
starts no task before ``c * CHUNK_TASKS / tasks`` of the period, and lines are never written before
their task starts. Once every chunk before ``c`` is done, every day that ends before chunk ``c``'s
first start is complete: its merge is queued right away, ahead of the chunks not yet started. The
chunks' pieces of a day are deleted as it is merged, so the scratch folder holds a few days rather
than the whole period, and most of it is gone before the kernel would have written it to disk.

Each day's bad lines depend only on its index among the days with lines and its count of good
lines (:func:`~agent_pipelines.generator.malformed.bad_lines`), both final once the day is complete,
so the bytes do not depend on the order in which chunks finish or on the number of processes.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from agent_pipelines.core import paths
from agent_pipelines.generator.chunks import MERGED_FILES, merge_files, run_chunk
from agent_pipelines.generator.malformed import merge_day

CHUNK_TASKS = 2000  # tasks per unit of work; fixed so output never depends on the process count


class _Inline(Executor):
    """Runs each job when it is submitted, in this process (one worker, or a single chunk)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller by future.result(), as a pool would
            future.set_exception(exc)
        return future


@contextmanager
def executor(workers: int, jobs: int) -> Iterator[Executor]:
    """Worker processes, or this process alone when there is one worker or one chunk.

    "spawn", not the platform's fork: forking a process that already runs threads (polars', a
    Dagster run's) can deadlock the child on a lock some thread held at the time of the fork.
    """
    if jobs > 1 and workers > 1:
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
            yield pool
    else:
        yield _Inline()


def run(
    pool: Executor,
    jobs: list[tuple[Any, ...]],
    *,
    root: Path,
    tmp: Path,
    seed: int,
    start: date,
    days: int,
    tasks: int,
    window: int,
    say: Callable[[str], None],
    meanwhile: Callable[[list[dict[str, Any]], dict[str, int]], None],
) -> None:
    """Run every chunk job and merge every day. At most ``window`` chunks are queued at once, so a
    day's merge waits behind a few chunks, not all of them. Once every chunk is done, ``meanwhile``
    gets their results (in chunk order) and the good lines per day (in day order) while the last
    days, the errors and the metrics files are still being merged."""
    n = len(jobs)
    results: list[dict[str, Any] | None] = [None] * n
    per_day: Counter[str] = Counter()
    pieces: defaultdict[str, list[str]] = defaultdict(list)  # day -> the chunk pieces holding its lines
    merged: list[str] = []  # days merged (or queued), in order
    running: dict[Future[Any], int] = {}
    merges: list[Future[Any]] = []
    queued = done_prefix = events = finished = 0
    span = days * 86_400
    while finished < n:
        while queued < n and len(running) < window:
            running[pool.submit(run_chunk, jobs[queued])] = queued
            queued += 1
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            index = running.pop(future)
            result = results[index] = future.result()
            finished += 1
            events += result["events"]
            for day, count in result["days"].items():
                if day in merged:  # the completeness rule below was wrong: lines would be lost
                    raise RuntimeError(f"chunk {index} has lines for {day}, which is already merged")
                per_day[day] += count
                pieces[day].append(str(tmp / f"chunk-{index:05d}" / f"{day}.jsonl"))
            say(f"generated {finished}/{n} chunks, {events:,} events")
        while done_prefix < n and results[done_prefix] is not None:
            done_prefix += 1
        for day in sorted(d for d in per_day if d not in merged):
            # Complete when the first chunk not yet done starts its first task a second or more
            # after the day ends (integer arithmetic: no rounding at the edge).
            day_end = ((date.fromisoformat(day) - start).days + 1) * 86_400
            if done_prefix < n and done_prefix * CHUNK_TASKS * span < (day_end + 1) * max(1, tasks):
                break
            merges.append(pool.submit(merge_day, (day, len(merged), seed, sorted(pieces.pop(day)),
                                                   str(paths.stream_partition_path(root, day)))))  # fmt: skip
            merged.append(day)
    merges += [pool.submit(merge_files, (str(root), str(tmp), name, piece)) for name, piece in MERGED_FILES]
    meanwhile([r for r in results if r is not None], {day: per_day[day] for day in merged})
    for future in merges:
        if (written := future.result()) is not None:
            say(f"wrote stream/{written[0]}.jsonl: {written[1]:,} lines")
