"""``agent-metrics.jsonl`` lines: written in the original logger's shape, read in either shape.

The original PowerShell logger (``Write-AgentSessionMetrics`` in ``agent-work-logger.ps1``) wrote
one line per finished session::

    {timestamp, attempt_id, task_id, executor, model,
     metrics: {duration_ms, total_tokens, cost_usd, errors},
     outcome: <the orchestrator's Outcome hashtable>,
     error_summary: {total_errors, error_categories[], error_fingerprints[]}}

and its readers (the Node analytics CLI ``analyze-agent-work.mjs`` and ``Show-AgentWorkSummary``)
reach into it by those paths: ``metrics.cost_usd``, ``metrics.duration_ms``,
``error_summary.total_errors``, ``outcome.status === "completed"``... A flat line reads as $0, 0 s,
0 errors and 0% success there, so :func:`metrics_line` writes exactly that shape, and adds only
what the original lacked *after* its fields (never instead of them).

``outcome.status``: the original copied the orchestrator's ``Outcome`` as given and its readers
counted ``status == "completed"`` as success. When the orchestrator passes an outcome without a
status (or none), we fill it from ``completion_status`` (``success`` → ``completed``), so the
original's success rate comes out right on our files.

Earlier versions of agent-pipelines wrote flat lines (``duration_ms``, ``cost_usd``, ``error_count``
at the top); :func:`read_metrics_lines` reads both, and PowerShell's habit of writing a one-element
array as a bare string.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from agent_pipelines.core.contract import SUCCESS_STATUS, TURN_STATUSES
from agent_pipelines.core.jsonl import iter_json_objects

COMPLETED = "completed"  # what the original's readers count as a success in ``outcome.status``

METRICS_LINE_SCHEMA: dict[str, pl.DataType] = {
    "timestamp": pl.Datetime("us", "UTC"),
    "attempt_id": pl.String(),
    "task_id": pl.String(),
    "executor": pl.String(),
    "model": pl.String(),
    "completion_status": pl.String(),
    "outcome_status": pl.String(),
    "succeeded": pl.Boolean(),
    "duration_ms": pl.Int64(),
    "total_tokens": pl.Int64(),
    "cost_usd": pl.Float64(),
    "errors": pl.Int64(),
    "error_categories": pl.List(pl.String()),
    "error_fingerprints": pl.List(pl.String()),
    "shape": pl.String(),  # "nested" (the original logger's) or "flat" (our earlier one)
}


def _unique(values: Iterable[Any]) -> list[str]:
    """Distinct non-empty values in first-seen order (PowerShell's ``Where-Object {$_} |
    Select-Object -Unique``)."""
    seen: list[str] = []
    for value in values:
        if value and isinstance(value, str) and value not in seen:
            seen.append(value)
    return seen


# The design's ``outcome.status`` vocabulary (``agent-work-logging-design.md``, metrics log schema).
OUTCOME_STATUSES: tuple[str, ...] = (COMPLETED, "failed", "manual_review")
MANUAL_REVIEW = "manual_review"
# Git figures the design's ``metrics`` holds: copied from the session end's payload when it carries
# them (an orchestrator that knows its diff), never estimated.
GIT_FIELDS: tuple[str, ...] = ("files_modified", "lines_added", "lines_deleted", "commits")
_RESTART_PROMPTS = ("followup", "retry")


def _count(value: Any) -> int | None:
    """A non-negative count as written (an int, or the string of one), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and value >= 0 else None


