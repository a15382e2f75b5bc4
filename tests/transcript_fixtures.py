"""Small Claude Code and Codex CLI sessions, written from the formats' public descriptions.

Claude Code: one JSON record per line with ``type``, ``uuid``, ``parentUuid``, ``sessionId``,
``timestamp``, ``cwd``, ``gitBranch``, ``version``, ``isSidechain``, ``message`` (Anthropic API
shape, ``usage`` on assistant records), ``requestId`` and ``toolUseResult``. Codex: rollouts of
``{"timestamp", "type", "payload"}`` with ``session_meta``, ``turn_context``, ``response_item``
and ``event_msg`` (``token_count`` with ``info.last_token_usage`` / ``info.total_token_usage``).

The expected numbers below are worked out by hand from these records; tests compare exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SONNET = "claude-sonnet-4-5-20250929"
CC_A = "7f1c2d3e-0000-4000-8000-00000000000a"  # the main session: tools, errors, sidechain, API error
CC_B = "7f1c2d3e-0000-4000-8000-00000000000b"  # resumed from A: repeats A's first records
CC_C = "7f1c2d3e-0000-4000-8000-00000000000c"  # interrupted by the user; one unknown model
CWD = "/home/dev/shop"

CODEX_1 = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a51"
CODEX_2 = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a52"


def _u(in_: int, out: int, cc: int = 0, cr: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": in_,
        "output_tokens": out,
        "cache_creation_input_tokens": cc,
        "cache_read_input_tokens": cr,
        "service_tier": "standard",
    }


def _rec(
    kind: str, uuid: str, ts: str, session: str, message: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {
        "parentUuid": None,
        "isSidechain": False,
        "userType": "external",
        "cwd": CWD,
        "sessionId": session,
        "version": "1.0.120",
        "gitBranch": "feature/cart",
        "type": kind,
        "message": message,
        "uuid": uuid,
        "timestamp": ts,
        **extra,
    }


def user(uuid: str, ts: str, content: Any, session: str = CC_A, **extra: Any) -> dict[str, Any]:
    return _rec("user", uuid, ts, session, {"role": "user", "content": content}, **extra)


def assistant(
    uuid: str,
    ts: str,
    msg_id: str,
    req: str,
    content: list[dict[str, Any]],
    usage: dict[str, Any],
    session: str = CC_A,
    model: str = SONNET,
    **extra: Any,
) -> dict[str, Any]:
    message = {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    return _rec("assistant", uuid, ts, session, message, requestId=req, **extra)


def tool_use(tool_id: str, name: str, **params: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": params}


def tool_result(tool_id: str, content: str, is_error: bool = False) -> list[dict[str, Any]]:
    return [{"type": "tool_result", "tool_use_id": tool_id, "content": content, "is_error": is_error}]


def text(value: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": value}]


def session_a() -> list[dict[str, Any]]:
    d = "2026-03-02T10:"
    side = {"isSidechain": True, "agentId": "5e1f"}
    return [
        {"type": "summary", "summary": "Cart total on checkout", "leafUuid": "a-10"},
        user("a-01", d + "00:00.000Z", "Add a cart total to the checkout page"),
        # One API response in two streaming snapshots: same message id and request id.
        assistant(
            "a-02", d + "00:02.000Z", "msg_01", "req_01", text("I'll run the tests first."), _u(10, 5, 1000)
        ),
        assistant(
            "a-03",
            d + "00:03.000Z",
            "msg_01",
            "req_01",
            [tool_use("toolu_1", "Bash", command="npm test")],
            _u(10, 50, 1000),
        ),
        # A failed shell command: the tool result is an error with the exit code in its text.
        user(
            "a-04",
            d + "00:10.000Z",
            tool_result(
                "toolu_1",
                "Exit code 1\nFAIL src/cart.test.ts\n  cart total > sums items: expected 30, received 20",
                True,
            ),
            toolUseResult={"stdout": "", "stderr": "FAIL src/cart.test.ts", "interrupted": False},
        ),
        assistant(
            "a-05",
            d + "00:12.000Z",
            "msg_02",
            "req_02",
            [tool_use("toolu_2", "Read", file_path="/home/dev/shop/src/kart.ts")],
            _u(20, 30, 0, 1000),
        ),
        # A tool error that is not a shell command.
        user(
            "a-06",
            d + "00:13.000Z",
            tool_result("toolu_2", "<tool_use_error>File does not exist.</tool_use_error>", True),
        ),
        # A sub-agent (Task): its records are sidechain records of the same session.
        assistant(
            "a-07",
            d + "00:15.000Z",
            "msg_03",
            "req_03",
            [tool_use("toolu_T", "Task", description="find cart code", prompt="Find the cart code")],
            _u(4, 40, 0, 1200),
        ),
        user("a-08", d + "00:15.500Z", "Find the cart code", **side),
        assistant(
            "a-09",
            d + "00:16.000Z",
            "msg_S1",
            "req_S1",
            [tool_use("toolu_3", "Grep", pattern="cart")],
            _u(7, 9),
            **side,
        ),
        user("a-10", d + "00:17.000Z", tool_result("toolu_3", "src/cart.ts"), **side),
        # The sidechain's response written again (a replay): same message and request id, new uuid.
        assistant(
            "a-11",
            d + "00:17.200Z",
            "msg_S1",
            "req_S1",
            [tool_use("toolu_3", "Grep", pattern="cart")],
            _u(7, 9),
            **side,
        ),
        assistant(
            "a-12", d + "00:18.000Z", "msg_S2", "req_S2", text("It is in src/cart.ts"), _u(3, 20), **side
        ),
        user("a-13", d + "00:19.000Z", tool_result("toolu_T", "It is in src/cart.ts")),
        assistant(
            "a-14",
            d + "00:25.000Z",
            "msg_04",
            "req_04",
            text("Done: the total is shown."),
            _u(5, 100, 0, 1500),
        ),
        {"type": "file-history-snapshot", "messageId": "m", "snapshot": {}, "isSnapshotUpdate": False},
        {"type": "future-record-kind", "timestamp": d + "00:26.000Z", "sessionId": CC_A},
        # A follow-up prompt that ends with an API error (rate limit).
        user("a-15", d + "05:00.000Z", [{"type": "text", "text": "Also handle discount codes"}]),
        assistant(
            "a-16",
            d + "05:02.000Z",
            "msg_err",
            "req_err",
            text(
                'API Error: 429 {"type":"error","error":{"type":"rate_limit_error","message":"Number of '
                'request tokens has exceeded your per-minute rate limit"}}'
            ),
            _u(0, 0),
            model="<synthetic>",
            isApiErrorMessage=True,
        ),
    ]


# Session A by hand. Requests: msg_01 (10, 50, 1000, 0) [the larger snapshot], msg_02 (20, 30, 0, 1000),
# msg_03 (4, 40, 0, 1200), msg_S1 (7, 9, 0, 0) [once], msg_S2 (3, 20, 0, 0), msg_04 (5, 100, 0, 1500).
A_REQUESTS = [
    (10, 50, 1000, 0),
    (20, 30, 0, 1000),
    (4, 40, 0, 1200),
    (7, 9, 0, 0),
    (3, 20, 0, 0),
    (5, 100, 0, 1500),
]
A_TOKENS = 49 + 249 + 1000 + 3700  # input + output + cache write + cache read = 4998
A_EVENTS = {
    "session_start": 1,
    "tool_call": 4,
    "tool_result": 4,
    "error": 3,
    "followup_sent": 1,
    "status_change": 1,  # the rate-limit error ends the turn: awaiting_input
    "session_end": 1,
}


def session_b() -> list[dict[str, Any]]:
    """Resumed from A: the new file starts with copies of A's first records (same uuid and ids)."""
    d = "2026-03-02T11:"
    copies = [dict(r, sessionId=CC_B) for r in session_a()[1:4]]
    return [
        *copies,
        user("b-01", d + "00:00.000Z", "Continue with the discount codes", session=CC_B),
        # An old client's record that carries its own cost: it wins over the price table.
        assistant(
            "b-02",
            d + "00:05.000Z",
            "msg_10",
            "req_10",
            text("Discount codes work now."),
            _u(50, 60, 0, 2000),
            session=CC_B,
            costUSD=0.0123,
        ),
    ]


