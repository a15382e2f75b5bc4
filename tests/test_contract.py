"""The contract: valid and invalid examples per event type, and Python and polars agreeing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandera.errors
import polars as pl
import pytest

from agent_pipelines.core.contract import (
    EVENT_TYPES,
    CleanedEvent,
    ContractError,
    Reason,
    check_event,
    format_timestamp,
    id_problem,
    parse_timestamp,
)
from agent_pipelines.core.reader import check_line, read_bytes

BASE = {"timestamp": "2026-02-09T14:23:45.123Z", "attempt_id": "ve-a1b2-implement-auth", "task_id": "task-1"}

VALID: dict[str, dict] = {
    "session_start": {"prompt_type": "initial", "prompt": "Implement auth"},
    "session_end": {"completion_status": "success", "duration_ms": 1000, "total_tokens": 12, "cost_usd": 0.05,
                    "outcome": {"pr_created": True}},
    "followup_sent": {"message": "tests fail", "reason": "tests_failing"},
    "error": {"error_message": "fatal: not a git repository", "error_fingerprint": "git_not_repo",
              "error_category": "git"},
    "tool_call": {"tool_name": "Bash", "tool_params": {"command": "ls"}},
    "tool_result": {"tool_name": "Bash", "success": True, "duration_ms": 12, "exit_code": 0},
    "status_change": {"old_status": "todo", "new_status": "inprogress", "reason": "started"},
    "agent_output": {"output": "Running tests...", "stream_type": "stdout"},
    "agent_thinking": {"thinking": "The import fails because the path is relative."},
}  # fmt: skip

INVALID: list[tuple[str, dict, Reason]] = [
    ("session_start", {"prompt_type": "sometimes"}, Reason.INVALID_PAYLOAD),
    ("session_end", {}, Reason.MISSING_FIELD),
    ("session_end", {"completion_status": "done"}, Reason.INVALID_PAYLOAD),
    ("session_end", {"completion_status": "success", "cost_usd": "cheap"}, Reason.WRONG_TYPE),
    ("session_end", {"completion_status": "success", "cost_usd": -1.0}, Reason.INVALID_PAYLOAD),
    ("session_end", {"completion_status": "success", "duration_ms": 1.5}, Reason.WRONG_TYPE),
    ("session_end", {"completion_status": "success", "outcome": "fine"}, Reason.WRONG_TYPE),
    ("followup_sent", {"message": {"nested": True}}, Reason.WRONG_TYPE),
    ("error", {"error_fingerprint": "x"}, Reason.MISSING_FIELD),
    ("tool_call", {"tool_params": {}}, Reason.MISSING_FIELD),
    ("tool_result", {"tool_name": "Bash", "success": "yes"}, Reason.WRONG_TYPE),
    ("status_change", {"old_status": "todo"}, Reason.MISSING_FIELD),
]


def line(event_type: str, data: dict, **top: object) -> bytes:
    return json.dumps({**BASE, "event_type": event_type, "data": data, **top}).encode()


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_valid_example_per_event_type_passes_both_checks(event_type: str) -> None:
    raw = line(event_type, VALID[event_type])
    check_event(json.loads(raw))
    result = read_bytes(raw + b"\n")
    assert result.quarantine.height == 0
    assert result.events.height == 1
    row = result.events.row(0, named=True)
    assert row["event_type"] == event_type
    assert row["timestamp"] == datetime(2026, 2, 9, 14, 23, 45, 123000, tzinfo=UTC)


@pytest.mark.parametrize(("event_type", "data", "reason"), INVALID)
def test_invalid_payloads_are_refused_with_the_same_reason_in_python_and_polars(
    event_type: str, data: dict, reason: Reason
) -> None:
    raw = line(event_type, data)
    with pytest.raises(ContractError) as info:
        check_event(json.loads(raw))
    assert info.value.reason == reason
    result = read_bytes(raw + b"\n")
    assert result.events.height == 0
    assert result.quarantine["reason"].to_list() == [reason.value]


def test_python_and_polars_name_the_same_field_first() -> None:
    """Both checks run one rule table in one order: with two nested payload values the Python check
    used to name the first in the line's key order, the reader the first in column order."""
    raw = line("session_start", {"old_status": [1], "reason": {}})
    with pytest.raises(ContractError) as info:
        check_event(json.loads(raw))
    quarantined = read_bytes(raw + b"\n").quarantine.row(0, named=True)
    assert (quarantined["reason"], quarantined["detail"]) == (info.value.reason.value, info.value.detail)
    assert info.value.detail == "'data.reason' must not be an object or list"


