"""Transcript shapes beyond the everyday ones, written from the tools' public formats.

* Claude Code lines without ``type``: ccusage's own test fixtures for ``loadDailyUsageData`` /
  ``loadSessionData`` (``apps/ccusage/src/data-loader.ts``, ryoppippi/ccusage) write
  ``{"timestamp", "message": {"usage": {...}, "model", "id"}, "requestId", "costUSD"}``.
* A Codex rollout without ``session_meta``: ccusage's fixture ``sessions/project-1.jsonl`` in
  ``apps/codex/src/data-loader.ts`` (a ``turn_context``, a ``token_count`` with last and total
  usage, then one with the total only), and one named ``rollout-<time>-<id>.jsonl``.
* A legacy ("bare") Codex rollout (2025, no date folders): ``{"id", "timestamp", "instructions",
  "git"}``, ``{"record_type": "state"}``, bare ``message`` / ``function_call`` items (openai/codex's
  rollout recorder of that time, as its public readers describe it).
* Today's Codex items: ``web_search_call`` (``{"type", "id", "status", "action": {"type":
  "search", "query"}}``), ``local_shell_call``, ``custom_tool_call``, a ``compacted`` record
  (``{"message", "replacement_history"}``) and a sub-agent thread whose ``session_meta.payload.source``
  is ``{"subagent": {"thread_spawn": {"parent_thread_id", "depth"}}}`` (codex-rs protocol).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transcript_fixtures import _c, _tokens, write_jsonl

SONNET4 = "claude-sonnet-4-20250514"
CC_OLD = "5b0f7a9e-1111-4222-8333-444455556666"
CX_NO_META = "0199c0de-0000-7000-8000-000000000001"
CX_LEGACY = "c3c4b301-27c8-4c70-b6e4-46b99fdf0236"
CX_ITEMS = "0199c0de-0000-7000-8000-000000000003"
CX_SUB = "0199c0de-0000-7000-8000-000000000004"


def claude_untyped() -> list[dict[str, Any]]:
    """An older client's file: usage lines without ``type`` (two snapshots of one request, one
    request without ids), then a typed prompt and a typed answer with a tool call."""
    return [
        {
            "timestamp": "2025-06-01T10:00:00.000Z",
            "message": {"usage": {"input_tokens": 100, "output_tokens": 50}, "model": SONNET4, "id": "msg_a"},
            "requestId": "req_a",
        },
        {  # the same request's fuller snapshot: counted once, the larger one (ccusage keeps the max)
            "timestamp": "2025-06-01T10:00:01.000Z",
            "message": {"usage": {"input_tokens": 100, "output_tokens": 80}, "model": SONNET4, "id": "msg_a"},
            "requestId": "req_a",
        },
        {  # no message id: cannot be deduplicated, counted as it is
            "timestamp": "2025-06-01T10:00:05.000Z",
            "message": {
                "usage": {
                    "input_tokens": 10,
                    "output_tokens": 20,
                    "cache_creation_input_tokens": 300,
                    "cache_read_input_tokens": 400,
                },
                "model": SONNET4,
            },
        },
        {
            "type": "user",
            "uuid": "u-1",
            "sessionId": CC_OLD,
            "timestamp": "2025-06-01T10:01:00.000Z",
            "cwd": "/home/dev/old",
            "message": {"role": "user", "content": "Rename the config loader"},
        },
        {  # role but no type: an assistant record all the same
            "uuid": "u-2",
            "sessionId": CC_OLD,
            "timestamp": "2025-06-01T10:01:03.000Z",
            "message": {
                "id": "msg_b",
                "role": "assistant",
                "model": SONNET4,
                "content": [
                    {"type": "tool_use", "id": "toolu_old", "name": "Edit", "input": {"file_path": "a.py"}},
                ],
                "usage": {"input_tokens": 7, "output_tokens": 9, "cache_read_input_tokens": 1000},
            },
            "requestId": "req_b",
        },
        {
            "uuid": "u-3",
            "sessionId": CC_OLD,
            "timestamp": "2025-06-01T10:01:04.000Z",
            "message": {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_old", "content": "ok"}],
            },
        },
        {
            "uuid": "u-4",
            "sessionId": CC_OLD,
            "timestamp": "2025-06-01T10:01:06.000Z",
            "message": {
                "id": "msg_c",
                "role": "assistant",
                "model": SONNET4,
                "content": [{"type": "text", "text": "Renamed."}],
                "usage": {"input_tokens": 5, "output_tokens": 6},
            },
            "requestId": "req_c",
        },
    ]


def codex_project_one() -> list[dict[str, Any]]:
    """ccusage's ``project-1.jsonl`` fixture: no ``session_meta``, named after nothing but itself."""
    return [
        _c("2025-09-11T18:25:30.000Z", "turn_context", {"model": "gpt-5"}),
        _c("2025-09-11T18:25:40.670Z", "event_msg", _tokens((1200, 200, 500, 0))),
        _c("2025-09-11T18:40:00.000Z", "turn_context", {"model": "gpt-5"}),
        _c(
            "2025-09-12T00:00:00.000Z",
            "event_msg",
            {
                "type": "token_count",
                "info": {
                    "total_token_usage": {
                        "input_tokens": 2000,
                        "cached_input_tokens": 300,
                        "output_tokens": 800,
                        "reasoning_output_tokens": 0,
                        "total_tokens": 2800,
                    }
                },
            },
        ),
    ]


