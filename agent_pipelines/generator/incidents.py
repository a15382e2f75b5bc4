"""Errors of known kinds, and the incidents and near misses injected into an attempt.

Incidents are what the live detectors must alert on (an error loop, a tool loop, a stuck agent, a
cost anomaly, ...); near misses sit just under each threshold and must not alert. Both are
recorded in the ground truth with what a detector should report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_pipelines.generator import clock
from agent_pipelines.generator.emit import AttemptLog, fast_serialize
from agent_pipelines.generator.error_catalog import KINDS, ErrorKind

if TYPE_CHECKING:
    from agent_pipelines.generator.scenarios import Chunk

ERROR_COUNTS = {"error_loop": 5, "failed_errors": 4, "near_error": 3}  # errors an incident writes
ERROR_INCIDENTS = frozenset(ERROR_COUNTS)
TOOL_LOOP = {"tool_loop": (12, 3.0), "near_tool": (9, 6.5)}  # calls, seconds apart


def error(chunk: Chunk, a: AttemptLog, kind: ErrorKind, us: int) -> None:
    """One error event of ``kind`` (a fresh message; a fingerprint by the kind's policy), and its
    line in ``ground-truth-errors.jsonl``."""
    rng = chunk.rng
    message = kind.make(rng)
    give = kind.fingerprint_policy == "always" or (kind.fingerprint_policy == "mixed" and rng.random() < 0.5)
    data = {
        "error_message": message,
        "error_fingerprint": kind.fingerprint if give else None,
        "error_category": kind.category,
    }
    if rng.random() < 0.2:
        data["stack_trace"] = f'Traceback (most recent call last):\n  File "{a.attempt_id}.py", line 1'
    timestamp = chunk.error(a, data, us)
    chunk.truth_errors.append(
        fast_serialize(
            {
                "attempt_id": a.attempt_id,
                "timestamp": timestamp,
                "kind": kind.kind,
                "error_message": message,
                "error_fingerprint": data["error_fingerprint"],
            }
        )
    )


def inject(chunk: Chunk, a: AttemptLog, incident: str, us: int) -> int:
    """Write an incident (or a near miss) starting at ``us``; returns the time after it."""
    if incident in ERROR_INCIDENTS:
        return _error_run(chunk, a, incident, us)
    if incident in TOOL_LOOP:
        return _tool_loop(chunk, a, incident, us)
    if incident in ("stuck_agent", "near_stuck"):
        # Idle time counts from the last event written, which is what a detector sees.
        idle = chunk.rng.uniform(420, 1500) if incident == "stuck_agent" else 299.0
        record = {"type": "stuck_agent" if incident == "stuck_agent" else "near_stuck_agent",
                  "attempt_id": a.attempt_id,
                  "start": clock.isoformat(a.last_us), "idle_ms": int(idle * 1000)}  # fmt: skip
        (chunk.incidents if incident == "stuck_agent" else chunk.near_misses).append(record)
        return a.last_us + clock.seconds(idle)
    if incident == "near_cost":
        chunk.near_misses.append({"type": "near_cost_anomaly", "attempt_id": a.attempt_id, "cost_usd": 0.99})
    return us


def _error_run(chunk: Chunk, a: AttemptLog, incident: str, us: int) -> int:
    """An error loop (the same kind five times), its near miss (three times), or four errors of
    four different kinds (so not an error loop too) before a failed session."""
    rng = chunk.rng
    count = ERROR_COUNTS[incident]
    kind = a.loop_kind
    kinds = rng.sample(KINDS, count) if incident == "failed_errors" else [kind] * count
    first = us
    for kind in kinds:
        error(chunk, a, kind, us)
        us += clock.seconds(rng.uniform(40, 110))
    record: dict[str, Any] = {
        "type": "error_loop" if incident == "error_loop" else "near_error_loop",
        "attempt_id": a.attempt_id,
        "start": clock.isoformat(first),
        "kind": kind.kind,
        "fingerprint": kind.fingerprint,
        "occurrences": count,
    }
    if incident == "error_loop":
        chunk.incidents.append(record)
    elif incident == "near_error":
        chunk.near_misses.append(record)
    return us


def _tool_loop(chunk: Chunk, a: AttemptLog, incident: str, us: int) -> int:
    """The same Bash command again and again, inside one minute (or, for the near miss, spread
    just too far apart)."""
    count, gap = TOOL_LOOP[incident]
    first = us
    step = clock.seconds(gap)
    for _ in range(count):
        chunk.tool_call(a, "Bash", '{"command":"npm test"}', us)
        us += step
    record = {"type": "tool_loop" if incident == "tool_loop" else "near_tool_loop",
              "attempt_id": a.attempt_id, "start": clock.isoformat(first), "tool_name": "Bash",
              "occurrences": count}  # fmt: skip
    (chunk.incidents if incident == "tool_loop" else chunk.near_misses).append(record)
    return first + clock.seconds(61 + gap * count)  # the next call is outside any 60 s window
