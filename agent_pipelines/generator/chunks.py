"""One unit of work for a worker process: a fixed range of tasks written to its own folder."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from agent_pipelines import paths
from agent_pipelines.generator.scenarios import _Chunk


def _run_chunk(args: tuple[int, int, int, int, int, str, int, str, str | None]) -> dict[str, Any]:
    """Worker: generate tasks ``[first, last)``; write the chunk's pieces under ``tmp``.

    Transcripts go straight to their final place (``sessions``): an attempt belongs to exactly one
    chunk, so no two workers ever write the same file.
    """
    seed, chunk_index, first, last, total, start_iso, days, tmp, sessions = args
    start = datetime.fromisoformat(start_iso)
    chunk = _Chunk(seed, chunk_index, start, days)
    span = days * 86_400
    for task_index in range(first, last):
        # Tasks are spread evenly over the period with jitter; their order is their index.
        offset = (task_index + chunk.rng.random()) / max(1, total) * span
        chunk.task(task_index, start + timedelta(seconds=min(offset, span - 1)))
    out = Path(tmp) / f"chunk-{chunk_index:05d}"
    out.mkdir(parents=True, exist_ok=True)
    for day, lines in chunk.by_day.items():
        _write_lines(out / f"{day}.jsonl", lines)
    _write_lines(out / "errors.jsonl", chunk.errors)
    _write_lines(out / "metrics.jsonl", chunk.metrics)
    _write_lines(out / "truth-errors.jsonl", chunk.truth_errors)
    if sessions is not None:
        root = Path(sessions).parent
        for attempt_id, lines in chunk.transcripts.items():
            _write_lines(paths.session_file_path(root, attempt_id), lines)
    return {
        "events": chunk.events,
        "tasks": chunk.tasks,
        "attempts": chunk.attempts,
        "incidents": chunk.incidents,
        "near_misses": chunk.near_misses,
    }


def _write_lines(path: Path, lines: list[str]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(f"{line}\n" for line in lines)


def _read_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return path.read_text(encoding="utf-8").splitlines()
