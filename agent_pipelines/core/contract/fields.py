"""The event contract's vocabulary: event types, their payloads, the fields and their types, the limits,
and the reasons a line is refused.

The field names, event types and payloads are the original PowerShell logger's
(``AGENT_LOGGING_SUMMARY.md``); the limits and reasons are ours. :mod:`agent_pipelines.core.contract.rules`
turns these constants into the checks.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal, NotRequired, TypedDict

import polars as pl

# --------------------------------------------------------------------------------------------
# Event types and payloads (the original PowerShell logger's, one TypedDict each)
# --------------------------------------------------------------------------------------------

EVENT_TYPES: tuple[str, ...] = (
    "session_start",
    "session_end",
    "followup_sent",
    "error",
    "tool_call",
    "tool_result",
    "status_change",
    "agent_output",
    "agent_thinking",
)
PROMPT_TYPES: tuple[str, ...] = ("initial", "followup", "retry")
COMPLETION_STATUSES: tuple[str, ...] = ("success", "failed", "timeout", "interrupted")
# Turn state, carried by ``status_change`` (docs/contract.md, "Turns"): a turn is over and the agent
# waits for its person (``awaiting_input``, or ``interrupted`` by that person), or a turn began
# (``working``; a prompt or any agent activity says so too).
TURN_OPEN_STATUS = "working"
TURN_CLOSED_STATUSES: tuple[str, ...] = ("awaiting_input", "interrupted")
TURN_STATUSES: tuple[str, ...] = (TURN_OPEN_STATUS, *TURN_CLOSED_STATUSES)
SUCCESS_STATUS = "success"  # the one definition of success, everywhere


class SessionStartData(TypedDict):
    prompt_type: Literal["initial", "followup", "retry"]
    prompt: NotRequired[str | None]
    followup_reason: NotRequired[str | None]


class SessionEndData(TypedDict):
    completion_status: Literal["success", "failed", "timeout", "interrupted"]
    duration_ms: NotRequired[int | None]
    total_tokens: NotRequired[int | None]
    cost_usd: NotRequired[float | None]
    outcome: NotRequired[dict[str, Any] | None]


class ErrorData(TypedDict):
    error_message: str
    error_fingerprint: NotRequired[str | None]
    error_category: NotRequired[str | None]
    stack_trace: NotRequired[str | None]


class FollowupSentData(TypedDict):
    message: NotRequired[str | None]
    reason: NotRequired[str | None]


class ToolCallData(TypedDict):
    tool_name: str
    tool_params: NotRequired[dict[str, Any] | None]


class ToolResultData(TypedDict):
    tool_name: str
    success: NotRequired[bool | None]
    duration_ms: NotRequired[int | None]


class StatusChangeData(TypedDict):
    new_status: str
    old_status: NotRequired[str | None]
    reason: NotRequired[str | None]


# The original logger accepts these two (``Write-AgentWorkLog``'s ValidateSet); its design document
# gives their payloads. Free text with no column of its own: it stays in the cleaned table's ``data``.
class AgentOutputData(TypedDict):
    """What the agent printed, and on which stream."""

    output: NotRequired[str | None]
    stream_type: NotRequired[Literal["stdout", "stderr"] | None]


class AgentThinkingData(TypedDict):
    thinking: NotRequired[str | None]


PAYLOAD_TYPES: dict[str, type] = {
    "session_start": SessionStartData,
    "session_end": SessionEndData,
    "followup_sent": FollowupSentData,
    "error": ErrorData,
    "tool_call": ToolCallData,
    "tool_result": ToolResultData,
    "status_change": StatusChangeData,
    "agent_output": AgentOutputData,
    "agent_thinking": AgentThinkingData,
}

# Payload fields that must be present (non-null) for an event type to mean anything.
REQUIRED_PAYLOAD: dict[str, tuple[str, ...]] = {
    "session_start": (),
    "session_end": ("completion_status",),
    "followup_sent": (),
    "error": ("error_message",),
    "tool_call": ("tool_name",),
    "tool_result": ("tool_name",),
    "status_change": ("new_status",),
    "agent_output": (),
    "agent_thinking": (),
}

# --------------------------------------------------------------------------------------------
# Top-level fields and their types
# --------------------------------------------------------------------------------------------

REQUIRED_FIELDS: tuple[str, ...] = ("timestamp", "attempt_id", "event_type")
STRING_FIELDS: tuple[str, ...] = (
    "attempt_id",
    "session_id",
    "event_type",
    "task_id",
    "task_title",
    "task_description",
    "project_id",
    "executor",
    "executor_variant",
    "model",
    "branch",
    "base_branch",
)
INT_FIELDS: tuple[str, ...] = ("commits_ahead", "commits_behind", "elapsed_ms")
TOP_LEVEL_FIELDS: tuple[str, ...] = ("timestamp", *STRING_FIELDS, *INT_FIELDS, "data")

# Flattened payload columns of the cleaned table, with their types. Fields shared by two
# event types (``duration_ms``, ``reason``) share one column.
PAYLOAD_COLUMNS: dict[str, pl.DataType] = {
    "prompt_type": pl.String(),
    "prompt": pl.String(),
    "followup_reason": pl.String(),
    "completion_status": pl.String(),
    "duration_ms": pl.Int64(),
    "total_tokens": pl.Int64(),
    "cost_usd": pl.Float64(),
    "outcome": pl.String(),  # JSON text: free-form object
    "error_message": pl.String(),
    "error_fingerprint": pl.String(),
    "error_category": pl.String(),
    "stack_trace": pl.String(),
    "message": pl.String(),
    "reason": pl.String(),
    "tool_name": pl.String(),
    "tool_params": pl.String(),  # JSON text: free-form object
    "success": pl.Boolean(),
    "old_status": pl.String(),
    "new_status": pl.String(),
}
PAYLOAD_INT_FIELDS = tuple(k for k, v in PAYLOAD_COLUMNS.items() if v == pl.Int64())
PAYLOAD_FLOAT_FIELDS = tuple(k for k, v in PAYLOAD_COLUMNS.items() if v == pl.Float64())
PAYLOAD_BOOL_FIELDS = tuple(k for k, v in PAYLOAD_COLUMNS.items() if v == pl.Boolean())
PAYLOAD_OBJECT_FIELDS = ("outcome", "tool_params")

MAX_ID_CHARS = 256
MAX_LINE_BYTES = 1 << 20  # 1 MiB: anything longer is not an event, it is an accident
MAX_DEPTH = 64  # objects and lists nested deeper than this are refused: no event needs it, and
# every JSON library recurses (Python's ``json`` raises RecursionError near 1,000 levels)
MIN_YEAR, MAX_YEAR = 1, 9999  # the years a Python ``datetime`` holds, in UTC


class Reason(StrEnum):
    """Why a line was quarantined. Stable codes: reports and ``validate --json`` use them."""

    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    INVALID_UTF8 = "invalid_utf8"
    LINE_TOO_LONG = "line_too_long"
    TRUNCATED_LINE = "truncated_line"  # a last line without newline in a file no writer can finish
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    INVALID_TIMESTAMP = "invalid_timestamp"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    INVALID_PAYLOAD = "invalid_payload"
    INVALID_ID = "invalid_id"
    TOO_DEEP = "too_deep"  # nested deeper than MAX_DEPTH
    DUPLICATE_KEY = "duplicate_key"  # one key twice in an object: readers disagree on which wins


class ContractError(ValueError):
    """An event that breaks the contract. ``reason`` is a :class:`Reason`, ``detail`` says where."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


# --------------------------------------------------------------------------------------------
# Ids
# --------------------------------------------------------------------------------------------

# Patterns shared by :func:`id_problem` and the polars rule (``re`` and polars' regex agree on them).
ID_CONTROL_PATTERN = r"[\x00-\x1f\x7f]"
ID_TRAVERSAL_PATTERN = r"(^|[/\\])\.\.([/\\]|$)"
_CONTROL = re.compile(ID_CONTROL_PATTERN)
_TRAVERSAL = re.compile(ID_TRAVERSAL_PATTERN)
ID_FIELDS: tuple[str, ...] = ("attempt_id", "session_id", "task_id")


def id_problem(value: str) -> str | None:
    """Why an id is unsafe, or ``None``. Ids reach file names and UIs, so ``../../etc`` is refused."""
    if not value:
        return "is empty"
    if len(value) > MAX_ID_CHARS:
        return f"is longer than {MAX_ID_CHARS} characters"
    if _CONTROL.search(value):
        return "contains control characters"
    if _TRAVERSAL.search(value):
        return "contains a '..' path segment"
    if value[0] in "/\\":
        return "starts with a path separator"
    return None
