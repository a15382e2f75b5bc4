"""The ground truth written beside the logs: per task and attempt, incidents, near misses, error
kinds and the six success metrics as they should come out."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass
class GenerationStats:
    events: int = 0
    malformed: dict[str, int] = field(default_factory=dict)
    tasks: int = 0
    attempts: int = 0
    transcripts: int = 0  # attempts whose transcript is in agent-sessions/
    days: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _ground_truth(
    results: list[dict[str, Any]],
    *,
    seed: int,
    start: date,
    days: int,
    tasks: int,
    stats: GenerationStats,
    duplicates: int,
    transcript_every: int,
) -> dict[str, Any]:
    from agent_pipelines.error_catalog import KINDS as kinds

    task_rows = [t for r in results for t in r["tasks"]]
    attempts = [a for r in results for a in r["attempts"]]
    closed = [a for a in attempts if a["completion_status"] is not None]
    succeeded = [a for a in closed if a["completion_status"] == "success"]
    completed_tasks = [t for t in task_rows if t["succeeded"]]
    metrics = {
        "sessions_total": len(attempts),
        "sessions_closed": len(closed),
        "sessions_succeeded": len(succeeded),
        "sessions_open": len(attempts) - len(closed),
        "success_rate": len(succeeded) / len(closed) if closed else None,
        "first_shot_rate": (sum(1 for t in completed_tasks if t["first_shot"]) / len(completed_tasks))
        if completed_tasks
        else None,
        "avg_attempts_per_task": len(attempts) / len(task_rows) if task_rows else None,
        "cost_per_task": (sum(a["cost_usd"] or 0.0 for a in attempts) / len(completed_tasks))
        if completed_tasks
        else None,
        "mean_time_to_completion_ms": (sum(a["duration_ms"] for a in succeeded) / len(succeeded))
        if succeeded
        else None,
    }
    return {
        "seed": seed,
        "start": start.isoformat(),
        "days": days,
        "tasks": tasks,
        "events_written": stats.events,
        "duplicates_written": duplicates,
        "malformed": stats.malformed,
        # agent-sessions/: every attempt of every n-th task (each attempt's "transcript" says)
        "transcripts": {
            "every_nth_task": transcript_every or None,
            "attempts": stats.transcripts,
        },
        "metrics": metrics,
        "error_kinds": {
            k.kind: {
                "category": k.category,
                "fingerprint": k.fingerprint,
                "fingerprint_policy": k.fingerprint_policy,
                "example": k.make(random.Random(k.kind)),
            }
            for k in kinds
        },
        "incidents": [i for r in results for i in r["incidents"]],
        "near_misses": [i for r in results for i in r["near_misses"]],
        "tasks_truth": task_rows,
        "attempts": attempts,
    }