B_TOKENS = 50 + 60 + 2000
B_COST = 0.0123


def session_c() -> list[dict[str, Any]]:
    """Interrupted by the user while a command runs; one response from a model no table knows."""
    d = "2026-03-02T12:"
    return [
        user("c-01", d + "00:00.000Z", "Run the load test", session=CC_C),
        assistant(
            "c-02",
            d + "00:01.000Z",
            "msg_20",
            "req_20",
            [tool_use("toolu_9", "Bash", command="k6 run load.js")],
            _u(100, 100),
            session=CC_C,
            model="claude-future-9",
        ),
        user(
            "c-03",
            d + "00:30.000Z",
            tool_result("toolu_9", "[Request interrupted by user for tool use]", True),
            session=CC_C,
        ),
        user("c-04", d + "00:30.100Z", text("[Request interrupted by user for tool use]"), session=CC_C),
    ]


def write_jsonl(path: Path, records: list[dict[str, Any]], extra_lines: list[bytes] = ()) -> Path:  # type: ignore[assignment]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        for record in records:
            handle.write(json.dumps(record).encode() + b"\n")
        for line in extra_lines:
            handle.write(line)
    return path


def write_claude_projects(root: Path) -> Path:
    """``root/projects/-home-dev-shop/<session>.jsonl`` for A (plus two bad lines), B and C."""
    project = root / "projects" / "-home-dev-shop"
    write_jsonl(
        project / f"{CC_A}.jsonl", session_a(), [b'{"type": "user", "sessionId": \n', b"\xff\xfe not utf-8\n"]
    )
    write_jsonl(project / f"{CC_B}.jsonl", session_b())
    write_jsonl(project / f"{CC_C}.jsonl", session_c())
    return root / "projects"


