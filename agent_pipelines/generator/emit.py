"""Writing events: an attempt's lines, assembled from parts serialized once, kept by day.

An event line is the logger's: ``serialize(build_event(...))`` gives the same bytes (a test rebuilds
every generated line that way). Serializing a dict per event was most of the generator's time, so
each attempt formats its identity and context once (:class:`AttemptLog`) and each event adds only
its timestamp, type, data and elapsed time. What the generator makes of ids, numbers and checked
constants (:func:`~agent_pipelines.generator.profiles.check_json_safe`) is formatted directly;
only what may need escaping (error messages) goes through ``serialize``. The tool calls and
results, most of the lines, are formatted in the loop that draws them
(:func:`~agent_pipelines.generator.work.tool_calls`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from agent_pipelines.core.writer import serialize
from agent_pipelines.generator import clock
from agent_pipelines.generator.profiles import FOLLOWUP_REASONS

# What the metrics line counts from a transcript (:func:`agent_pipelines.core.metrics_line.metrics_line`
# reads an event's type, and data and timestamp only of session starts, errors and status changes;
# where follow-ups fall among errors; tool calls only counted): tool calls and follow-ups are handed
# to it as shared markers (see :meth:`AttemptLog.summary_events`).
_TOOL_CALL_MARK = {"event_type": "tool_call"}
_FOLLOWUP_MARK = {"event_type": "followup_sent"}
_FOLLOWUP_JSON = {r: serialize({"message": f"Please address: {r}", "reason": r}) for r in FOLLOWUP_REASONS}

# The writer's ``serialize`` (same options, so the same text) without its circular-reference
# check: every value here is a fresh tree of dicts and lists, and the check was a fifth of the
# encoding time of the metrics lines, error payloads and error truth (a test holds the two equal).
fast_serialize = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
).encode


class AttemptLog:
    """One attempt as it is written: identity and context serialized once, its lines, its counts."""

    __slots__ = (
        "attempt_id", "context", "errors", "followups", "last_us", "lines", "loop_kind",
        "prefix", "start_ms", "summary", "tool_calls",
    )  # fmt: skip

    def __init__(self, attempt_id: str, context: dict[str, Any], context_json: str, start_us: int) -> None:
        """``context`` holds the context fields in :data:`~agent_pipelines.core.logger.CONTEXT_FIELDS`
        order, none of them ``None``; ``context_json`` is ``serialize(context)[1:-1]`` (its caller
        formats it directly: every value is JSON-safe, see :func:`.profiles.check_json_safe`)."""
        self.attempt_id = attempt_id
        self.context = context
        # Everything between the timestamp and the event type, as build_event orders the fields.
        self.prefix = f'","attempt_id":"{attempt_id}",{context_json},"event_type":"'
        self.start_ms = clock.epoch_ms(start_us)
        self.lines: list[str] = []  # the transcript, in the order written
        # What the metrics line reads of the session starts and errors (see summary_events)
        self.summary: list[dict[str, Any]] = []
        self.last_us = start_us
        self.errors = 0
        self.followups = 0
        self.tool_calls = 0
        self.loop_kind: Any = None  # the error kind of an error loop (or its near miss)

    def summary_events(self) -> list[dict[str, Any]]:
        """What :func:`~agent_pipelines.core.logger.session_summary` reads of the transcript, in the
        order written: the session starts (time, prompt type), errors (data), status changes (new
        status) and a marker per follow-up (where they fall among errors says which errors were
        overcome with help); then a marker per tool call (it counts them)."""
        return self.summary + [_TOOL_CALL_MARK] * self.tool_calls

    @property
    def first_ts(self) -> str:
        return self.lines[0][14:38]

    @property
    def last_ts(self) -> str:
        return self.lines[-1][14:38]


class Emitter:
    """A chunk's outputs: stream lines by day, the errors file, metrics, transcripts, error truth."""

    def __init__(self) -> None:
        self.by_day: dict[str, list[str]] = defaultdict(list)
        self.errors: list[str] = []
        self.metrics: list[str] = []
        self.transcripts: dict[str, list[str]] = {}
        self.truth_errors: list[str] = []
        self.events = 0

    def emit_json(self, a: AttemptLog, event_type: str, data_json: str, us: int) -> str:
        """Write one event whose data is already serialized; returns its line."""
        elapsed = int(us / 1_000_000 * 1000) - a.start_ms  # clock.epoch_ms, inlined: once per event
        line = (
            f'{{"timestamp":"{clock.timestamp(us)}{a.prefix}{event_type}","data":{data_json},'
            f'"elapsed_ms":{elapsed if elapsed > 0 else 0}}}'
        )
        a.lines.append(line)
        a.last_us = us
        return line

    def error(self, a: AttemptLog, data: dict[str, Any], us: int) -> str:
        """Write an error event from its data dict (``None`` values dropped, as the logger drops
        them); returns its timestamp."""
        payload = {k: v for k, v in data.items() if v is not None}
        line = self.emit_json(a, "error", fast_serialize(payload), us)
        self.errors.append(line)
        a.errors += 1
        a.summary.append({"event_type": "error", "data": payload})  # what the metrics line reads of it
        return line[14:38]

    def session_start(
        self,
        a: AttemptLog,
        prompt_type: str,
        prompt: str,
        reason: str | None,
        us: int,
        variant: str | None = None,
    ) -> None:
        """A session start (the attempt's first, or a restart after a follow-up). The prompt,
        reason and prompt variant are JSON-safe (made of :mod:`.profiles`' checked constants)."""
        tail = f',"followup_reason":"{reason}"' if reason else ""
        tail += f',"prompt_variant":"{variant}"}}' if variant else "}"
        line = self.emit_json(
            a, "session_start", f'{{"prompt_type":"{prompt_type}","prompt":"{prompt}"{tail}', us
        )
        # What the metrics line reads of a session start: when, and the prompt type.
        a.summary.append(
            {"event_type": "session_start", "timestamp": line[14:38], "data": {"prompt_type": prompt_type}}
        )

    def session_end(
        self, a: AttemptLog, status: str, duration_ms: int, tokens: int, cost: float, succeeded: bool, us: int
    ) -> dict[str, Any]:
        """The session end; returns it as the metrics line reads it (the logger's event, less the
        context fields the line does not use)."""
        outcome = "completed" if succeeded else status
        pr_created = "true" if succeeded else "false"
        data_json = (
            f'{{"completion_status":"{status}","duration_ms":{duration_ms},"total_tokens":{tokens},'
            f'"cost_usd":{cost!r},"outcome":{{"status":"{outcome}","pr_created":{pr_created}}}}}'
        )
        line = self.emit_json(a, "session_end", data_json, us)
        context = a.context
        return {
            "timestamp": line[14:38],
            "attempt_id": a.attempt_id,
            "task_id": context["task_id"],
            "task_title": context["task_title"],
            "executor": context["executor"],
            "model": context["model"],
            "event_type": "session_end",
            "data": {"completion_status": status, "duration_ms": duration_ms, "total_tokens": tokens,
                     "cost_usd": cost, "outcome": {"status": outcome, "pr_created": succeeded}},
        }  # fmt: skip

    def followup(self, a: AttemptLog, reason: str, us: int) -> None:
        self.emit_json(a, "followup_sent", _FOLLOWUP_JSON[reason], us)
        a.followups += 1
        a.summary.append(_FOLLOWUP_MARK)

    def status_change(self, a: AttemptLog, old: str, new: str, us: int) -> None:
        self.emit_json(a, "status_change", f'{{"old_status":"{old}","new_status":"{new}"}}', us)
        a.summary.append({"event_type": "status_change", "data": {"new_status": new}})

    def tool_call(self, a: AttemptLog, tool: str, params_json: str, us: int) -> None:
        self.emit_json(a, "tool_call", f'{{"tool_name":"{tool}","tool_params":{params_json}}}', us)
        a.tool_calls += 1

    def close(self, a: AttemptLog, transcript: bool) -> None:
        """File the attempt's lines by day (the day is in each line's timestamp) and keep its
        transcript if it is one of those written."""
        lines = a.lines
        days = {line[14:24] for line in lines}
        if len(days) == 1:
            self.by_day[days.pop()].extend(lines)
        else:  # it crosses midnight
            by_day = self.by_day
            for line in lines:
                by_day[line[14:24]].append(line)
        if transcript:
            self.transcripts[a.attempt_id] = lines
        self.events += len(lines)
