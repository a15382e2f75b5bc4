"""Writing events: an attempt's lines, assembled from parts serialized once, kept by day.

An event line is the logger's: ``serialize(build_event(...))`` gives the same bytes (a test rebuilds
every generated line that way). Serializing a dict per event was most of the generator's time, so
each attempt serializes its identity and context once (:class:`AttemptLog`) and each event adds
only its timestamp, type, data and elapsed time. The tool calls and results, most of the lines, are
formatted in the loop that draws them (:meth:`~agent_pipelines.generator.scenarios.Chunk._work`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from agent_pipelines.generator import clock
from agent_pipelines.generator.profiles import FOLLOWUP_REASONS
from agent_pipelines.logger import CONTEXT_FIELDS
from agent_pipelines.writer import serialize

# What the metrics line counts from a transcript (:func:`agent_pipelines.metrics_line.metrics_line`
# reads an event's type, and data and timestamp only of session starts and errors): tool calls and
# follow-ups are handed to it as shared markers (see :meth:`AttemptLog.summary_events`).
_TOOL_CALL_MARK = {"event_type": "tool_call"}
_FOLLOWUP_MARK = {"event_type": "followup_sent"}
_FOLLOWUP_JSON = {r: serialize({"message": f"Please address: {r}", "reason": r}) for r in FOLLOWUP_REASONS}


class AttemptLog:
    """One attempt as it is written: identity and context serialized once, its lines, its counts."""

    __slots__ = (
        "attempt_id", "context", "errors", "fields", "followups", "last_us", "lines", "loop_kind",
        "prefix", "start_ms", "summary", "tool_calls",
    )  # fmt: skip

    def __init__(self, attempt_id: str, context: dict[str, Any], start_us: int) -> None:
        self.attempt_id = attempt_id
        self.context = context
        self.fields = {name: context[name] for name in CONTEXT_FIELDS if context.get(name) is not None}
        context_json = serialize(self.fields)[1:-1] + "," if self.fields else ""
        # Everything between the timestamp and the event type, as build_event orders the fields.
        self.prefix = f'","attempt_id":{serialize({"a": attempt_id})[5:-1]},{context_json}"event_type":"'
        self.start_ms = clock.epoch_ms(start_us)
        self.lines: list[str] = []  # the transcript, in the order written
        self.summary: list[dict[str, Any]] = []  # session starts and errors, for the metrics line
        self.last_us = start_us
        self.errors = 0
        self.followups = 0
        self.tool_calls = 0
        self.loop_kind: Any = None  # the error kind of an error loop (or its near miss)

    def summary_events(self) -> list[dict[str, Any]]:
        """What :func:`~agent_pipelines.logger.session_summary` reads of the transcript: the session
        starts and errors as written, and one marker per tool call and follow-up (it counts them)."""
        return self.summary + [_FOLLOWUP_MARK] * self.followups + [_TOOL_CALL_MARK] * self.tool_calls

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

    def emit(self, a: AttemptLog, event_type: str, data: dict[str, Any], us: int) -> dict[str, Any]:
        """Write one event from its data dict (``None`` values dropped, as the logger drops them);
        returns the event as the logger's ``build_event`` makes it."""
        payload = {k: v for k, v in data.items() if v is not None}
        line = self.emit_json(a, event_type, serialize(payload), us)
        event = {"timestamp": line[14:38], "attempt_id": a.attempt_id, **a.fields, "event_type": event_type,
                 "data": payload, "elapsed_ms": max(0, clock.epoch_ms(us) - a.start_ms)}  # fmt: skip
        if event_type == "error":
            self.errors.append(line)
            a.errors += 1
            a.summary.append(event)
        elif event_type == "session_start":
            a.summary.append(event)
        return event

    def followup(self, a: AttemptLog, reason: str, us: int) -> None:
        self.emit_json(a, "followup_sent", _FOLLOWUP_JSON[reason], us)
        a.followups += 1

    def status_change(self, a: AttemptLog, old: str, new: str, us: int) -> None:
        self.emit_json(a, "status_change", f'{{"old_status":"{old}","new_status":"{new}"}}', us)

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