# --------------------------------------------------------------------------------------------
# Codex
# --------------------------------------------------------------------------------------------


def _c(ts: str, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": ts, "type": kind, "payload": payload}


def _tokens(total: tuple[int, int, int, int] | None, last: tuple[int, int, int, int] | None = None) -> dict:
    def usage(v: tuple[int, int, int, int]) -> dict[str, int]:
        return {
            "input_tokens": v[0],
            "cached_input_tokens": v[1],
            "output_tokens": v[2],
            "reasoning_output_tokens": v[3],
            "total_tokens": v[0] + v[2],
        }

    info = (
        None
        if total is None
        else {
            "total_token_usage": usage(total),
            "last_token_usage": usage(last or total),
            "model_context_window": 272000,
        }
    )
    return {"type": "token_count", "info": info, "rate_limits": {"primary": {"used_percent": 7.0}}}


def codex_one() -> list[dict[str, Any]]:
    d = "2026-03-03T09:"
    shell = lambda cmd: json.dumps({"command": ["bash", "-lc", cmd], "workdir": "/home/dev/api"})  # noqa: E731
    return [
        _c(
            d + "00:00.000Z",
            "session_meta",
            {
                "id": CODEX_1,
                "timestamp": d + "00:00.000Z",
                "cwd": "/home/dev/api",
                "originator": "codex_cli_rs",
                "cli_version": "0.39.0",
                "instructions": None,
                "git": {"commit_hash": "abc123", "branch": "fix/login", "repository_url": "git@x:y/api.git"},
            },
        ),
        _c(
            d + "00:00.100Z",
            "turn_context",
            {
                "cwd": "/home/dev/api",
                "approval_policy": "on-request",
                "model": "gpt-5-codex",
                "effort": "medium",
                "summary": "auto",
            },
        ),
        _c(
            d + "00:01.000Z",
            "response_item",
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "<environment_context>...</environment_context>"}],
            },
        ),
        _c(
            d + "00:01.000Z",
            "event_msg",
            {"type": "user_message", "message": "Fix the failing login test", "images": []},
        ),
        _c(d + "00:01.500Z", "event_msg", _tokens(None)),  # null info before the first response
        _c(d + "00:03.000Z", "response_item", {"type": "reasoning", "summary": [], "encrypted_content": "x"}),
        _c(
            d + "00:04.000Z",
            "response_item",
            {
                "type": "function_call",
                "name": "shell",
                "arguments": shell("pytest tests/test_login.py"),
                "call_id": "call_1",
            },
        ),
        _c(
            d + "00:06.000Z",
            "response_item",
            {
                "type": "function_call_output",
                "call_id": "call_1",
                "output": json.dumps(
                    {
                        "output": "FAILED tests/test_login.py::test_login - AssertionError: 401 != 200\n"
                        "1 failed in 0.42s",
                        "metadata": {"exit_code": 1, "duration_seconds": 1.2},
                    }
                ),
            },
        ),
        _c(d + "00:06.100Z", "event_msg", _tokens((1000, 200, 100, 40))),
        _c(d + "00:06.100Z", "event_msg", _tokens((1000, 200, 100, 40))),  # the same record again
        _c(
            d + "00:08.000Z",
            "response_item",
            {
                "type": "custom_tool_call",
                "name": "apply_patch",
                "status": "completed",
                "input": "*** Begin Patch\n*** Update File: app/login.py\n*** End Patch",
                "call_id": "call_2",
            },
        ),
        _c(
            d + "00:08.500Z",
            "response_item",
            {
                "type": "custom_tool_call_output",
                "call_id": "call_2",
                "output": json.dumps(
                    {
                        "output": "Success. Updated the following files:\nM app/login.py",
                        "metadata": {"exit_code": 0, "duration_seconds": 0.0},
                    }
                ),
            },
        ),
        _c(d + "00:10.000Z", "event_msg", _tokens((2500, 1200, 250, 80), (1500, 1000, 150, 40))),
        _c(d + "00:10.500Z", "event_msg", {"type": "agent_message", "message": "Fixed the login test."}),
        _c(
            d + "00:10.500Z",
            "response_item",
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Fixed the login test."}],
            },
        ),
        _c(
            d + "00:10.600Z",
            "event_msg",
            {"type": "task_complete", "last_agent_message": "Fixed the login test."},
        ),
        _c(d + "02:00.000Z", "event_msg", {"type": "user_message", "message": "Now run the whole suite"}),
        _c(d + "02:01.000Z", "event_msg", {"type": "future_event_kind", "x": 1}),
        _c(d + "02:02.000Z", "telemetry", {"x": 1}),
        _c(
            d + "02:03.000Z",
            "event_msg",
            {
                "type": "stream_error",
                "message": "stream disconnected before "
                "completion: error sending request; retrying 1/5 in 200ms",
            },
        ),
        _c(
            d + "02:05.000Z",
            "event_msg",
            {
                "type": "error",
                "message": "You've hit your usage limit. Upgrade to Pro or try again in 3 hours 12 minutes.",
            },
        ),
        _c(d + "02:05.100Z", "event_msg", _tokens(None)),
    ]