def _outcome(data: Mapping[str, Any], transcript: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The orchestrator's outcome with ``status`` in the design's vocabulary: ``completed`` for a
    success, ``manual_review`` when the orchestrator said so (in its outcome or its last status
    change, turn markers aside), else ``failed``. Another status the orchestrator gave is kept as
    ``orchestrator_status`` (ours, ``completion_status``, is beside the outcome in the line)."""
    outcome = dict(data.get("outcome") or {})
    given = outcome.get("status")
    if given in OUTCOME_STATUSES:
        return outcome
    # the orchestrator's last word on the attempt (turn markers are the agent's, not a status)
    said = [
        (e.get("data") or {}).get("new_status") for e in transcript if e.get("event_type") == "status_change"
    ]
    said = [s for s in said if s not in TURN_STATUSES]
    last = said[-1] if said else None
    if data.get("completion_status") == SUCCESS_STATUS:
        status = COMPLETED
    elif last == MANUAL_REVIEW:
        status = MANUAL_REVIEW
    else:
        status = "failed"
    if given is not None and given != data.get("completion_status"):
        outcome["orchestrator_status"] = given
    outcome["status"] = status
    return outcome


def _resolved(transcript: Sequence[Mapping[str, Any]], succeeded: bool) -> dict[str, int]:
    """``resolved_by_agent`` / ``resolved_by_intervention``, known only for a session that
    succeeded (every error it met was then overcome): an error followed by a follow-up or a restart
    before the end was overcome with help, the others by the agent alone. For a session that did not
    succeed, which errors were overcome is unknown: nothing is written."""
    if not succeeded:
        return {}
    agent = helped = 0
    help_after = False
    for event in reversed(transcript):
        kind = event.get("event_type")
        if kind == "followup_sent" or (
            kind == "session_start" and (event.get("data") or {}).get("prompt_type") in _RESTART_PROMPTS
        ):
            help_after = True
        elif kind == "error":
            helped += help_after
            agent += not help_after
    return {"resolved_by_agent": agent, "resolved_by_intervention": helped}


def metrics_line(transcript: Sequence[Mapping[str, Any]], end_event: Mapping[str, Any]) -> dict[str, Any]:
    """The ``agent-metrics.jsonl`` record of a finished session: the original logger's shape with
    every field of the design's schema we can know (see :data:`GIT_FIELDS`, :func:`_outcome`,
    :func:`_resolved`); what we cannot know is left out, never guessed.

    ``transcript`` is every event of the attempt (its ``agent-sessions/<attempt>.jsonl``), in the
    order written, as the original counted errors from the session log; ``end_event`` is the
    ``session_end`` just written.

    * ``success``: ``completion_status == "success"``;
    * ``first_shot_success``: a success whose attempt began with an ``initial`` prompt (the task's
      first attempt; a retry begins with ``retry``); left out without a session start to say;
    * ``retry_count``: the attempt's session starts with a ``followup`` or ``retry`` prompt (the
      original analyzer's restart count); left out without a session start;
    * ``tool_calls``: its ``tool_call`` events.
    """
    data = end_event.get("data") or {}
    errors = [e for e in transcript if e.get("event_type") == "error"]
    payloads = [e.get("data") or {} for e in errors]
    status = data.get("completion_status")
    succeeded = status == SUCCESS_STATUS
    starts = [e for e in transcript if e.get("event_type") == "session_start"]
    start = starts[0] if starts else None
    first_prompt = ((start or {}).get("data") or {}).get("prompt_type")
    count = len(errors)
    tool_calls = sum(1 for e in transcript if e.get("event_type") == "tool_call")
    measures: dict[str, Any] = {
        "duration_ms": int(data.get("duration_ms") or 0),
        "total_tokens": int(data.get("total_tokens") or 0),
        "cost_usd": float(data.get("cost_usd") or 0.0),
        "errors": count,
        "tool_calls": tool_calls,
    }
    for name in GIT_FIELDS:
        value = _count(data.get(name))
        if value is not None:
            measures[name] = value
    measures["success"] = succeeded
    if first_prompt is not None:
        measures["first_shot_success"] = succeeded and first_prompt == "initial"
    if starts:
        restarts = [e for e in starts if ((e.get("data") or {}).get("prompt_type")) in _RESTART_PROMPTS]
        measures["retry_count"] = len(restarts)
    record: dict[str, Any] = {
        "timestamp": end_event["timestamp"],
        "attempt_id": end_event["attempt_id"],
        "task_id": end_event.get("task_id"),
        "executor": end_event.get("executor"),
        "model": end_event.get("model"),
        "metrics": measures,
        "outcome": _outcome(data, transcript),
        "error_summary": {
            "total_errors": count,
            "error_categories": _unique(p.get("error_category") for p in payloads),
            "error_fingerprints": _unique(p.get("error_fingerprint") for p in payloads),
            **_resolved(transcript, succeeded),
        },
        # Ours, after the original's fields: what its readers had to guess or could not know.
        "completion_status": status,
        "task_title": end_event.get("task_title"),
        "started_at": start.get("timestamp") if start else None,
        "prompt_type": first_prompt,
        "followup_count": sum(1 for e in transcript if e.get("event_type") == "followup_sent"),
        "tool_call_count": tool_calls,
    }
    return record


def _as_list(value: Any) -> list[str]:
    """A list field as PowerShell may have written it: a list, one bare string, or null."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [str(v) for v in value if v is not None and v != ""]
    return []


