"""Codex CLI rollouts (``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl``) as events.

Each line is ``{"timestamp", "type", "payload"}``; one file is one session:

=====================================================  =======================================
record                                                 events
=====================================================  =======================================
``session_meta`` (id, cwd, git branch, cli_version)    the session's context
``turn_context`` (model)                               the model of the following requests
``event_msg`` ``user_message``                         ``session_start`` (first) / ``followup_sent``
``response_item`` ``function_call`` /                  ``tool_call``
``custom_tool_call`` / ``local_shell_call``
``response_item`` ``web_search_call``                  ``tool_call`` and its ``tool_result``
``response_item`` ``function_call_output`` /           ``tool_result``; a non-zero exit code also
``custom_tool_call_output``                            an ``error`` with the command's output
``event_msg`` ``error`` / ``stream_error``             ``error`` (category from its text)
``event_msg`` ``turn_aborted``                         ``status_change`` to ``interrupted``
``event_msg`` ``task_complete`` (no call left open)    ``status_change`` to ``awaiting_input``
``event_msg`` ``token_count``                          tokens and cost (no event)
``compacted`` (history replaced by a summary)           nothing: the turn and the tokens go on
=====================================================  =======================================

Rollouts without ``session_meta`` are named after their file, legacy (bare) rollouts and sub-agent
threads are read too: see :mod:`~agent_pipelines.ingest.importers.shapes`.

**Tokens.** ``token_count`` carries ``info.last_token_usage`` (the last request) and
``info.total_token_usage`` (the session so far); ``info`` is ``null`` before the first response,
and the same record is often written twice. A record whose total equals the previous one is a
repeat and adds nothing; otherwise ``last_token_usage`` is added (or, when only the total is
there, the growth of the total). ``input_tokens`` includes ``cached_input_tokens``;
``output_tokens`` includes ``reasoning_output_tokens`` (OpenAI's accounting), so cost is
``(input - cached) * input + cached * cache_read + output * output``. Codex writes no cost of its own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from agent_pipelines.core.contract import Reason, id_problem
from agent_pipelines.core.settings import Settings
from agent_pipelines.ingest.importers import shapes
from agent_pipelines.ingest.importers.core import Importer
from agent_pipelines.ingest.importers.decoding import loads_text
from agent_pipelines.ingest.importers.numbers import MAX_TOKENS, token_count
from agent_pipelines.ingest.importers.pricing import Usage
from agent_pipelines.ingest.importers.text import exit_code_in, to_ms

NAME = "codex"
EXECUTOR = "CODEX"
RECORD_TYPES = frozenset({"session_meta", "turn_context", "response_item", "event_msg", "compacted"})
CALLS = frozenset({"function_call", "custom_tool_call", "local_shell_call"})
OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output"})
QUIET_ITEMS = frozenset({"reasoning", "message", "ghost_snapshot", "compaction"})
QUIET_EVENTS = frozenset(
    {
        "agent_reasoning",
        "agent_reasoning_raw_content",
        "agent_reasoning_section_break",
        "exec_command_begin",
        "exec_command_end",
        "exec_command_output_delta",
        "patch_apply_begin",
        "patch_apply_end",
        "mcp_tool_call_begin",
        "mcp_tool_call_end",
        "web_search_begin",
        "web_search_end",
        "turn_diff",
        "plan_update",
        "entered_review_mode",
        "exited_review_mode",
        "context_compacted",
        "item_completed",
        "item_started",
        "background_event",
        "view_image_tool_call",
        "user_turn",
        "session_configured",
        "shutdown_complete",
        "get_history_entry_response",
        "undo_started",
        "undo_completed",
    }
)


def default_roots(settings: Settings) -> list[Path]:
    """``${CODEX_HOME:-~/.codex}/sessions`` and ``archived_sessions``."""
    home = Path(settings.codex_home or Path.home() / ".codex").expanduser()
    return [home / "sessions", home / "archived_sessions"]


def _raw_usage(value: Any) -> tuple[int, int, int, int] | None:
    """(input incl. cached, cached, output incl. reasoning, reasoning) of a token usage object."""
    if not isinstance(value, dict):
        return None
    a, b = value.get("input_tokens"), value.get("cached_input_tokens")
    c, d = value.get("output_tokens"), value.get("reasoning_output_tokens")
    if (  # the usual case, taken as token_count takes it
        type(a) is int
        and type(b) is int
        and type(c) is int
        and type(d) is int
        and 0 <= a <= MAX_TOKENS
        and 0 <= b <= MAX_TOKENS
        and 0 <= c <= MAX_TOKENS
        and 0 <= d <= MAX_TOKENS
    ):
        return a, b, c, d
    return (
        token_count(value.get("input_tokens"), "input_tokens"),
        token_count(value.get("cached_input_tokens"), "cached_input_tokens"),
        token_count(value.get("output_tokens"), "output_tokens"),
        token_count(value.get("reasoning_output_tokens"), "reasoning_output_tokens"),
    )


def _as_usage(raw: tuple[int, int, int, int]) -> Usage:
    inp, cached, out, _reasoning = raw
    cached = min(cached, inp)
    return Usage(input=inp - cached, output=out, cache_write=0, cache_read=cached)


def _output(value: Any) -> tuple[str, int | None, bool | None]:
    """(text, exit code, success flag) of a tool output, whichever shape this client version wrote."""
    success = None
    if isinstance(value, dict):
        success = value.get("success") if isinstance(value.get("success"), bool) else None
        value = value.get("content", value.get("output", ""))
    text = value if isinstance(value, str) else json.dumps(value)
    code = None
    if text.startswith("{"):
        try:
            parsed = loads_text(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            meta = parsed.get("metadata")
            if isinstance(meta, dict) and isinstance(meta.get("exit_code"), int):
                code = meta["exit_code"]
            if isinstance(parsed.get("output"), str):
                text = parsed["output"]
    if code is None:
        code = exit_code_in(text)
    return text, code, success


# Today's rollouts start every line the same way: the kind of a record that means nothing to us
# (reasoning, command output events: most of a rollout's bytes) is read from its first bytes,
# and the line is never decoded.
_LINE_START = re.compile(
    rb'\{\s*"timestamp"\s*:\s*"[^"]{1,40}"\s*,\s*"type"\s*:\s*"(event_msg|response_item)"\s*,'
    rb'\s*"payload"\s*:\s*\{\s*"type"\s*:\s*"([a-z_]{1,40})"'
)
QUIET_ITEMS_START = frozenset({b"reasoning", b"ghost_snapshot"})
QUIET_EVENTS_START = frozenset(k.encode() for k in QUIET_EVENTS)


def quiet_line(raw: bytes) -> bool:
    """Whether a line is a record that makes no event and no token (decided without decoding it)."""
    match = _LINE_START.match(raw)
    if match is None:
        return False
    kind, item = match.group(1), match.group(2)
    return item in (QUIET_EVENTS_START if kind == b"event_msg" else QUIET_ITEMS_START)


# Records whose handling reads no text (their kinds, an assistant's role, token numbers): redaction
# could change nothing they make, so they are neither screened nor redacted (over half of a real
# rollout's decoded records, among them those the screen flags most: answers, messages repeating
# prompts). Only with a timestamp of digits and ISO punctuation, which no secret pattern matches.
PLAIN_EVENTS = frozenset({"agent_message", "task_complete", "task_started", "token_count"})
_PLAIN_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)?")


def plain_record(record: dict[str, Any]) -> bool:
    """Whether handling ``record`` reads no text that redaction could change (see above)."""
    payload, ts = record.get("payload"), record.get("timestamp")
    if not isinstance(payload, dict) or not isinstance(ts, str) or not _PLAIN_TIME.fullmatch(ts):
        return False
    kind, item = record.get("type"), payload.get("type")
    if not isinstance(item, str):  # a list or an object as a kind: judged by the full handling
        return False
    if kind == "event_msg":
        return item in PLAIN_EVENTS
    return kind == "response_item" and item == "message"


class Codex:
    """``fast=False`` is the reference: every record screened, redacted and handled one by one (the
    fast path must import every rollout exactly as it does: tests/test_import_fast.py)."""

    name = NAME
    executor = EXECUTOR
    known_types = RECORD_TYPES

    def __init__(self, *, fast: bool = True) -> None:
        self.fast = fast

    def quiet_line(self, raw: bytes) -> bool:
        return quiet_line(raw)

    def plain_record(self, record: dict[str, Any]) -> bool:
        return self.fast and plain_record(record)

    def default_roots(self, settings: Settings) -> list[Path]:
        return default_roots(settings)

    def file_session(self, path: Path) -> str | None:
        return shapes.codex_file_session(path)

    def record_id(self, record: dict[str, Any], file_session: str | None) -> str | None:
        """Tool calls and outputs by call id: a resumed rollout repeats them."""
        payload = record.get("payload")
        if record.get("type") == "response_item" and isinstance(payload, dict):
            kind, call_id = payload.get("type"), payload.get("call_id") or payload.get("id")
            if isinstance(kind, str) and (kind in CALLS or kind in OUTPUTS) and isinstance(call_id, str):
                return f"codex:{kind}:{call_id}"
        return None

    def handle(self, record: dict[str, Any], imp: Importer) -> None:
        if "payload" not in record:  # a legacy (bare) rollout's line, or a marker
            known = imp.state.session(imp.file_session) if imp.state and imp.file_session else None
            wrapped = shapes.codex_record(record, known["last"] if known else None)
            if wrapped is None:
                imp.skip("legacy marker or context block")
                return
            record = wrapped
        kind, ts, payload = record.get("type"), record.get("timestamp"), record.get("payload")
        if not isinstance(kind, str) or kind not in RECORD_TYPES:
            imp.unknown(str(kind))
            return
        if not isinstance(ts, str):
            imp.bad(Reason.MISSING_FIELD, "'timestamp' is required")
            return
        try:
            to_ms(ts)
        except ValueError:
            imp.bad(Reason.INVALID_TIMESTAMP, f"'timestamp' is not ISO 8601: {ts!r:.60}")
            return
        if not isinstance(payload, dict):
            imp.bad(Reason.WRONG_TYPE, "'payload' must be an object")
            return
        if kind == "session_meta":
            self._meta(payload, ts, imp)
            return
        if kind == "compacted":  # the history replaced by its summary: tokens go on as before
            imp.skip("compaction")
            return
        sid = imp.file_session or shapes.session_from_name(imp.where[0])
        if sid is None:
            imp.bad(Reason.MISSING_FIELD, "no session_meta (session id) before this record")
            return
        imp.file_session = sid
        s = imp.session(sid, ts)
        if kind == "turn_context":
            if isinstance(payload.get("model"), str):
                s["ctx"]["model"] = payload["model"]
            if isinstance(payload.get("cwd"), str) and not s.get("cwd"):
                s["cwd"] = payload["cwd"]
        elif kind == "response_item":
            self._item(payload, s, ts, imp)
        elif kind == "event_msg":
            self._event(payload, s, ts, imp)

    def _meta(self, payload: dict[str, Any], ts: str, imp: Importer) -> None:
        sid = payload.get("id")
        if not isinstance(sid, str):
            imp.bad(Reason.MISSING_FIELD, "session_meta needs 'id'")
            return
        if problem := id_problem(sid):
            imp.bad(Reason.INVALID_ID, f"session id {problem}")
            return
        if imp.file_session is None:
            imp.file_session = sid
        if sid != imp.file_session:
            return  # a forked or resumed rollout names its origin too: the file's first id is the session
        s = imp.session(sid, ts)
        if isinstance(payload.get("cwd"), str):
            s["cwd"] = payload["cwd"]
        git = payload.get("git")
        if isinstance(git, dict) and isinstance(git.get("branch"), str):
            s["ctx"]["branch"] = git["branch"]
        variant = f"codex {payload['cli_version']}" if isinstance(payload.get("cli_version"), str) else None
        if sub := shapes.codex_subagent(payload):
            variant = f"{variant or 'codex'} ({sub})"
        if variant:
            s["ctx"]["executor_variant"] = variant

    def _item(self, p: dict[str, Any], s: dict[str, Any], ts: str, imp: Importer) -> None:
        kind = p.get("type") if isinstance(p.get("type"), str) else str(p.get("type"))
        if kind in CALLS:
            call_id = p.get("call_id") or p.get("id")
            if kind == "function_call":
                args = p.get("arguments")
                try:
                    params = loads_text(args) if isinstance(args, str) else args
                except ValueError:
                    params = {"arguments": args}
                name = str(p.get("name") or "function")
            elif kind == "custom_tool_call":
                params, name = {"input": p.get("input")}, str(p.get("name") or "custom_tool")
            else:
                params, name = p.get("action"), "local_shell"
            imp.tool_call(s, ts, call_id if isinstance(call_id, str) else None, name, params)
        elif kind in OUTPUTS:
            text, code, success = _output(p.get("output"))
            failed = success is False or (code is not None and code != 0)
            imp.tool_result(s, ts, p.get("call_id"), text, is_error=failed, exit_code=code)
        elif kind == "web_search_call":  # the search runs server-side: its call is also its result
            call_id = p.get("id") if isinstance(p.get("id"), str) else None
            imp.tool_call(s, ts, call_id, "web_search", p.get("action"))
            failed = p.get("status") == "failed"
            imp.tool_result(
                s, ts, call_id, "web search failed" if failed else "", is_error=failed, name="web_search"
            )
        elif kind == "message":
            if p.get("role") == "assistant":
                imp.answered(s)
        elif kind not in QUIET_ITEMS:
            imp.unknown(f"response_item:{kind}")

    def _event(self, p: dict[str, Any], s: dict[str, Any], ts: str, imp: Importer) -> None:
        kind = p.get("type") if isinstance(p.get("type"), str) else str(p.get("type"))
        if kind == "user_message":
            text = p.get("message")
            if isinstance(text, str) and text.strip():
                imp.prompt(s, ts, text.strip(), s.get("cwd"))
        elif kind == "token_count":
            self._tokens(p, s, ts, imp)
        elif kind == "agent_message":
            imp.answered(s)
        elif kind == "task_complete":  # the turn is over, unless a function call still awaits its output
            imp.answered(s)
            if s["turn"] == "done":
                imp.turn_over(s, ts, "task_complete")
        elif kind == "task_started":
            s["turn"] = "working"
        elif kind == "turn_aborted":
            imp.interrupted(s, ts, str(p.get("reason") or "aborted"))
        elif kind in ("error", "stream_error"):
            imp.api_error(s, ts, str(p.get("message") or kind), ends_turn=kind == "error")
        elif kind not in QUIET_EVENTS:
            imp.unknown(f"event_msg:{kind}")

    def _tokens(self, p: dict[str, Any], s: dict[str, Any], ts: str, imp: Importer) -> None:
        info = p.get("info")
        if not isinstance(info, dict):
            imp.skip("token_count without info")
            return
        total = _raw_usage(info.get("total_token_usage"))
        last = _raw_usage(info.get("last_token_usage"))
        previous = tuple(s["codex_total"]) if s.get("codex_total") else None
        if total is not None and total == previous:
            imp.skip("repeated token_count")
            return
        if last is not None:
            delta = last
        elif total is not None:
            base = previous or (0, 0, 0, 0)
            delta = tuple(max(0, a - b) for a, b in zip(total, base, strict=True))
        else:
            imp.skip("token_count without usage")
            return
        if total is not None:
            s["codex_total"] = list(total)
        imp.add_usage(s, s["ctx"].get("model"), _as_usage(delta), ts)
