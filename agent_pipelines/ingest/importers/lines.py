"""An import's events as the lines the logger would write, built once, as they are made.

Why: building each event as a dict (:func:`~agent_pipelines.core.logger.build_event`) and serializing
it whole when the pass writes cost more than the records' own handling; most of a line is the same
for every event of a session (its id and context: task, model, branch...). Here that part is
serialized once per session and context, the time is the record's own text when it already is in
the logger's format (``2026-03-02T10:00:00.123Z``, as both Claude Code and Codex write it), and only
the event type, data and elapsed time are new per line. The line is byte for byte what
``serialize(build_event(...))`` gives (tests/test_import_lines.py compares them on open-ended input).
"""

from __future__ import annotations

import re
from typing import Any

from agent_pipelines.core.contract import format_timestamp, parse_timestamp
from agent_pipelines.core.logger import CONTEXT_FIELDS
from agent_pipelines.core.writer import serialize

# The logger's own format: a valid time in it (the caller parsed it already) is written as it is.
_LOGGER_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def event_time(ts: str) -> str:
    """``format_timestamp(parse_timestamp(ts))`` for a ``ts`` that parses."""
    if _LOGGER_TIME.fullmatch(ts):
        return ts
    return format_timestamp(parse_timestamp(ts))


class Prefixes:
    """Per session, the serialized ``"attempt_id":...,<context fields>`` part of its lines, made again
    only when its context changed."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[tuple[Any, ...], str]] = {}

    def get(self, attempt_id: str, context: dict[str, Any]) -> str:
        values = tuple(context.get(name) for name in CONTEXT_FIELDS)
        known = self._cache.get(attempt_id)
        if known is not None and known[0] == values:
            return known[1]
        head: dict[str, Any] = {"attempt_id": attempt_id}
        for name, value in zip(CONTEXT_FIELDS, values, strict=True):
            if value is not None:
                head[name] = value
        part = serialize(head)[1:-1]
        self._cache[attempt_id] = (values, part)
        return part


def event_line(time_text: str, prefix: str, event_type: str, data: dict[str, Any], elapsed_ms: int) -> str:
    """One event's line: ``time_text`` from :func:`event_time`, ``prefix`` from :class:`Prefixes`;
    ``data`` values that are ``None`` are left out, as ``build_event`` leaves them out."""
    clean = {k: v for k, v in data.items() if v is not None}
    return (
        f'{{"timestamp":"{time_text}",{prefix},"event_type":{serialize({"": event_type})[4:-1]},'
        f'"data":{serialize(clean)},"elapsed_ms":{elapsed_ms}}}'
    )