# Deltas: (1000 in incl. 200 cached, 100 out) and (1500 in incl. 1000 cached, 150 out).
CODEX_1_USAGE = (1300, 250, 0, 1200)  # uncached input, output, cache write, cache read
CODEX_1_TOKENS = 2750
CODEX_1_EVENTS = {
    "session_start": 1,
    "tool_call": 2,
    "tool_result": 2,
    "error": 3,
    "followup_sent": 1,
    "status_change": 2,  # awaiting_input after task_complete and after the usage-limit error
    "session_end": 1,
}


def codex_two() -> list[dict[str, Any]]:
    """Aborted by the user, on a model no price table knows."""
    d = "2026-03-03T10:"
    return [
        _c(
            d + "00:00.000Z", "session_meta", {"id": CODEX_2, "cwd": "/home/dev/api", "cli_version": "0.40.0"}
        ),
        _c(d + "00:00.100Z", "turn_context", {"model": "gpt-9-mystery", "cwd": "/home/dev/api"}),
        _c(d + "00:01.000Z", "event_msg", {"type": "user_message", "message": "Refactor the router"}),
        _c(
            d + "00:02.000Z",
            "response_item",
            {
                "type": "local_shell_call",
                "call_id": "call_9",
                "status": "in_progress",
                "action": {"type": "exec", "command": ["rg", "router"]},
            },
        ),
        _c(d + "00:03.000Z", "event_msg", _tokens((400, 0, 30, 0))),
        _c(d + "00:09.000Z", "event_msg", {"type": "turn_aborted", "reason": "interrupted"}),
    ]


def write_codex_home(root: Path) -> Path:
    day = root / "sessions" / "2026" / "03" / "03"
    write_jsonl(day / f"rollout-2026-03-03T09-00-00-{CODEX_1}.jsonl", codex_one())
    write_jsonl(day / f"rollout-2026-03-03T10-00-00-{CODEX_2}.jsonl", codex_two(), [b"not json at all\n"])
    return root
