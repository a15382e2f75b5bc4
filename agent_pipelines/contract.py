"""The event contract: what a line of an agent work log may hold.

Everything that reads or writes logs goes through this module — the logger before it writes,
the reader when it parses, the assets' pandera checks on the cleaned table, the rotation job
before it archives. The field names, event types and payloads are the seed system's
(``AGENT_LOGGING_SUMMARY.md``); what we add is precision about what is *invalid* and why, so a bad
line is quarantined with a reason instead of silently skewing a metric.

Two levels of checking share the same constants:

* :func:`check_event` checks one decoded line in Python (the logger, and the reader's per-line
  fallback when a block of lines does not parse);
* :func:`violation_expr` is the same rules as one polars expression, used by the reader on millions
  of rows at once. ``tests/test_contract.py`` keeps the two in agreement.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, NotRequired, TypedDict

import pandera.polars as pa
import polars as pl
from pandera.engines.polars_engine import DateTime

# --------------------------------------------------------------------------------------------
# Event types and payloads (the seed's, one TypedDict each)
# --------------------------------------------------------------------------------------------

EVENT_TYPES: tuple[str, ...] = (
    "session_start",
    "session_end",
    "followup_sent",
    "error",
    "tool_call",
    "tool_result",
    "status_change",
)
PROMPT_TYPES: tuple[str, ...] = ("initial", "followup", "retry")
COMPLETION_STATUSES: tuple[str, ...] = ("success", "failed", "timeout", "interrupted")
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


PAYLOAD_TYPES: dict[str, type] = {
    "session_start": SessionStartData,
    "session_end": SessionEndData,
    "followup_sent": FollowupSentData,
    "error": ErrorData,
    "tool_call": ToolCallData,
    "tool_result": ToolResultData,
    "status_change": StatusChangeData,
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

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TRAVERSAL = re.compile(r"(^|[/\\])\.\.([/\\]|$)")
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


# --------------------------------------------------------------------------------------------
# Timestamps
# --------------------------------------------------------------------------------------------


TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$"
_TIMESTAMP = re.compile(TIMESTAMP_PATTERN)


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO 8601 date-time; naive times are taken as UTC (the seed wrote ``Z`` always).

    Stricter than :meth:`datetime.fromisoformat` on purpose (a date alone is not an event time),
    and the same grammar as :func:`timestamp_expr`, so Python and polars agree on every line.
    """
    if not _TIMESTAMP.match(value):
        raise ValueError(f"not an ISO 8601 date-time: {value!r:.60}")
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is in year 0 in UTC
        raise ValueError(f"outside the years {MIN_YEAR}-{MAX_YEAR} in UTC: {value!r:.60}") from None


def timestamp_expr(col: str) -> pl.Expr:
    """ISO 8601 strings to UTC datetimes, null where invalid: :func:`parse_timestamp` for polars."""
    text = pl.col(col)
    valid = text.str.contains(TIMESTAMP_PATTERN)
    with_zone = text.str.replace(r"Z$", "+00:00").str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%#z", time_unit="us", time_zone="UTC", strict=False
    )
    with_zone_space = text.str.replace(r"Z$", "+00:00").str.to_datetime(
        "%Y-%m-%d %H:%M:%S%.f%#z", time_unit="us", time_zone="UTC", strict=False
    )
    naive = pl.coalesce(
        text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False),
        text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", strict=False),
    ).dt.replace_time_zone("UTC")
    parsed = pl.coalesce(with_zone, with_zone_space, naive)
    in_range = parsed.dt.year().is_between(MIN_YEAR, MAX_YEAR)  # what parse_timestamp can hold
    return pl.when(valid & in_range).then(parsed)


def format_timestamp(moment: datetime) -> str:
    """The seed's format: ``2026-02-09T14:23:45.123Z`` (UTC, milliseconds)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"


def _text(value: Any) -> Any:
    """A scalar as the reader sees it: JSON text for numbers and booleans, the string itself else."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


# --------------------------------------------------------------------------------------------
# One event, in Python
# --------------------------------------------------------------------------------------------


_INT_STRING = re.compile(r"^-?\d{1,18}$")
_NUMBER_STRING = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")

# Scalars written as strings ("12", "0.5", "true") are accepted: PowerShell and shell writers
# produce them, and no information is lost. Anything else of the wrong type is quarantined.


