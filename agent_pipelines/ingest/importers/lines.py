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

import json
import json.encoder
import re
from typing import Any

from agent_pipelines.core.contract import format_timestamp, parse_timestamp
from agent_pipelines.core.logger import CONTEXT_FIELDS
from agent_pipelines.core.writer import serialize

# ``serialize`` makes a new C encoder for every call (json's ``iterencode``), a third of its time on
# an event's small data; this is one such encoder, made once with the very arguments ``serialize``'s
# encoder passes (compact, non-ASCII kept, no NaN), so its text is the same (the tests compare).
_MAKE = getattr(json.encoder, "c_make_encoder", None)
_C_ENCODE = (
    _MAKE(
        None, json.JSONEncoder().default, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )
    if _MAKE is not None
    else None
)


def dumps(value: dict[str, Any]) -> str:
    """``serialize(value)`` for a JSON object of JSON values (no cycles: it comes from a record)."""
    if _C_ENCODE is None:  # pragma: no cover - a Python without the C accelerator
        return serialize(value)
    return "".join(_C_ENCODE(value, 0))


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
        self._cache: dict[str, tuple[dict[str, Any], str]] = {}

    def get(self, attempt_id: str, context: dict[str, Any]) -> str:
        known = self._cache.get(attempt_id)
        if known is not None and known[0] == context:
            return known[1]
        head: dict[str, Any] = {"attempt_id": attempt_id}
        for name in CONTEXT_FIELDS:
            value = context.get(name)
            if value is not None:
                head[name] = value
        part = serialize(head)[1:-1]
        self._cache[attempt_id] = (dict(context), part)
        return part


def event_line(time_text: str, prefix: str, event_type: str, data: dict[str, Any], elapsed_ms: int) -> str:
    """One event's line: ``time_text`` from :func:`event_time`, ``prefix`` from :class:`Prefixes`;
    ``data`` values that are ``None`` are left out, as ``build_event`` leaves them out."""
    clean = {k: v for k, v in data.items() if v is not None}
    return (
        f'{{"timestamp":"{time_text}",{prefix},"event_type":{json.encoder.encode_basestring(event_type)},'
        f'"data":{dumps(clean)},"elapsed_ms":{elapsed_ms}}}'
    )