def codex_no_meta() -> list[dict[str, Any]]:
    d = "2025-09-20T10:00:"
    return [
        _c(d + "00.000Z", "turn_context", {"model": "gpt-5-codex", "cwd": "/home/dev/cli"}),
        _c(d + "01.000Z", "event_msg", {"type": "user_message", "message": "List the open TODOs"}),
        _c(d + "05.000Z", "event_msg", _tokens((900, 0, 60, 0))),
        _c(d + "06.000Z", "event_msg", {"type": "agent_message", "message": "There are 3."}),
    ]


def codex_legacy() -> list[dict[str, Any]]:
    shell = json.dumps({"command": ["bash", "-lc", "ls"], "workdir": "/home/dev/legacy"})
    return [
        {
            "id": CX_LEGACY,
            "timestamp": "2025-08-18T01:16:13.522Z",
            "instructions": None,
            "git": {"commit_hash": "abc123", "branch": "main"},
        },
        {"record_type": "state"},
        {
            "type": "message",
            "id": None,
            "role": "user",
            "content": [
                {"type": "input_text", "text": "<environment_context>\n  <cwd>/home/dev/legacy</cwd>"}
            ],
        },
        {
            "type": "message",
            "id": None,
            "role": "user",
            "content": [{"type": "input_text", "text": "What is here?"}],
        },
        {"record_type": "state"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "x"},
        {"type": "function_call", "id": "fc_1", "name": "shell", "arguments": shell, "call_id": "call_L1"},
        {
            "type": "function_call_output",
            "call_id": "call_L1",
            "output": json.dumps({"output": "README.md\nsrc\n", "metadata": {"exit_code": 0}}),
        },
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Two."}],
        },
    ]