def _number(value: Any, kind: type) -> Any:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return kind(value)
    if isinstance(value, str):
        try:
            return kind(float(value))
        except ValueError:
            return None
    return None


def normalize_metrics_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """One metrics line of either shape as a flat row of :data:`METRICS_LINE_SCHEMA`'s fields."""
    nested = isinstance(record.get("metrics"), Mapping) or isinstance(record.get("error_summary"), Mapping)
    outcome = record.get("outcome")
    outcome_status = outcome.get("status") if isinstance(outcome, Mapping) else None
    status = record.get("completion_status")
    if nested:
        m = record["metrics"] if isinstance(record.get("metrics"), Mapping) else {}
        summary = record["error_summary"] if isinstance(record.get("error_summary"), Mapping) else {}
        errors = _number(summary.get("total_errors"), int)
        if errors is None:
            errors = _number(m.get("errors"), int)
        row = {
            "duration_ms": _number(m.get("duration_ms"), int),
            "total_tokens": _number(m.get("total_tokens"), int),
            "cost_usd": _number(m.get("cost_usd"), float),
            "errors": errors,
            "error_categories": _as_list(summary.get("error_categories")),
            "error_fingerprints": _as_list(summary.get("error_fingerprints")),
        }
    else:
        row = {
            "duration_ms": _number(record.get("duration_ms"), int),
            "total_tokens": _number(record.get("total_tokens"), int),
            "cost_usd": _number(record.get("cost_usd"), float),
            "errors": _number(record.get("error_count"), int),
            "error_categories": [],
            "error_fingerprints": [],
        }
    if status is None and outcome_status is not None:
        status = SUCCESS_STATUS if outcome_status == COMPLETED else str(outcome_status)
    if outcome_status is None and status is not None:
        outcome_status = COMPLETED if status == SUCCESS_STATUS else str(status)
    succeeded = None
    if status is not None:
        succeeded = status == SUCCESS_STATUS
    elif isinstance(record.get("success"), bool):
        succeeded = record["success"]
    return {
        "timestamp": record.get("timestamp"),
        "attempt_id": record.get("attempt_id"),
        "task_id": record.get("task_id"),
        "executor": record.get("executor"),
        "model": record.get("model"),
        "completion_status": status,
        "outcome_status": outcome_status,
        "succeeded": succeeded,
        **row,
        "shape": "nested" if nested else "flat",
    }


def read_metrics_lines(path: str | os.PathLike[str]) -> pl.DataFrame:
    """Every session line of an ``agent-metrics.jsonl`` (either shape) as one typed table.

    Lines that are not JSON objects are skipped (this file is a summary; the stream is the
    record). A UTF-8 byte-order mark and CRLF line ends, as Windows PowerShell writes them, are
    accepted.
    """
    if not Path(path).is_file():
        return pl.DataFrame(schema=METRICS_LINE_SCHEMA)
    rows = [normalize_metrics_record(value) for value in iter_json_objects(path)]
    frame = pl.DataFrame(
        rows, schema={k: (pl.String() if k == "timestamp" else v) for k, v in METRICS_LINE_SCHEMA.items()}
    )
    return frame.with_columns(
        pl.col("timestamp").str.to_datetime(time_zone="UTC", time_unit="us", strict=False)
    )


__all__ = ["METRICS_LINE_SCHEMA", "metrics_line", "normalize_metrics_record", "read_metrics_lines"]
