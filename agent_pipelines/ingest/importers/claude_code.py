"""Claude Code transcripts (``~/.claude/projects/<project>/<session>.jsonl``) as events.

Each line is one record: ``type`` ``user`` / ``assistant`` (the conversation), or ``summary``,
``system``, ``file-history-snapshot``… (bookkeeping, skipped; a type we have never seen is counted
and skipped, so a newer client does not break the import). Conversation records carry
``sessionId``, ``uuid``, ``timestamp``, ``cwd``, ``gitBranch``, ``version``, ``isSidechain`` and a
``message`` in the Anthropic API's shape.

=====================================================  =======================================
record                                                 events
=====================================================  =======================================
first user prompt of the session                       ``session_start`` (prompt, task, project)
later user prompts                                     ``followup_sent``
assistant ``tool_use`` block                           ``tool_call``
user ``tool_result`` block                             ``tool_result``; with ``is_error`` also an
                                                       ``error`` (its output is the message)
assistant record with ``isApiErrorMessage``            ``error`` (category: rate_limit,
                                                       authentication, context_overflow, ...)
``[Request interrupted by user]``                      ``status_change`` to ``interrupted``
assistant message with ``stop_reason: end_turn``       ``status_change`` to ``awaiting_input``
(no ``tool_use`` left without its ``tool_result``)
=====================================================  =======================================

**Tokens** come from ``message.usage`` (input, output, cache creation, cache read). One API
response is written as several records (one per content block, "streaming snapshots") that repeat
its usage, and a resumed session copies earlier records into its new file: usage is counted once
per *message id + request id* (as ccusage does), taking the most complete snapshot, and attributed
to the session that first showed it. Sub-agent (``isSidechain``) records carry their parent's
``sessionId``, whether they sit in the parent's file or in ``<session>/subagents/``: their tool
calls and tokens belong to the parent session, once.

**Cost.** Old clients wrote ``costUSD`` on assistant records: when present it wins (it is what the
client itself charged, with prices we may not know); ``--cost-mode tokens`` prices every record
from its tokens instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent_pipelines.core.contract import Reason, id_problem
from agent_pipelines.core.settings import Settings
from agent_pipelines.ingest.importers import shapes
from agent_pipelines.ingest.importers.core import Importer
from agent_pipelines.ingest.importers.numbers import record_cost, token_count
from agent_pipelines.ingest.importers.pricing import Usage
from agent_pipelines.ingest.importers.text import exit_code_in, to_ms

NAME = "claude-code"
EXECUTOR = "CLAUDE_CODE"
CONVERSATION = frozenset({"user", "assistant"})
BOOKKEEPING = frozenset({"summary", "system", "file-history-snapshot", "queue-operation", "progress"})
INTERRUPT = "[Request interrupted by user"
REJECTED = ("The user doesn't want to proceed", "The user doesn't want to take this action", INTERRUPT)
NOT_PROMPTS = ("<local-command-stdout>", "<local-command-stderr>", "Caveat: The messages below")


def default_roots(settings: Settings) -> list[Path]:
    """``$CLAUDE_CONFIG_DIR/projects`` (comma-separated dirs allowed), else both usual homes."""
    configured = (settings.claude_config_dir or "").strip()
    if configured:
        bases = [Path(p.strip()).expanduser() for p in configured.split(",") if p.strip()]
    else:
        home = Path.home()
        bases = [home / ".config" / "claude", home / ".claude"]
    return [b / "projects" for b in bases]


def _text(content: Any) -> str:
    """The text of a message's or tool result's content (a string, or a list of blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        return "\n".join(p for p in parts if isinstance(p, str))
    return ""


def _usage(raw: dict[str, Any]) -> Usage:
    return Usage(
        input=token_count(raw.get("input_tokens"), "usage.input_tokens"),
        output=token_count(raw.get("output_tokens"), "usage.output_tokens"),
        cache_write=token_count(raw.get("cache_creation_input_tokens"), "usage.cache_creation_input_tokens"),
        cache_read=token_count(raw.get("cache_read_input_tokens"), "usage.cache_read_input_tokens"),
    )


class ClaudeCode:
    name = NAME
    executor = EXECUTOR
    known_types = CONVERSATION | BOOKKEEPING

    def default_roots(self, settings: Settings) -> list[Path]:
        return default_roots(settings)

    def file_session(self, path: Path) -> str | None:
        return shapes.session_from_name(path)  # <session>.jsonl; a line without sessionId is its file's

    def record_id(self, record: dict[str, Any], file_session: str | None) -> str | None:
        uid, kind = record.get("uuid"), shapes.claude_kind(record)
        return (
            f"cc:{uid}" if isinstance(uid, str) and isinstance(kind, str) and kind in CONVERSATION else None
        )

    def handle(self, record: dict[str, Any], imp: Importer) -> None:
        kind = shapes.claude_kind(record)  # older lines carry no type: judged by message.role / usage
        if not isinstance(kind, str) or kind not in CONVERSATION:
            if kind not in BOOKKEEPING:
                imp.unknown(str(kind))
            return
        sid, ts = record.get("sessionId", imp.file_session), record.get("timestamp")
        if not isinstance(sid, str) or not isinstance(ts, str):
            imp.bad(Reason.MISSING_FIELD, "a conversation record needs 'sessionId' and 'timestamp'")
            return
        if problem := id_problem(sid):
            imp.bad(Reason.INVALID_ID, f"'sessionId' {problem}")
            return
        try:
            to_ms(ts)
        except ValueError:
            imp.bad(Reason.INVALID_TIMESTAMP, f"'timestamp' is not ISO 8601: {ts!r:.60}")
            return
        s = imp.session(sid, ts)
        ctx = s["ctx"]
        if isinstance(record.get("gitBranch"), str) and record["gitBranch"]:
            ctx["branch"] = record["gitBranch"]
        if isinstance(record.get("version"), str):
            ctx["executor_variant"] = f"claude-code {record['version']}"
        if isinstance(record.get("cwd"), str) and not s.get("cwd"):
            s["cwd"] = record["cwd"]
        message = record.get("message")
        if not isinstance(message, dict):
            imp.bad(Reason.WRONG_TYPE, "'message' must be an object")
            return
        side = record.get("isSidechain") is True
        if kind == "user":
            self._user(record, message, s, ts, side, imp)
        else:
            self._assistant(record, message, s, ts, side, imp)

    def _user(
        self,
        record: dict[str, Any],
        message: dict[str, Any],
        s: dict[str, Any],
        ts: str,
        side: bool,
        imp: Importer,
    ) -> None:
        content = message.get("content")
        blocks = content if isinstance(content, list) else []
        detail = record.get("toolUseResult")
        for block in blocks:
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            output = _text(block.get("content"))
            is_error = block.get("is_error") is True
            exit_code = None
            if isinstance(detail, dict):
                for key in ("exitCode", "exit_code", "returnCode"):
                    if isinstance(detail.get(key), int) and not isinstance(detail.get(key), bool):
                        exit_code = detail[key]
                        break
            if exit_code is None and is_error:
                exit_code = exit_code_in(output)
            interrupted = output.startswith(REJECTED) or (
                isinstance(detail, dict) and detail.get("interrupted") is True
            )
            imp.tool_result(
                s,
                ts,
                block.get("tool_use_id"),
                output,
                is_error=is_error,
                exit_code=exit_code,
                interrupted=interrupted,
                sidechain=side,
            )
        text = _text(content).strip()
        if not text:
            return
        if text.startswith(INTERRUPT):
            if not side:
                imp.interrupted(s, ts, "user_interrupt")
            return
        if side or record.get("isMeta") is True or record.get("isCompactSummary") is True:
            return
        if text.startswith(NOT_PROMPTS):
            return
        imp.prompt(s, ts, text, s.get("cwd"))

    def _assistant(
        self,
        record: dict[str, Any],
        message: dict[str, Any],
        s: dict[str, Any],
        ts: str,
        side: bool,
        imp: Importer,
    ) -> None:
        model = message.get("model") if isinstance(message.get("model"), str) else None
        content = message.get("content")
        if record.get("isApiErrorMessage") is True or (
            model == "<synthetic>" and _text(content).startswith("API Error")
        ):
            imp.api_error(s, ts, _text(content) or "API error", ends_turn=not side)
            return
        if model and model != "<synthetic>":
            s["ctx"]["model"] = model
        usage = message.get("usage")
        if isinstance(usage, dict):
            self._count(record, message, _usage(usage), s, ts, model, imp)
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_use":
                imp.tool_call(
                    s,
                    ts,
                    block.get("id"),
                    str(block.get("name") or "unknown"),
                    block.get("input"),
                    sidechain=side,
                )
            elif block.get("type") == "text" and str(block.get("text") or "").strip() and not side:
                imp.answered(s)
        if message.get("stop_reason") == "end_turn" and not side:  # the answer that ends the turn
            imp.answered(s)
            if s["turn"] == "done":
                imp.turn_over(s, ts, "end_turn")

    def _count(
        self,
        record: dict[str, Any],
        message: dict[str, Any],
        usage: Usage,
        s: dict[str, Any],
        ts: str,
        model: str | None,
        imp: Importer,
    ) -> None:
        """Usage once per API request (message id + request id), the most complete snapshot wins."""
        own = record_cost(record.get("costUSD"))
        msg_id, request_id = message.get("id"), record.get("requestId")
        if not isinstance(msg_id, str):
            imp.add_usage(s, model, usage, ts, own)
            return
        key = f"{msg_id}:{request_id}" if isinstance(request_id, str) else msg_id
        assert imp.state is not None
        seen = imp.state.message(key)
        if seen is None:
            imp.state.put_message(key, s["id"], usage.to_list())
            imp.add_usage(s, model, usage, ts, own)
            return
        owner_id, counted_list = seen
        counted = Usage.from_list(counted_list)
        grown = usage.max(counted)
        if grown == counted:
            imp.skip("repeated usage (same message and request)")
            return
        imp.state.put_message(key, owner_id, grown.to_list())
        owner = imp.state.session(owner_id) or s
        imp.add_usage(owner, model, grown - counted, ts)
        imp.state.put_session(owner["id"], owner)
