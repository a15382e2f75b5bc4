"""Small sessions of Gemini CLI, GitHub Copilot CLI, OpenCode, SWE-agent and mini-swe-agent,
written from their public formats (the importer modules' docstrings name the sources):

* Gemini CLI: ``ConversationRecord`` of ``packages/core/src/services/chatRecordingService.ts``
  (google-gemini/gemini-cli): ``{"sessionId", "projectHash", "startTime", "lastUpdated",
  "messages": [{"id", "timestamp", "type", "content", "model", "tokens", "toolCalls"}]}``.
* Copilot CLI: session events of github/copilot-sdk's ``session-events.schema.json``
  (``session.start``, ``user.message``, ``tool.execution_start`` / ``_complete``,
  ``assistant.turn_end``, ``session.shutdown`` with ``modelMetrics``).
* OpenCode: ``storage/session|message|part`` JSON files of sst/opencode, as ccusage's OpenCode
  loader reads them (``apps/opencode/src/data-loader.ts``).
* SWE-agent: ``.traj`` of ``sweagent/agent/agents.py`` (``trajectory``, ``history``, ``info``,
  ``replay_config``); mini-swe-agent: ``.traj.json`` (``info``, ``messages``), its own example
  ``eval/example_trajectories/*.traj.json`` (SWE-agent/mini-swe-agent); SWE-bench's evaluation
  report (``resolved_ids`` / ``unresolved_ids``).

Every expected number below is worked out by hand from these records.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

GEM = "4f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
COP = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
T0 = 1_760_000_000_000  # 2025-10-09T08:53:20Z, epoch ms (OpenCode's clock)


def _write(path: Path, value: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2))
    return path


# -- Gemini CLI ---------------------------------------------------------------------------------


def gemini_doc(extra_output: int = 0, more: bool = False) -> dict[str, Any]:
    d = "2025-09-20T10:"
    messages: list[dict[str, Any]] = [
        {"id": "m1", "timestamp": d + "00:00.000Z", "type": "user", "content": "Add a health endpoint"},
        {
            "id": "m2",
            "timestamp": d + "00:05.000Z",
            "type": "gemini",
            "content": "",
            "model": "gemini-2.5-pro",
            "tokens": {"input": 1000, "output": 50, "cached": 400, "thoughts": 30, "tool": 0, "total": 1080},
            "toolCalls": [
                {
                    "id": "run_shell_command-1",
                    "name": "run_shell_command",
                    "args": {"command": "npm test"},
                    "status": "error",
                    "timestamp": d + "00:06.000Z",
                    "resultDisplay": "Command exited with code 1: 2 tests failed",
                },
                {
                    "id": "write_file-2",
                    "name": "write_file",
                    "args": {"file_path": "src/health.ts", "content": "export const ok = true"},
                    "status": "success",
                    "timestamp": d + "00:08.000Z",
                },
            ],
        },
        {
            "id": "m3",
            "timestamp": d + "00:10.000Z",
            "type": "gemini",
            "content": "Added /health.",
            "model": "gemini-2.5-pro",
            "tokens": {"input": 1500, "output": 40 + extra_output, "cached": 1000, "thoughts": 0, "tool": 0},
        },
        {"id": "m4", "timestamp": d + "01:00.000Z", "type": "user", "content": "Thanks, also add a test"},
        {
            "id": "m5",
            "timestamp": d + "01:02.000Z",
            "type": "error",
            "content": "[API Error: 429 Resource exhausted]",
        },
    ]
    if more:
        messages.append(
            {
                "id": "m6",
                "timestamp": d + "02:00.000Z",
                "type": "gemini",
                "content": "Test added.",
                "model": "gemini-2.5-pro",
                "tokens": {"input": 100, "output": 10, "cached": 0},
            }
        )
    return {
        "sessionId": GEM,
        "projectHash": "0f3a9c",
        "startTime": d + "00:00.000Z",
        "lastUpdated": messages[-1]["timestamp"],
        "messages": messages,
    }


GEMINI_USAGE = [(600, 80, 0, 400), (500, 40, 0, 1000)]  # (uncached in, out + thoughts, cache write, read)
GEMINI_TOKENS = 1080 + 1540


def write_gemini(home: Path, **kw: Any) -> Path:
    _write(
        home / ".gemini" / "tmp" / "0f3a9c" / "chats" / "session-2025-09-20T10-00-4f0c1a2b.json",
        gemini_doc(**kw),
    )
    _write(home / ".gemini" / "tmp" / "0f3a9c" / "logs.json", [{"sessionId": GEM, "message": "x"}])
    return home / ".gemini" / "tmp"


# -- GitHub Copilot CLI ---------------------------------------------------------------------------


def copilot_events() -> list[dict[str, Any]]:
    d = "2025-11-02T14:"
    rows = [
        (
            "session.start",
            {
                "sessionId": COP,
                "version": 1,
                "producer": "copilot-agent",
                "copilotVersion": "0.0.350",
                "startTime": d + "00:00.000Z",
                "context": {"cwd": "/home/dev/svc", "branch": "main"},
                "selectedModel": "claude-sonnet-4.5",
            },
        ),
        ("session.info", {"infoType": "folder_trust", "message": "trusted"}),
        ("user.message", {"content": "Why does the build fail?", "attachments": []}),
        ("assistant.turn_start", {"turnId": "0"}),
        (
            "assistant.message",
            {
                "messageId": "a1",
                "content": "",
                "toolRequests": [{"toolCallId": "tc1", "name": "bash", "arguments": {}}],
            },
        ),
        ("tool.execution_start", {"toolCallId": "tc1", "toolName": "bash", "arguments": {"command": "make"}}),
        (
            "tool.execution_complete",
            {
                "toolCallId": "tc1",
                "success": False,
                "error": {"message": "make: *** [all] Error 2", "code": "failure"},
            },
        ),
        (
            "tool.execution_start",
            {"toolCallId": "tc2", "toolName": "view", "arguments": {"path": "Makefile"}},
        ),
        (
            "tool.execution_complete",
            {"toolCallId": "tc2", "success": True, "result": {"content": "all: build"}},
        ),
        ("assistant.message", {"messageId": "a2", "content": "The `build` target is missing."}),
        ("assistant.turn_end", {"turnId": "0"}),
        (
            "session.shutdown",
            {
                "shutdownType": "routine",
                "totalPremiumRequests": 2,
                "totalApiDurationMs": 5400,
                "sessionStartTime": 1762092000000,
                "modelMetrics": {
                    "claude-sonnet-4.5": {
                        "requests": {"count": 2, "cost": 2},
                        "usage": {
                            "inputTokens": 3000,
                            "outputTokens": 200,
                            "cacheReadTokens": 1000,
                            "cacheWriteTokens": 0,
                        },
                    }
                },
                "currentModel": "claude-sonnet-4.5",
            },
        ),
    ]
    out, parent = [], None
    for i, (kind, data) in enumerate(rows):
        eid = f"e{i:02d}-0000-4000-8000-000000000000"
        out.append(
            {
                "type": kind,
                "data": data,
                "id": eid,
                "timestamp": f"{d}00:{i * 2:02d}.000Z",
                "parentId": parent,
            }
        )
        parent = eid
    return out


def write_copilot(home: Path) -> Path:
    path = home / ".copilot" / "session-state" / COP / "events.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in copilot_events()))
    return home / ".copilot" / "session-state"


# -- OpenCode ---------------------------------------------------------------------------------------


def write_opencode(base: Path) -> Path:
    storage = base / "storage"
    _write(
        storage / "session" / "proj1" / "ses_1.json",
        {
            "id": "ses_1",
            "projectID": "proj1",
            "directory": "/home/dev/app",
            "title": "Flaky test",
            "time": {"created": T0, "updated": T0 + 9000},
        },
    )
    _write(
        storage / "message" / "ses_1" / "msg_u1.json",
        {"id": "msg_u1", "sessionID": "ses_1", "role": "user", "time": {"created": T0 + 1000}},
    )
    _write(
        storage / "part" / "msg_u1" / "prt_1.json",
        {
            "id": "prt_1",
            "sessionID": "ses_1",
            "messageID": "msg_u1",
            "type": "text",
            "text": "Fix the flaky test",
        },
    )
    _write(
        storage / "message" / "ses_1" / "msg_a1.json",
        {
            "id": "msg_a1",
            "sessionID": "ses_1",
            "role": "assistant",
            "time": {"created": T0 + 2000, "completed": T0 + 9000},
            "modelID": "claude-sonnet-4-20250514",
            "providerID": "anthropic",
            "cost": 0.0123,
            "tokens": {"input": 120, "output": 300, "reasoning": 0, "cache": {"read": 5000, "write": 800}},
        },
    )
    tool = {"sessionID": "ses_1", "messageID": "msg_a1", "type": "tool"}
    _write(
        storage / "part" / "msg_a1" / "prt_2.json",
        {
            **tool,
            "id": "prt_2",
            "callID": "toolu_1",
            "tool": "bash",
            "state": {
                "status": "completed",
                "input": {"command": "pytest -x"},
                "output": "1 passed",
                "time": {"start": T0 + 3000, "end": T0 + 5000},
            },
        },
    )
    _write(
        storage / "part" / "msg_a1" / "prt_3.json",
        {
            **tool,
            "id": "prt_3",
            "callID": "toolu_2",
            "tool": "edit",
            "state": {
                "status": "error",
                "input": {"filePath": "x.py"},
                "error": "File x.py not found",
                "time": {"start": T0 + 6000, "end": T0 + 6500},
            },
        },
    )
    _write(
        storage / "part" / "msg_a1" / "prt_4.json", {**tool, "id": "prt_4", "type": "text", "text": "Fixed."}
    )
    # A sub-agent's session (parentID), its prompt and its answer.
    _write(
        storage / "session" / "proj1" / "ses_2.json",
        {"id": "ses_2", "parentID": "ses_1", "directory": "/home/dev/app", "time": {"created": T0 + 3100}},
    )
    _write(
        storage / "message" / "ses_2" / "msg_u2.json",
        {"id": "msg_u2", "sessionID": "ses_2", "role": "user", "time": {"created": T0 + 3200}},
    )
    _write(
        storage / "part" / "msg_u2" / "prt_5.json",
        {
            "id": "prt_5",
            "sessionID": "ses_2",
            "messageID": "msg_u2",
            "type": "text",
            "text": "Find flaky tests",
        },
    )
    _write(
        storage / "message" / "ses_2" / "msg_a2.json",
        {
            "id": "msg_a2",
            "sessionID": "ses_2",
            "role": "assistant",
            "time": {"created": T0 + 3300, "completed": T0 + 4000},
            "modelID": "claude-sonnet-4-20250514",
            "providerID": "anthropic",
            "cost": 0.0004,
            "tokens": {"input": 10, "output": 20, "reasoning": 5, "cache": {"read": 0, "write": 0}},
        },
    )
    return storage


OPENCODE_TOKENS = {"ses_1": 120 + 300 + 5000 + 800, "ses_2": 30}


# -- SWE-agent and mini-swe-agent -------------------------------------------------------------------


def swe_traj(exit_status: str, cost: float, sent: int, received: int) -> dict[str, Any]:
    return {
        "environment": "swe_main",
        "trajectory": [
            {
                "action": "ls",
                "observation": "django\nsetup.py",
                "response": "",
                "thought": "Look",
                "execution_time": 0.5,
            },
            {
                "action": "python reproduce.py",
                "observation": "Traceback (most recent call last)",
                "thought": "",
                "execution_time": 1.5,
            },
            {"action": "submit", "observation": "diff --git a/x b/x", "thought": "", "execution_time": 0.1},
        ],
        "history": [
            {"role": "system", "content": "SETTING: you are an autonomous programmer", "agent": "main"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "QuerySet.none() on combined queries returns all results"}
                ],
                "agent": "main",
            },
        ],
        "info": {
            "swe_agent_version": "1.0.1",
            "exit_status": exit_status,
            "submission": "diff --git a/x b/x",
            "model_stats": {
                "instance_cost": cost,
                "tokens_sent": sent,
                "tokens_received": received,
                "api_calls": 3,
            },
        },
        "replay_config": json.dumps({"agent": {"model": {"name": "gpt-4o-2024-08-06"}}}),
    }


def write_swe_agent(root: Path) -> Path:
    run = root / "trajectories" / "dev" / "default__gpt-4o__t-0.00"
    _write(run / "django__django-1" / "django__django-1.traj", swe_traj("submitted", 0.42, 12000, 800))
    _write(run / "django__django-2" / "django__django-2.traj", swe_traj("submitted", 0.10, 3000, 100))
    _write(run / "django__django-3" / "django__django-3.traj", swe_traj("exit_cost", 0.05, 1000, 50))
    _write(
        run / "results.json", {"resolved_ids": ["django__django-1"], "unresolved_ids": ["django__django-2"]}
    )
    for path in run.rglob("*.traj"):
        os.utime(path, (1_760_000_000, 1_760_000_000))
    return root / "trajectories"


def _usage(prompt: int, completion: int, cached: int) -> dict[str, Any]:
    return {
        "response": {
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "prompt_tokens_details": {"cached_tokens": cached},
            }
        }
    }


def mini_v1() -> dict[str, Any]:
    return {
        "info": {
            "exit_status": "Submitted",
            "submission": "diff",
            "model_stats": {"instance_cost": 0.0123, "api_calls": 3},
            "mini_version": "1.14.0",
            "config": {"model": {"model_name": "claude-sonnet-4-20250514"}},
        },
        "messages": [
            {"role": "system", "content": "You are a helpful assistant that can interact with a computer."},
            {
                "role": "user",
                "content": "<pr_description>\nConsider the following PR description:\nFix separability\n"
                "</pr_description>\n<instructions>...",
            },
            {
                "role": "assistant",
                "content": "THOUGHT: look around\n\n```bash\nls\n```",
                "extra": _usage(1000, 50, 200),
            },
            {"role": "user", "content": "<returncode>0</returncode>\n<output>\nastropy\n</output>"},
            {
                "role": "assistant",
                "content": "THOUGHT: reproduce\n\n```bash\npython -c 'import astropy'\n```",
                "extra": _usage(1500, 60, 1000),
            },
            {"role": "user", "content": "<returncode>1</returncode>\n<output>\nTraceback\n</output>"},
            {
                "role": "assistant",
                "content": "```bash\necho COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && git diff\n```",
                "extra": _usage(2000, 30, 1500),
            },
            {"role": "user", "content": "<returncode>0</returncode>\n<output>\ndiff\n</output>"},
        ],
        "trajectory_format": "mini-swe-agent-1",
    }


def mini_v2() -> dict[str, Any]:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "bash", "arguments": json.dumps({"command": "ls"})},
    }
    return {
        "info": {
            "exit_status": "LimitsExceeded",
            "model_stats": {"instance_cost": 0.5, "api_calls": 250},
            "mini_version": "2.3.0",
        },
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "<pr_description>\nFix the parser\n</pr_description>"},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {
                "role": "tool",
                "tool_call_id": "call_1",
                "content": "<returncode>0</returncode>\n<output>\na\n</output>",
            },
        ],
    }


def write_mini(root: Path) -> Path:
    out = root / "mini-out"
    _write(out / "astropy__astropy-1" / "astropy__astropy-1.traj.json", mini_v1())
    _write(out / "astropy__astropy-2" / "astropy__astropy-2.traj.json", mini_v2())
    for path in out.rglob("*.traj.json"):
        os.utime(path, (1_760_000_000, 1_760_000_000))  # the run's end (trajectories carry no clock)
    return out


MINI_V1_USAGE = (800 + 500 + 500, 140, 0, 200 + 1000 + 1500)