TOP_LEVEL_BAD: list[tuple[bytes, Reason]] = [
    (b'{"timestamp": "2026-02-09T14:23:45Z", "event_type": "error", "data": {"error_message": "x"}}',
     Reason.MISSING_FIELD),
    (line("tool_call", {"tool_name": "x"}, timestamp="yesterday"), Reason.INVALID_TIMESTAMP),
    (line("tool_call", {"tool_name": "x"}, timestamp="2026-02-30T00:00:00Z"), Reason.INVALID_TIMESTAMP),
    # a leap second: Python refuses it; polars used to read it as the next minute
    (line("tool_call", {"tool_name": "x"}, timestamp="2026-02-09T23:59:60.000Z"), Reason.INVALID_TIMESTAMP),
    (line("tool_call", {"tool_name": "x"}, timestamp="2026-02-09T23:59:60+01:00"), Reason.INVALID_TIMESTAMP),
    (line("tool_call", {"tool_name": "x"}, timestamp="2026-02-09 23:59:60"), Reason.INVALID_TIMESTAMP),
    (line("tool_call", {"tool_name": "x"}, elapsed_ms="twelve"), Reason.WRONG_TYPE),
    (line("tool_call", {"tool_name": "x"}, elapsed_ms=True), Reason.WRONG_TYPE),
    (line("tool_call", {"tool_name": "x"}, commits_ahead=1.5), Reason.WRONG_TYPE),
    (line("tool_call", {"tool_name": "x"}, executor={"name": "CODEX"}), Reason.WRONG_TYPE),
    (line("tool_call", {"tool_name": "x"}, attempt_id="../../etc"), Reason.INVALID_ID),
    (line("tool_call", {"tool_name": "x"}, attempt_id="/abs/path"), Reason.INVALID_ID),
    (line("tool_call", {"tool_name": "x"}, attempt_id="a\u0000b"), Reason.INVALID_ID),
    (line("tool_call", {"tool_name": "x"}, task_id="x" * 300), Reason.INVALID_ID),
    (line("heartbeat", {}), Reason.UNKNOWN_EVENT_TYPE),
    (json.dumps({**BASE, "event_type": "tool_call", "data": ["not", "an", "object"]}).encode(),
     Reason.WRONG_TYPE),
    (b"[1, 2, 3]", Reason.NOT_AN_OBJECT),
    (b'"just a string"', Reason.NOT_AN_OBJECT),
    (b'{"timestamp": "2026-02-09T14:23:45Z", "attempt_id": "x", "event_ty', Reason.MALFORMED_JSON),
    (b'{"timestamp": "2026-02-09T14:23:45Z", "attempt_id": "caf\xe9"}', Reason.INVALID_UTF8),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "reason"), TOP_LEVEL_BAD)
def test_top_level_problems_agree_between_check_line_and_the_reader(raw: bytes, reason: Reason) -> None:
    problem = check_line(raw)
    assert problem is not None and problem[0] == reason
    result = read_bytes(raw + b"\n")
    assert result.quarantine["reason"].to_list() == [reason.value]
    assert result.events.height == 0


def test_unknown_fields_are_kept() -> None:
    data = {"tool_name": "Bash", "success": True, "stdout_bytes": 1234}
    raw = json.dumps({**BASE, "event_type": "tool_result", "pr_number": 42, "data": data}).encode()
    events = read_bytes(raw + b"\n").events
    data = json.loads(events["data"][0])
    assert data["stdout_bytes"] == 1234
    assert data["_extra"]["pr_number"] == "42"


def test_ids_with_slashes_are_valid_but_traversal_is_not() -> None:
    assert id_problem("ve/a1b2-task") is None
    assert id_problem("team:alpha@run-7") is None
    assert id_problem("../../x") is not None
    assert id_problem("a/../b") is not None
    assert id_problem("..hidden") is None  # only a whole '..' segment escapes


def test_timestamps_round_trip_in_the_seed_format() -> None:
    moment = parse_timestamp("2026-02-09T16:23:45.123+02:00")
    assert format_timestamp(moment) == "2026-02-09T14:23:45.123Z"
    assert parse_timestamp("2026-02-09 14:23:45").tzinfo is not None
    with pytest.raises(ValueError):
        parse_timestamp("2026-02-09")


def test_cleaned_event_model_accepts_reader_output_and_rejects_corruption() -> None:
    raws = [line(t, VALID[t], attempt_id=f"ve-{i}") for i, t in enumerate(EVENT_TYPES)]
    events = read_bytes(b"\n".join(raws) + b"\n").events
    CleanedEvent.validate(events, lazy=True)
    corrupted = events.with_columns(
        cost_usd=pl.when(pl.col("event_type") == "session_end").then(-5.0).otherwise(pl.col("cost_usd")),
        completion_status=pl.when(pl.col("event_type") == "session_end").then(pl.lit("done")).otherwise(None),
    )
    with pytest.raises(pandera.errors.SchemaErrors) as info:
        CleanedEvent.validate(corrupted, lazy=True)
    failed_columns = set(info.value.failure_cases["column"].to_list())
    assert {"cost_usd", "completion_status"} <= failed_columns


def test_the_original_loggers_output_and_thinking_are_read_with_their_text_redacted() -> None:
    """``Write-AgentWorkLog`` accepts ``agent_output`` and ``agent_thinking`` (its ValidateSet): they
    were quarantined as unknown event types. Their text stays in ``data``, redacted like all text."""
    from agent_pipelines.analytics.replay.timeline import build_timeline

    key = "sk-ant-api03-" + "Xk3pQ9zR7wLm2Vb8nT4eUo0aWiK9" * 3
    raws = [
        line("agent_output", {"output": f"export ANTHROPIC_API_KEY={key}", "stream_type": "stderr"}),
        line("agent_thinking", {"thinking": "The tests need the key; do not print it."}),
    ]
    result = read_bytes(b"\n".join(raws) + b"\n")
    assert result.quarantine.height == 0
    assert result.events["event_type"].to_list() == ["agent_output", "agent_thinking"]
    data = result.events["data"].to_list()
    assert key[:20] not in data[0] and "stderr" in data[0]
    steps = build_timeline(BASE["attempt_id"], result.events).steps
    assert [(s.kind, s.title) for s in steps] == [("output", "output (stderr)"), ("thinking", "thinking")]
    assert "ANTHROPIC_API_KEY" in steps[0].detail and key[:20] not in steps[0].detail
    assert "relative" not in steps[0].detail and "do not print it" in steps[1].detail
