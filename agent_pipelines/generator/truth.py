"""The ground truth written beside the logs: per task and attempt, incidents, near misses, error
kinds and the six success metrics as they should come out.

Its two long lists (a row per task and per attempt: most of its bytes) are serialized by the
workers, each for its chunk (:func:`chunk_truth`), so this process only joins their text: the
file is the very ``json.dumps(truth, separators=(",", ":"))`` of the whole, written while the
workers merge the last days (:func:`ground_truth_text`).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date
from itertools import chain
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


# json.dumps(value, separators=(",", ":")) as one encoder, without the circular-reference check
# (fresh trees of dicts and lists): the same text, the chunks' truth rows a fifth faster.
_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def chunk_truth(tasks: list[dict[str, Any]], attempts: list[dict[str, Any]]) -> dict[str, Any]:
    """A chunk's part of the truth: its task and attempt rows as JSON text (without brackets), and
    what the metrics are computed from, in attempt order (floats are summed in the same order
    as one list of every attempt would be, so the sums are the same to the last bit)."""
    closed = [a for a in attempts if a["completion_status"] is not None]
    succeeded = [a for a in closed if a["completion_status"] == "success"]
    completed = [t for t in tasks if t["succeeded"]]
    return {
        "tasks_json": _dumps(tasks)[1:-1],
        "attempts_json": _dumps(attempts)[1:-1],
        "tasks": len(tasks),
        "attempts": len(attempts),
        "closed": len(closed),
        "succeeded": len(succeeded),
        "success_ms": [a["duration_ms"] for a in succeeded],
        "costs": [a["cost_usd"] or 0.0 for a in attempts],
        "completed_tasks": len(completed),
        "first_shot": sum(1 for t in completed if t["first_shot"]),
        "transcripts": sum(1 for a in attempts if a["transcript"]),
    }


def ground_truth_text(
    results: list[dict[str, Any]],
    *,
    seed: int,
    start: date,
    days: int,
    tasks: int,
    stats: GenerationStats,
    duplicates: int,
    transcript_every: int,
    signal: bool = False,
) -> str:
    """The ground truth's JSON (one line) from the chunks' results, in chunk order."""
    from agent_pipelines.generator.error_catalog import KINDS as kinds
    from agent_pipelines.generator.signal import describe

    parts = [r["truth"] for r in results]
    n_attempts = sum(p["attempts"] for p in parts)
    n_tasks = sum(p["tasks"] for p in parts)
    closed = sum(p["closed"] for p in parts)
    succeeded = sum(p["succeeded"] for p in parts)
    completed = sum(p["completed_tasks"] for p in parts)
    metrics = {
        "sessions_total": n_attempts,
        "sessions_closed": closed,
        "sessions_succeeded": succeeded,
        "sessions_open": n_attempts - closed,
        "success_rate": succeeded / closed if closed else None,
        "first_shot_rate": sum(p["first_shot"] for p in parts) / completed if completed else None,
        "avg_attempts_per_task": n_attempts / n_tasks if n_tasks else None,
        "cost_per_task": sum(chain.from_iterable(p["costs"] for p in parts)) / completed
        if completed
        else None,
        "mean_time_to_completion_ms": sum(chain.from_iterable(p["success_ms"] for p in parts)) / succeeded
        if succeeded
        else None,
    }
    head = {
        "seed": seed,
        "start": start.isoformat(),
        "days": days,
        "tasks": tasks,
        "events_written": stats.events,
        "duplicates_written": duplicates,
        "malformed": stats.malformed,
        # agent-sessions/: every attempt of every n-th task (each attempt's "transcript" says)
        "transcripts": {"every_nth_task": transcript_every or None, "attempts": stats.transcripts},
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
        **({"signal": describe()} if signal else {}),
        "incidents": [i for r in results for i in r["incidents"]],
        "near_misses": [i for r in results for i in r["near_misses"]],
    }
    tasks_json = ",".join(p["tasks_json"] for p in parts if p["tasks_json"])
    attempts_json = ",".join(p["attempts_json"] for p in parts if p["attempts_json"])
    return f'{_dumps(head)[:-1]},"tasks_truth":[{tasks_json}],"attempts":[{attempts_json}]}}'