def codex_items() -> list[dict[str, Any]]:
    """Every kind of call today's Codex writes, and a compaction in the middle."""
    d = "2026-01-10T08:00:"
    meta = {"id": CX_ITEMS, "cwd": "/home/dev/web", "cli_version": "0.60.0", "source": "cli"}
    return [
        _c(d + "00.000Z", "session_meta", meta),
        _c(d + "00.100Z", "turn_context", {"model": "gpt-5-codex", "cwd": "/home/dev/web"}),
        _c(d + "01.000Z", "event_msg", {"type": "user_message", "message": "Find the latest release notes"}),
        _c(
            d + "02.000Z",
            "response_item",
            {
                "type": "web_search_call",
                "id": "ws_1",
                "status": "completed",
                "action": {"type": "search", "query": "release notes"},
            },
        ),
        _c(
            d + "03.000Z",
            "response_item",
            {
                "type": "web_search_call",
                "status": "completed",
                "action": {"type": "search", "query": "changelog"},
            },
        ),
        _c(
            d + "04.000Z",
            "response_item",
            {
                "type": "local_shell_call",
                "call_id": "call_ls",
                "status": "completed",
                "action": {"type": "exec", "command": ["cat", "CHANGELOG.md"]},
            },
        ),
        _c(
            d + "05.000Z",
            "response_item",
            {"type": "function_call_output", "call_id": "call_ls", "output": "v2.1"},
        ),
        _c(d + "06.000Z", "event_msg", _tokens((5000, 1000, 300, 100))),
        _c(d + "07.000Z", "compacted", {"message": "Summary of the work so far", "replacement_history": []}),
        _c(d + "07.500Z", "event_msg", {"type": "context_compacted"}),
        _c(
            d + "08.000Z",
            "response_item",
            {
                "type": "custom_tool_call",
                "call_id": "call_p",
                "name": "apply_patch",
                "input": "*** Begin Patch",
            },
        ),
        _c(
            d + "09.000Z",
            "response_item",
            {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Done"},
        ),
        _c(d + "10.000Z", "event_msg", _tokens((6200, 1500, 380, 120), (1200, 500, 80, 20))),
        _c(d + "11.000Z", "event_msg", {"type": "agent_message", "message": "v2.1 is the latest."}),
        _c(d + "11.100Z", "event_msg", {"type": "task_complete"}),
    ]


def codex_subagent() -> list[dict[str, Any]]:
    d = "2026-01-10T08:00:"
    meta = {
        "id": CX_SUB,
        "cwd": "/home/dev/web",
        "cli_version": "0.60.0",
        "source": {"subagent": {"thread_spawn": {"parent_thread_id": CX_ITEMS, "depth": 1}}},
    }
    return [
        _c(d + "02.500Z", "session_meta", meta),
        _c(d + "02.600Z", "turn_context", {"model": "gpt-5-codex"}),
        _c(d + "02.700Z", "event_msg", {"type": "user_message", "message": "Read CHANGELOG.md"}),
        _c(
            d + "02.800Z",
            "response_item",
            {"type": "function_call", "name": "shell", "arguments": "{}", "call_id": "call_sub"},
        ),
        _c(
            d + "02.900Z",
            "response_item",
            {"type": "function_call_output", "call_id": "call_sub", "output": "ok"},
        ),
        _c(d + "03.000Z", "event_msg", _tokens((400, 0, 20, 0))),
        _c(d + "03.100Z", "event_msg", {"type": "task_complete"}),
    ]


def write_codex_shapes(home: Path) -> Path:
    """``home/sessions``: one rollout of each shape (the legacy one at the top, as they were)."""
    sessions = home / "sessions"
    write_jsonl(sessions / "project-1.jsonl", codex_project_one())
    write_jsonl(
        sessions / "2025" / "09" / "20" / f"rollout-2025-09-20T10-00-00-{CX_NO_META}.jsonl", codex_no_meta()
    )
    write_jsonl(sessions / f"rollout-2025-08-18T01-16-13-{CX_LEGACY}.jsonl", codex_legacy())
    day = sessions / "2026" / "01" / "10"
    write_jsonl(day / f"rollout-2026-01-10T08-00-00-{CX_ITEMS}.jsonl", codex_items())
    write_jsonl(day / f"rollout-2026-01-10T08-00-02-{CX_SUB}.jsonl", codex_subagent())
    return sessions


def write_claude_untyped(root: Path) -> Path:
    write_jsonl(root / "projects" / "-home-dev-old" / f"{CC_OLD}.jsonl", claude_untyped())
    return root / "projects"
