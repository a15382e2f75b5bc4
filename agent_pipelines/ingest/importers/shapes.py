"""The older and rarer shapes Claude Code and Codex write, read as the shapes their modules know.

Sources of the shapes (public):

* **Claude Code lines without ``type``** — older clients wrote usage lines as ``{"timestamp",
  "message": {"usage", "model", "id"}, "costUSD", "requestId"}``. ccusage counts every line whose
  ``timestamp`` and ``message.usage.input_tokens/output_tokens`` parse, whatever its ``type``
  (``usageDataSchema`` in ``apps/ccusage/src/data-loader.ts``, ryoppippi/ccusage; its test fixtures
  write such lines). We judge them by ``message.role``, else ``message.usage`` (an assistant's).
* **Codex rollouts without ``session_meta``** — ccusage names the session after the file
  (``sessionId = relative path without .jsonl`` in ``apps/codex/src/data-loader.ts``): we take the
  id the file name ends with (``rollout-<time>-<id>.jsonl``), else the name itself.
* **Legacy ("bare") Codex rollouts** (before September 2025, ``sessions/rollout-<time>-<id>.jsonl``
  with no date folders): line 1 is ``{"id", "timestamp", "instructions", "git"}``, then bare response
  items (``{"type": "message" | "function_call" | ...}``) without timestamps, and
  ``{"record_type": "state"}`` markers (openai/codex rollout recorder of that time; described by the
  Codex readers of Sinity/polylogue and kvsankar/agent-history). A bare item takes the session's
  last timestamp; the user's prompts are its ``message`` items of role ``user`` (the
  ``<environment_context>`` and ``<user_instructions>`` blocks are context, not prompts).
* **Codex sub-agent threads** write their own rollout, whose ``session_meta.payload.source`` is
  ``{"subagent": ...}`` (with ``thread_spawn.parent_thread_id``): a session of its own, as ccusage
  counts it, marked as a sub-agent in ``executor_variant``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from agent_pipelines.core.contract import id_problem
from agent_pipelines.ingest.importers.files import open_regular

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
FIRST_LINE_BYTES = 1 << 20  # a session_meta line carries the instructions: tens of kB at most
CODEX_RECORD_TYPES = frozenset({"session_meta", "turn_context", "response_item", "event_msg", "compacted"})
LEGACY_ITEMS = frozenset(
    {
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "local_shell_call",
        "web_search_call",
    }
)
CONTEXT_BLOCKS = ("<environment_context>", "<user_instructions>", "# AGENTS.md instructions")


def claude_kind(record: dict[str, Any]) -> str | None:
    """``user`` / ``assistant`` for a Claude Code line, whether or not it says its ``type``."""
    kind = record.get("type")
    if isinstance(kind, str):
        return kind
    message = record.get("message")
    if not isinstance(message, dict):
        return None
    role = message.get("role")
    if role in ("user", "assistant"):
        return str(role)
    return "assistant" if isinstance(message.get("usage"), dict) else None


def session_from_name(path: str | Path) -> str | None:
    """The session a transcript file is named after: the last UUID in its name, else its stem."""
    name = Path(path).name
    for suffix in (".jsonl", ".json"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    found = UUID.findall(name)
    candidate = found[-1] if found else name
    return None if not candidate or id_problem(candidate) else candidate


def first_record(path: Path) -> dict[str, Any] | None:
    """The first line of a file, decoded (``None`` when it is not a JSON object)."""
    try:
        with open_regular(path) as handle:
            line = handle.readline(FIRST_LINE_BYTES)
        record = json.loads(line)
    except (OSError, ValueError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


def codex_file_session(path: Path) -> str | None:
    """A rollout's session: its ``session_meta`` id (either era), else the id in its name."""
    first = first_record(path)
    if first is not None:
        payload = first.get("payload")
        if first.get("type") == "session_meta" and isinstance(payload, dict):
            sid = payload.get("id")
        else:
            sid = first.get("id") if "type" not in first and "timestamp" in first else None
        if isinstance(sid, str) and not id_problem(sid):
            return sid
    return session_from_name(path)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(b.get("text") or "")
            for b in content
            if isinstance(b, dict) and isinstance(b.get("text"), str)
        )
    return ""


def codex_record(record: dict[str, Any], last_ts: str | None) -> dict[str, Any] | None:
    """A Codex line as today's ``{"timestamp", "type", "payload"}``; ``None`` for a marker to skip.

    ``last_ts`` is the session's latest timestamp (a bare legacy item has none of its own).
    """
    kind = record.get("type")
    if "payload" in record or (isinstance(kind, str) and kind in CODEX_RECORD_TYPES):
        return record
    if kind is None and record.get("record_type") == "state":
        return None
    if kind is None and isinstance(record.get("id"), str) and isinstance(record.get("timestamp"), str):
        payload = {k: record[k] for k in ("id", "timestamp", "git") if k in record}
        return {"timestamp": record["timestamp"], "type": "session_meta", "payload": payload}
    if isinstance(kind, str) and kind in LEGACY_ITEMS:
        ts = record.get("timestamp") if isinstance(record.get("timestamp"), str) else last_ts
        if kind == "message" and record.get("role") == "user":
            text = _text(record.get("content")).strip()
            if not text or text.startswith(CONTEXT_BLOCKS):
                return None
            return {
                "timestamp": ts,
                "type": "event_msg",
                "payload": {"type": "user_message", "message": text},
            }
        return {"timestamp": ts, "type": "response_item", "payload": record}
    return record


def codex_subagent(payload: dict[str, Any]) -> str | None:
    """``sub-agent`` (of a parent when one is named) for a sub-agent thread's ``session_meta``."""
    source = payload.get("source")
    if not isinstance(source, dict) or "subagent" not in source:
        return None
    spawn = source["subagent"].get("thread_spawn") if isinstance(source["subagent"], dict) else None
    parent = spawn.get("parent_thread_id") if isinstance(spawn, dict) else None
    return f"sub-agent of {parent}" if isinstance(parent, str) else "sub-agent"