def _is_int(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_INT_STRING.match(value))
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**18


def _is_number(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_NUMBER_STRING.match(value))
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or value in ("true", "false")


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def check_values(obj: Any) -> None:
    """Refuse what no JSON line can faithfully hold: nesting deeper than :data:`MAX_DEPTH`, NaN and
    infinities, keys that are not strings, values that are not JSON (bytes, sets...). Iterative, so
    a hostile object cannot exhaust the stack."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list | tuple):
            if depth > MAX_DEPTH:
                raise ContractError(Reason.TOO_DEEP, f"nested deeper than {MAX_DEPTH} levels")
            if isinstance(value, dict):
                for key in value:
                    if not isinstance(key, str):
                        raise ContractError(Reason.WRONG_TYPE, f"keys must be strings, got {key!r:.40}")
                items: Iterable[Any] = value.values()
            else:
                items = value
            stack.extend((item, depth + 1) for item in items)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ContractError(Reason.WRONG_TYPE, f"{value} is not a JSON number")
        elif value is not None and not isinstance(value, str | int):
            raise ContractError(Reason.WRONG_TYPE, f"a {type(value).__name__} is not a JSON value")


_SURROGATE = re.compile("[\ud800-\udfff]")


def text_only(value: Any) -> Any:
    """``value`` with lone surrogates (``"\\ud800"``: valid JSON, not Unicode, not writable as UTF-8)
    replaced by U+FFFD in every string and key, as the reader reads them. Call after
    :func:`check_values` (it recurses)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {text_only(k): text_only(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [text_only(v) for v in value]
    return value


def check_event(obj: Any) -> None:
    """Raise :class:`ContractError` if a decoded line breaks the contract; return quietly otherwise."""
    if not isinstance(obj, dict):
        raise ContractError(Reason.NOT_AN_OBJECT, f"a line must be a JSON object, got {type(obj).__name__}")
    check_values(obj)
    for name in REQUIRED_FIELDS:
        if obj.get(name) is None:
            raise ContractError(Reason.MISSING_FIELD, f"'{name}' is required")
    for name in (*STRING_FIELDS, "timestamp"):
        value = obj.get(name)
        if value is not None and not _is_scalar(value):
            raise ContractError(Reason.WRONG_TYPE, f"'{name}' must be a string, got {type(value).__name__}")
    for name in INT_FIELDS:
        value = obj.get(name)
        if value is not None and not _is_int(value):
            raise ContractError(Reason.WRONG_TYPE, f"'{name}' must be an integer, got {value!r:.40}")
    timestamp = obj["timestamp"]
    try:
        parse_timestamp(str(timestamp))
    except ValueError:
        raise ContractError(
            Reason.INVALID_TIMESTAMP, f"'timestamp' is not ISO 8601: {timestamp!r:.60}"
        ) from None
    for name in ID_FIELDS:
        value = obj.get(name)
        if value is not None and (problem := id_problem(_text(value))):
            raise ContractError(Reason.INVALID_ID, f"'{name}' {problem}")
    event_type = _text(obj["event_type"])
    if event_type not in PAYLOAD_TYPES:
        raise ContractError(Reason.UNKNOWN_EVENT_TYPE, f"unknown event_type {event_type!r:.60}")
    data = obj.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ContractError(Reason.WRONG_TYPE, f"'data' must be an object, got {type(data).__name__}")
    check_payload(event_type, data)


def check_payload(event_type: str, data: dict[str, Any]) -> None:
    """Check an event's ``data`` against its event type's payload (extra keys are allowed and kept)."""
    for name in REQUIRED_PAYLOAD[event_type]:
        if data.get(name) is None:
            raise ContractError(Reason.MISSING_FIELD, f"'data.{name}' is required for {event_type}")
    for name in PAYLOAD_INT_FIELDS:
        value = data.get(name)
        if value is not None and not _is_int(value):
            raise ContractError(Reason.WRONG_TYPE, f"'data.{name}' must be an integer, got {value!r:.40}")
    for name in PAYLOAD_FLOAT_FIELDS:
        value = data.get(name)
        if value is not None and not _is_number(value):
            raise ContractError(Reason.WRONG_TYPE, f"'data.{name}' must be a number, got {value!r:.40}")
    for name in PAYLOAD_BOOL_FIELDS:
        value = data.get(name)
        if value is not None and not _is_bool(value):
            raise ContractError(Reason.WRONG_TYPE, f"'data.{name}' must be true or false, got {value!r:.40}")
    for name in PAYLOAD_OBJECT_FIELDS:
        value = data.get(name)
        if value is not None and not isinstance(value, dict):
            raise ContractError(Reason.WRONG_TYPE, f"'data.{name}' must be an object")
    for name, value in data.items():
        if name in PAYLOAD_COLUMNS and name not in PAYLOAD_OBJECT_FIELDS and isinstance(value, dict | list):
            raise ContractError(Reason.WRONG_TYPE, f"'data.{name}' must not be an object or list")
    if event_type == "session_start" and _text(data.get("prompt_type")) not in (None, *PROMPT_TYPES):
        raise ContractError(Reason.INVALID_PAYLOAD, f"'data.prompt_type' must be one of {PROMPT_TYPES}")
    if event_type == "session_end" and _text(data["completion_status"]) not in COMPLETION_STATUSES:
        raise ContractError(
            Reason.INVALID_PAYLOAD, f"'data.completion_status' must be one of {COMPLETION_STATUSES}"
        )
    cost = data.get("cost_usd")
    if cost is not None and float(cost) < 0:
        raise ContractError(Reason.INVALID_PAYLOAD, "'data.cost_usd' must not be negative")


# --------------------------------------------------------------------------------------------
# The same rules over a frame of raw rows (every column a string, as the reader parses them)
# --------------------------------------------------------------------------------------------

_INT_TEXT = r"^-?\d{1,18}$"
_NUMBER_TEXT = r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$"


def _is_object_text(col: str) -> pl.Expr:
    return pl.col(col).str.starts_with("{") | pl.col(col).str.starts_with("[")


def _first_violation(rules: list[tuple[pl.Expr, Reason, pl.Expr | str]]) -> tuple[pl.Expr, pl.Expr]:
    reason = pl.lit(None, dtype=pl.String)
    detail = pl.lit(None, dtype=pl.String)
    for condition, code, text in reversed(rules):
        text_expr = pl.lit(text) if isinstance(text, str) else text
        reason = pl.when(condition.fill_null(False)).then(pl.lit(code.value)).otherwise(reason)
        detail = pl.when(condition.fill_null(False)).then(text_expr).otherwise(detail)
    return reason, detail


def violation_exprs() -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(is_bad, reason, detail) expressions over a raw frame; reason and detail are null when valid.

    ``is_bad`` is a plain OR of every rule: cheap enough to run on every row, so the costlier
    first-rule-wins ``reason``/``detail`` need only run on the few rows that fail.

    The raw frame holds each top-level field and each payload field as JSON text (strings as
    themselves, numbers as their digits, objects as JSON), which is what ``polars.read_ndjson``
    gives for a ``String`` schema — that is what lets one parse of a block keep every value,
    even a wrongly typed one, so this can say exactly what is wrong with it.
    """
    rules: list[tuple[pl.Expr, Reason, pl.Expr | str]] = []
    for name in REQUIRED_FIELDS:
        rules.append((pl.col(name).is_null(), Reason.MISSING_FIELD, f"'{name}' is required"))
    for name in (*STRING_FIELDS, "timestamp"):
        rules.append((_is_object_text(name), Reason.WRONG_TYPE, f"'{name}' must be a string"))
    for name in INT_FIELDS:
        rules.append(
            (
                pl.col(name).is_not_null() & ~pl.col(name).str.contains(_INT_TEXT),
                Reason.WRONG_TYPE,
                f"'{name}' must be an integer",
            )
        )
    rules.append(
        (
            pl.col("timestamp").is_not_null() & pl.col("_ts").is_null(),
            Reason.INVALID_TIMESTAMP,
            "'timestamp' is not ISO 8601",
        )
    )
    for name in ID_FIELDS:
        col = pl.col(name)
        rules.append(
            (
                col.is_not_null()
                & (
                    (col.str.len_chars() == 0)
                    | (col.str.len_chars() > MAX_ID_CHARS)
                    | col.str.contains(r"[\x00-\x1f\x7f]")
                    | col.str.contains(r"(^|[/\\])\.\.([/\\]|$)")
                    | col.str.starts_with("/")
                    | col.str.starts_with("\\")
                ),
                Reason.INVALID_ID,
                f"'{name}' is not a safe id",
            )
        )
    rules.append(
        (
            ~pl.col("event_type").is_in(list(EVENT_TYPES)),
            Reason.UNKNOWN_EVENT_TYPE,
            pl.lit("unknown event_type ") + pl.col("event_type").str.slice(0, 60),
        )
    )
    rules.append(
        (
            pl.col("data").is_not_null() & ~pl.col("data").str.starts_with("{"),
            Reason.WRONG_TYPE,
            "'data' must be an object",
        )
    )
    for event_type, names in REQUIRED_PAYLOAD.items():
        for name in names:
            rules.append(
                (
                    (pl.col("event_type") == event_type) & pl.col(f"d.{name}").is_null(),
                    Reason.MISSING_FIELD,
                    f"'data.{name}' is required for {event_type}",
                )
            )
    for name in PAYLOAD_INT_FIELDS:
        rules.append(
            (
                pl.col(f"d.{name}").is_not_null() & ~pl.col(f"d.{name}").str.contains(_INT_TEXT),
                Reason.WRONG_TYPE,
                f"'data.{name}' must be an integer",
            )
        )
    for name in PAYLOAD_FLOAT_FIELDS:
        rules.append(
            (
                pl.col(f"d.{name}").is_not_null() & ~pl.col(f"d.{name}").str.contains(_NUMBER_TEXT),
                Reason.WRONG_TYPE,
                f"'data.{name}' must be a number",
            )
        )
    for name in PAYLOAD_BOOL_FIELDS:
        rules.append(
            (
                pl.col(f"d.{name}").is_not_null() & ~pl.col(f"d.{name}").is_in(["true", "false"]),
                Reason.WRONG_TYPE,
                f"'data.{name}' must be true or false",
            )
        )
    for name in PAYLOAD_OBJECT_FIELDS:
        rules.append(
            (
                pl.col(f"d.{name}").is_not_null() & ~pl.col(f"d.{name}").str.starts_with("{"),
                Reason.WRONG_TYPE,
                f"'data.{name}' must be an object",
            )
        )
    for name in PAYLOAD_COLUMNS:
        if name not in PAYLOAD_OBJECT_FIELDS:
            rules.append(
                (
                    _is_object_text(f"d.{name}"),
                    Reason.WRONG_TYPE,
                    f"'data.{name}' must not be an object or list",
                )
            )
    rules.append(
        (
            (pl.col("event_type") == "session_start")
            & pl.col("d.prompt_type").is_not_null()
            & ~pl.col("d.prompt_type").is_in(list(PROMPT_TYPES)),
            Reason.INVALID_PAYLOAD,
            f"'data.prompt_type' must be one of {PROMPT_TYPES}",
        )
    )
    rules.append(
        (
            (pl.col("event_type") == "session_end")
            & pl.col("d.completion_status").is_not_null()
            & ~pl.col("d.completion_status").is_in(list(COMPLETION_STATUSES)),
            Reason.INVALID_PAYLOAD,
            f"'data.completion_status' must be one of {COMPLETION_STATUSES}",
        )
    )
    rules.append(
        (
            pl.col("d.cost_usd").cast(pl.Float64, strict=False) < 0,
            Reason.INVALID_PAYLOAD,
            "'data.cost_usd' must not be negative",
        )
    )
    is_bad = pl.any_horizontal([condition.fill_null(False) for condition, _, _ in rules])
    return (is_bad, *_first_violation(rules))


# --------------------------------------------------------------------------------------------
# Pandera models
# --------------------------------------------------------------------------------------------


class RawEvent(pa.DataFrameModel):
    """A raw event line as the reader parses it: every field still JSON text.

    This is the shape at the edge of the system; its checks are the cheap structural ones
    (presence, known event type). Value-level rules live in :func:`violation_exprs`.
    """

    timestamp: str = pa.Field(nullable=False)
    attempt_id: str = pa.Field(nullable=False)
    event_type: str = pa.Field(nullable=False, isin=list(EVENT_TYPES))
    session_id: str = pa.Field(nullable=True)
    task_id: str = pa.Field(nullable=True)
    task_title: str = pa.Field(nullable=True)
    task_description: str = pa.Field(nullable=True)
    project_id: str = pa.Field(nullable=True)
    executor: str = pa.Field(nullable=True)
    executor_variant: str = pa.Field(nullable=True)
    model: str = pa.Field(nullable=True)
    branch: str = pa.Field(nullable=True)
    base_branch: str = pa.Field(nullable=True)
    commits_ahead: str = pa.Field(nullable=True, str_matches=_INT_TEXT)
    commits_behind: str = pa.Field(nullable=True, str_matches=_INT_TEXT)
    elapsed_ms: str = pa.Field(nullable=True, str_matches=_INT_TEXT)
    data: str = pa.Field(nullable=True, str_startswith="{")

    class Config:
        strict = False  # payload columns ride along


class CleanedEvent(pa.DataFrameModel):
    """A row of the cleaned events table: typed, UTC, payload flattened, one row per distinct line."""

    event_id: str = pa.Field(nullable=False, unique=True, str_length={"min_value": 20, "max_value": 20})
    timestamp: DateTime = pa.Field(nullable=False, dtype_kwargs={"time_unit": "us", "time_zone": "UTC"})
    day: pl.Date = pa.Field(nullable=False)
    attempt_id: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": MAX_ID_CHARS})
    event_type: str = pa.Field(nullable=False, isin=list(EVENT_TYPES))
    session_id: str = pa.Field(nullable=True)
    task_id: str = pa.Field(nullable=True)
    task_title: str = pa.Field(nullable=True)
    task_description: str = pa.Field(nullable=True)
    project_id: str = pa.Field(nullable=True)
    executor: str = pa.Field(nullable=True)
    executor_variant: str = pa.Field(nullable=True)
    model: str = pa.Field(nullable=True)
    branch: str = pa.Field(nullable=True)
    base_branch: str = pa.Field(nullable=True)
    commits_ahead: pl.Int64 = pa.Field(nullable=True, ge=0)
    commits_behind: pl.Int64 = pa.Field(nullable=True, ge=0)
    elapsed_ms: pl.Int64 = pa.Field(nullable=True, ge=0)
    prompt_type: str = pa.Field(nullable=True, isin=list(PROMPT_TYPES))
    prompt: str = pa.Field(nullable=True)
    followup_reason: str = pa.Field(nullable=True)
    completion_status: str = pa.Field(nullable=True, isin=list(COMPLETION_STATUSES))
    duration_ms: pl.Int64 = pa.Field(nullable=True, ge=0)
    total_tokens: pl.Int64 = pa.Field(nullable=True, ge=0)
    cost_usd: pl.Float64 = pa.Field(nullable=True, ge=0)
    outcome: str = pa.Field(nullable=True)
    error_message: str = pa.Field(nullable=True)
    error_fingerprint: str = pa.Field(nullable=True)
    error_category: str = pa.Field(nullable=True)
    stack_trace: str = pa.Field(nullable=True)
    message: str = pa.Field(nullable=True)
    reason: str = pa.Field(nullable=True)
    tool_name: str = pa.Field(nullable=True)
    tool_params: str = pa.Field(nullable=True)
    success: pl.Boolean = pa.Field(nullable=True)
    old_status: str = pa.Field(nullable=True)
    new_status: str = pa.Field(nullable=True)
    data: str = pa.Field(nullable=False)
    source_file: str = pa.Field(nullable=False)
    line_number: pl.Int64 = pa.Field(nullable=False, ge=1)

    class Config:
        strict = True
        ordered = False

    @pa.dataframe_check(error="session_end rows must carry a completion_status")
    @classmethod
    def session_end_has_status(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("event_type") != "session_end") | pl.col("completion_status").is_not_null()
        )

    @pa.dataframe_check(error="error rows must carry an error_message")
    @classmethod
    def error_has_message(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("event_type") != "error") | pl.col("error_message").is_not_null()
        )


CLEANED_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.String(),
    "timestamp": pl.Datetime("us", "UTC"),
    "day": pl.Date(),
    **{name: pl.String() for name in STRING_FIELDS},
    **{name: pl.Int64() for name in INT_FIELDS},
    **PAYLOAD_COLUMNS,
    "data": pl.String(),
    "source_file": pl.String(),
    "line_number": pl.Int64(),
}
