"""One unit of work for a worker process: a fixed range of tasks written to its own folder.

A chunk writes each of its pieces (a day's stream lines, errors, metrics, error truth) sorted, so
merging the chunks is one sort of already-sorted runs, which ``list.sort`` does in C.
"""

from __future__ import annotations

import gc
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from agent_pipelines.core import paths
from agent_pipelines.core.writer import append_bytes
from agent_pipelines.generator import clock
from agent_pipelines.generator.scenarios import Chunk
from agent_pipelines.generator.truth import chunk_truth

_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC


def run_chunk(args: tuple[int, int, int, int, int, str, int, str, str, int, bool]) -> dict[str, Any]:
    """Worker: generate tasks ``[first, last)``; write the chunk's pieces under ``tmp``.

    Transcripts (every attempt of every ``transcript_every``-th task; none if 0) go straight to
    their final place (``sessions``): an attempt belongs to exactly one chunk, so no two workers
    ever write the same file.
    """
    seed, chunk_index, first, last, total, start_iso, days, tmp, sessions, transcript_every, signal = args
    start = datetime.fromisoformat(start_iso)
    chunk = Chunk(seed, chunk_index, start, days, transcript_every, signal)
    span = days * 86_400
    # Nothing generated here is cyclic garbage; the collector's passes over the growing lists of
    # lines and records only cost time (about a tenth of a chunk).
    collecting = gc.isenabled()
    gc.disable()
    try:
        for task_index in range(first, last):
            # Tasks are spread evenly over the period with jitter; their order is their index.
            offset = (task_index + chunk.rng.random()) / max(1, total) * span
            chunk.task(task_index, chunk.start_us + clock.seconds(min(offset, span - 1)))
    finally:
        if collecting:
            gc.enable()
    out = Path(tmp) / f"chunk-{chunk_index:05d}"
    out.mkdir(parents=True, exist_ok=True)
    for day, lines in chunk.by_day.items():
        write_lines(out / f"{day}.jsonl", sorted(lines))
    write_lines(out / "errors.jsonl", sorted(chunk.errors))
    write_lines(out / "metrics.jsonl", sorted(chunk.metrics))
    write_lines(out / "truth-errors.jsonl", sorted(chunk.truth_errors))
    root = Path(sessions).parent
    for attempt_id, lines in chunk.transcripts.items():
        write_lines(paths.session_file_path(root, attempt_id), lines)
    return {
        "days": {day: len(lines) for day, lines in chunk.by_day.items()},
        "events": chunk.events,
        "truth": chunk_truth(chunk.tasks, chunk.attempts),
        "incidents": chunk.incidents,
        "near_misses": chunk.near_misses,
    }


def write_lines(path: Path, lines: list[str]) -> None:
    """Write lines (without their newlines) as a new file, in one system call for most files."""
    lines.append("")
    data = "\n".join(lines).encode("utf-8")
    lines.pop()
    fd = os.open(path, _WRITE_FLAGS, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


MERGED_FILES: tuple[tuple[str, str], ...] = (
    (paths.ERRORS_FILE, "errors.jsonl"),
    (paths.METRICS_FILE, "metrics.jsonl"),
    ("ground-truth-errors.jsonl", "truth-errors.jsonl"),
)  # (file in the log folder, each chunk's piece of it)


def merge_files(args: tuple[str, str, str, str]) -> None:
    """Worker: one of :data:`MERGED_FILES` (the errors file, the metrics file, the error truth)
    from every chunk's piece, in time order, once every chunk is done. Each is its own job, so the
    three run beside each other and the last days' merges instead of one after another."""
    root, tmp, name, piece = Path(args[0]), Path(args[1]), args[2], args[3]
    merged = read_sorted_runs([d / piece for d in sorted(tmp.glob("chunk-*"))])
    (root / name).unlink(missing_ok=True)
    merged.append(b"")
    append_bytes(root / name, b"\n".join(merged) if len(merged) > 1 else b"")


def read_sorted_runs(paths_: list[Path]) -> list[bytes]:
    """Every line of the given chunk pieces (each sorted), as one sorted list of bytes.

    Bytes sort as their text does (UTF-8 keeps code point order), and ``list.sort`` finds the
    sorted runs and merges them.
    """
    lines: list[bytes] = []
    for path in paths_:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        if data:
            lines += data.split(b"\n")
            lines.pop()  # after the last newline
    lines.sort()
    return lines
