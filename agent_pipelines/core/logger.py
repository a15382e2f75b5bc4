"""The agent work logger: the original PowerShell logger's functions, in Python and on the command
line.

=====================  ==========================================
original (PowerShell)  here
=====================  ==========================================
Start-AgentSession     :meth:`AgentWorkLogger.start_session`
Write-AgentFollowup    :meth:`AgentWorkLogger.followup`
Write-AgentError       :meth:`AgentWorkLogger.error`
Stop-AgentSession      :meth:`AgentWorkLogger.stop_session`
(new)                  ``tool_call``, ``tool_result``, ``status_change``
(new)                  ``end_turn``, ``start_turn`` (turn state)
=====================  ==========================================

The original PowerShell logger kept each session's context (task, executor, start time) in the memory of the
orchestrator process. Orchestrators calling ``agent-pipelines log`` start a new process per event,
so context comes from the attempt's transcript instead: its first line is the ``session_start``,
which carries task, executor, model and branch, and its time gives ``elapsed_ms``. Anything passed
explicitly wins over what the transcript says.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent_pipelines.core import paths
from agent_pipelines.core.contract import (
    COMPLETION_STATUSES,
    MAX_LINE_BYTES,
    STRING_FIELDS,
    TURN_CLOSED_STATUSES,
    TURN_OPEN_STATUS,
    ContractError,
    Reason,
    check_event,
    check_values,
    format_timestamp,
    parse_timestamp,
    text_only,
)
from agent_pipelines.core.jsonl import iter_json_objects
from agent_pipelines.core.metrics_line import metrics_line
from agent_pipelines.core.settings import Settings
from agent_pipelines.core.writer import append_all, serialize
from agent_pipelines.text.redaction import redact_value

# Context fields an event inherits from its session's start (the original PowerShell logger's TaskMetadata,
# ExecutorInfo and GitContext), in the order they appear on disk (the original logger's example line).
CONTEXT_FIELDS: tuple[str, ...] = (
    *(name for name in STRING_FIELDS if name not in ("attempt_id", "event_type")),
    "commits_ahead",
    "commits_behind",
)


def build_event(
    event_type: str,
    attempt_id: str,
    data: Mapping[str, Any] | None,
    context: Mapping[str, Any] | None = None,
    *,
    timestamp: datetime,
    elapsed_ms: int | None = None,
    check: bool = True,
) -> dict[str, Any]:
    """Assemble one event in the original PowerShell logger's field order and check it against the contract.

    ``check=False`` is for the generator's hot loop only; its output is checked by tests instead.
    """
    context = context or {}
    event: dict[str, Any] = {"timestamp": format_timestamp(timestamp), "attempt_id": attempt_id}
    for name in CONTEXT_FIELDS:
        value = context.get(name)
        if value is not None:
            event[name] = value
    event["event_type"] = event_type
    event["data"] = {k: v for k, v in (data or {}).items() if v is not None}
    if elapsed_ms is not None:
        event["elapsed_ms"] = elapsed_ms
    if check:
        check_event(event)
    return event


def event_destinations(root: Path, event: Mapping[str, Any], *, stream_file: bool = False) -> list[Path]:
    """The files one event is appended to: its day's stream partition, its transcript, errors; and
    with ``stream_file`` the original's single ``agent-work-stream.jsonl`` too (the reader counts a
    line found in both once)."""
    day = event["timestamp"][:10]
    targets = [paths.stream_partition_path(root, day), paths.session_file_path(root, event["attempt_id"])]
    if stream_file:
        targets.append(root / paths.STREAM_FILE)
    if event["event_type"] == "error":
        targets.append(root / paths.ERRORS_FILE)
    return targets


def session_summary(transcript: list[dict[str, Any]], end_event: Mapping[str, Any]) -> dict[str, Any]:
    """The ``agent-metrics.jsonl`` record for a finished session, in the original logger's shape
    (see :mod:`agent_pipelines.core.metrics_line`, which owns the line's content)."""
    return metrics_line(transcript, end_event)


class AgentWorkLogger:
    """Writes agent work events to a log folder. Safe to use from many processes at once.

    This is the library's public entry point for an orchestrator's own program, so it is an edge:
    what is not given (the folder, ``enabled``) comes from the environment's settings
    (``AGENT_WORK_LOGS_DIR``; ``AGENT_WORK_LOGGING_ENABLED=false`` or 0/no/off turns every logging
    call into a no-op), loaded here once, as the original PowerShell logger read them.
    """

    def __init__(
        self,
        logs_dir: str | os.PathLike[str] | None = None,
        *,
        enabled: bool | None = None,
        clock: Callable[[], datetime] | None = None,
        stream_file: bool | None = None,
        settings: Settings | None = None,
    ) -> None:
        """``stream_file``: also append every event to the original's single stream file, for its
        analyzer and scripts during a migration (default: ``AGENT_WORK_STREAM_FILE_ENABLED``).
        What is not given comes from ``settings`` (loaded here when none are given)."""
        if settings is None and (logs_dir is None or enabled is None or stream_file is None):
            settings = Settings.load()
        self.root = paths.logs_dir(logs_dir or (settings.logs_location if settings else None))
        self.enabled = (settings.logging_enabled if settings else True) if enabled is None else enabled
        if stream_file is None:
            stream_file = settings.stream_file_enabled if settings else False
        self.stream_file = stream_file
        self._clock = clock or (lambda: datetime.now(UTC))
        self._contexts: dict[str, dict[str, Any]] = {}

    # -- the original PowerShell logger's functions ------------------------------------------

    def start_session(
        self,
        attempt_id: str,
        *,
        prompt: str | None = None,
        prompt_type: str = "initial",
        followup_reason: str | None = None,
        **context: Any,
    ) -> dict[str, Any] | None:
        """Start-AgentSession. ``context`` takes task_id, task_title, executor, model, branch, ..."""
        unknown = set(context) - set(CONTEXT_FIELDS)
        if unknown:
            raise TypeError(f"unknown context fields: {sorted(unknown)}")
        self._contexts[attempt_id] = {k: v for k, v in context.items() if v is not None}
        data = {"prompt_type": prompt_type, "prompt": prompt, "followup_reason": followup_reason}
        return self.log("session_start", attempt_id, data, context)

    def followup(
        self, attempt_id: str, message: str, reason: str | None = None, **context: Any
    ) -> dict | None:
        """Write-AgentFollowup."""
        return self.log("followup_sent", attempt_id, {"message": message, "reason": reason}, context)

    def error(
        self,
        attempt_id: str,
        error_message: str,
        error_fingerprint: str | None = None,
        error_category: str | None = None,
        stack_trace: str | None = None,
        **context: Any,
    ) -> dict[str, Any] | None:
        """Write-AgentError."""
        data = {
            "error_message": error_message,
            "error_fingerprint": error_fingerprint,
            "error_category": error_category,
            "stack_trace": stack_trace,
        }
        return self.log("error", attempt_id, data, context)

    def tool_call(
        self, attempt_id: str, tool_name: str, tool_params: Mapping[str, Any] | None = None, **context: Any
    ) -> dict[str, Any] | None:
        return self.log(
            "tool_call", attempt_id, {"tool_name": tool_name, "tool_params": tool_params}, context
        )

    def tool_result(
        self,
        attempt_id: str,
        tool_name: str,
        success: bool | None = None,
        duration_ms: int | None = None,
        extra: Mapping[str, Any] | None = None,
        **context: Any,
    ) -> dict[str, Any] | None:
        data = {"tool_name": tool_name, "success": success, "duration_ms": duration_ms, **(extra or {})}
        return self.log("tool_result", attempt_id, data, context)

    def status_change(
        self,
        attempt_id: str,
        new_status: str,
        old_status: str | None = None,
        reason: str | None = None,
        **context: Any,
    ) -> dict[str, Any] | None:
        data = {"new_status": new_status, "old_status": old_status, "reason": reason}
        return self.log("status_change", attempt_id, data, context)

    def output(
        self, attempt_id: str, output: str, stream_type: str | None = None, **context: Any
    ) -> dict[str, Any] | None:
        """What the agent printed (``agent_output``; ``stream_type`` is ``stdout`` or ``stderr``)."""
        return self.log("agent_output", attempt_id, {"output": output, "stream_type": stream_type}, context)

    def thinking(self, attempt_id: str, thinking: str, **context: Any) -> dict[str, Any] | None:
        """The agent's reasoning as its tool shows it (``agent_thinking``)."""
        return self.log("agent_thinking", attempt_id, {"thinking": thinking}, context)

    def end_turn(self, attempt_id: str, reason: str | None = None, **context: Any) -> dict[str, Any] | None:
        """The agent finished its turn and waits for its person: a silence from here on is not an
        agent stuck (``status_change`` to ``awaiting_input``; see docs/contract.md, "Turns")."""
        return self.status_change(attempt_id, TURN_CLOSED_STATUSES[0], TURN_OPEN_STATUS, reason, **context)

    def start_turn(self, attempt_id: str, reason: str | None = None, **context: Any) -> dict[str, Any] | None:
        """A turn began (a prompt or any tool call says so too; this is for turns that start otherwise)."""
        return self.status_change(attempt_id, TURN_OPEN_STATUS, TURN_CLOSED_STATUSES[0], reason, **context)

    def stop_session(
        self,
        attempt_id: str,
        completion_status: str,
        *,
        duration_ms: int | None = None,
        total_tokens: int | None = None,
        cost_usd: float | None = None,
        outcome: Mapping[str, Any] | None = None,
        files_modified: int | None = None,
        lines_added: int | None = None,
        lines_deleted: int | None = None,
        commits: int | None = None,
        **context: Any,
    ) -> dict[str, Any] | None:
        """Stop-AgentSession: the ``session_end`` event plus a summary in ``agent-metrics.jsonl``.

        The git figures (the session's diff, when the orchestrator knows it) go into the payload and
        from there into the summary's ``metrics``; left out, they are left out there too."""
        if completion_status not in COMPLETION_STATUSES:
            raise ValueError(
                f"completion_status must be one of {COMPLETION_STATUSES}, got {completion_status!r}"
            )
        data = {
            "completion_status": completion_status,
            "duration_ms": duration_ms,
            "total_tokens": total_tokens,
            "cost_usd": cost_usd,
            "outcome": dict(outcome) if outcome else None,
            "files_modified": files_modified,
            "lines_added": lines_added,
            "lines_deleted": lines_deleted,
            "commits": commits,
        }
        return self.log("session_end", attempt_id, data, context)

    # -- the general entry point --------------------------------------------------------------

    def log(
        self,
        event_type: str,
        attempt_id: str,
        data: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Write one event of any type. Returns the event written, or ``None`` when disabled.

        Raises :class:`~agent_pipelines.core.contract.ContractError` for an event the contract refuses
        (e.g. a hostile attempt id, nesting deeper than 64 levels, NaN, a line over 1 MiB), before
        anything is written, and :class:`~agent_pipelines.core.writer.AppendError` (an ``OSError``) when
        the disk refused the write: then no file holds any of it. Lone surrogates in text (not
        Unicode, not writable as UTF-8) become U+FFFD, as the reader reads them.
        """
        if not self.enabled:
            return None
        if not isinstance(attempt_id, str) or not isinstance(event_type, str):
            raise ContractError(Reason.WRONG_TYPE, "'attempt_id' and 'event_type' must be strings")
        check_values([dict(data or {}), dict(context or {})])  # before anything walks them
        attempt_id = text_only(attempt_id)
        # Secrets go first, before anything is built, written or summarised from the text.
        payload: dict[str, Any] = redact_value(text_only(dict(data or {})))
        given: dict[str, Any] = redact_value(text_only(dict(context or {})))
        now = self._clock()
        transcript_path = paths.session_file_path(self.root, attempt_id)
        merged, started_at = self._context_for(attempt_id, transcript_path, event_type)
        merged.update({k: v for k, v in given.items() if v is not None})
        merged = redact_value(merged)  # the context kept in memory since start_session, too
        elapsed_ms = None
        if started_at is not None:
            elapsed_ms = max(0, int((now - started_at).total_seconds() * 1000))
        if event_type == "session_end" and payload.get("duration_ms") is None and elapsed_ms is not None:
            payload["duration_ms"] = elapsed_ms
        event = build_event(event_type, attempt_id, payload, merged, timestamp=now, elapsed_ms=elapsed_ms)
        line = (serialize(event) + "\n").encode("utf-8")
        if len(line) - 1 > MAX_LINE_BYTES:
            raise ContractError(
                Reason.LINE_TOO_LONG,
                f"the event is {len(line) - 1} bytes as a line, over the {MAX_LINE_BYTES}-byte bound",
            )
        targets = event_destinations(self.root, event, stream_file=self.stream_file)
        writes = [(target, line) for target in targets]
        if event_type == "session_end":
            transcript = [*_read_transcript(transcript_path), event]
            summary = (serialize(session_summary(transcript, event)) + "\n").encode("utf-8")
            writes.append((self.root / paths.METRICS_FILE, summary))
        append_all(writes)  # all files or none: a failed write leaves each as it was
        if event_type == "session_end":
            self._contexts.pop(attempt_id, None)
        return event

    def _context_for(
        self, attempt_id: str, transcript_path: Path, event_type: str
    ) -> tuple[dict[str, Any], datetime | None]:
        if event_type == "session_start":
            return dict(self._contexts.get(attempt_id, {})), self._clock()
        first = _first_event(transcript_path)
        if first is None:
            return dict(self._contexts.get(attempt_id, {})), None
        context = {k: first[k] for k in CONTEXT_FIELDS if first.get(k) is not None}
        context.update(self._contexts.get(attempt_id, {}))
        started = None
        if first.get("event_type") == "session_start":
            try:
                started = parse_timestamp(first["timestamp"])
            except (KeyError, ValueError):
                started = None
        return context, started


def _read_lines_json(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    # A last line without its newline is left alone: a writer is still on it.
    return list(itertools.islice(iter_json_objects(path, complete=True), limit))


def _first_event(path: Path) -> dict[str, Any] | None:
    """The attempt's first line: its first ``session_start`` when the transcript is complete."""
    events = _read_lines_json(path, limit=1)
    return events[0] if events else None


def _read_transcript(path: Path) -> list[dict[str, Any]]:
    """All events of the attempt (an attempt may restart its session; the summary covers them all)."""
    return _read_lines_json(path)


__all__ = ["CONTEXT_FIELDS", "STRING_FIELDS", "AgentWorkLogger", "build_event"]
