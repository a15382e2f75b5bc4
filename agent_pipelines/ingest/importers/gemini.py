"""Gemini CLI chats (``~/.gemini/tmp/<project hash>/chats/session-*.json``) as events.

One JSON document per session, rewritten as it grows (google-gemini/gemini-cli,
``packages/core/src/services/chatRecordingService.ts``): ``{"sessionId", "projectHash",
"startTime", "lastUpdated", "messages": [...]}``; a message is ``{"id", "timestamp", "type":
"user" | "gemini" | "info" | "error" | "warning", "content"}``, and a ``gemini`` message also has
``model``, ``tokens`` (``input`` including ``cached``, ``output``, ``cached``, ``thoughts``,
``tool``, ``total``) and ``toolCalls`` (``id``, ``name``, ``args``, ``result``, ``status``:
``success`` / ``error`` / ``cancelled``, ``timestamp``).

=====================================================  =======================================
message                                                events
=====================================================  =======================================
first ``user`` message / later ones                    ``session_start`` / ``followup_sent``
``gemini`` ``toolCalls[]``                             ``tool_call`` and its ``tool_result``
                                                       (``error``: also an ``error``;
                                                       ``cancelled``: interrupted)
``gemini`` with text                                   the turn's answer
``error``                                              ``error`` (category from its text)
``gemini`` ``tokens``                                  tokens and cost: uncached input
                                                       (``input - cached + tool``), cache reads
                                                       (``cached``), output (``output + thoughts``)
=====================================================  =======================================
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent_pipelines.core.contract import Reason, id_problem, parse_timestamp
from agent_pipelines.core.settings import Settings
from agent_pipelines.ingest.importers.core import Importer
from agent_pipelines.ingest.importers.pricing import Usage
from agent_pipelines.ingest.importers.state import content_hash
from agent_pipelines.ingest.importers.tally import count_growth
from agent_pipelines.ingest.importers.text import seq, string

NAME = "gemini-cli"
EXECUTOR = "GEMINI_CLI"


def _n(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # newer clients store the parts ({"text": ...})
        return "\n".join(
            str(p["text"]) for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def usage_of(tokens: dict[str, Any]) -> Usage:
    inp, cached = _n(tokens.get("input")), _n(tokens.get("cached"))
    cached = min(cached, inp)
    return Usage(
        input=inp - cached + _n(tokens.get("tool")),
        output=_n(tokens.get("output")) + _n(tokens.get("thoughts")),
        cache_write=0,
        cache_read=cached,
    )


class GeminiCli:
    name = NAME
    executor = EXECUTOR
    known_types = frozenset({"user", "gemini", "info", "error", "warning"})
    suffixes = (".json",)
    documents = True

    def default_roots(self, settings: Settings) -> list[Path]:
        home = Path(settings.gemini_cli_home or Path.home()).expanduser()
        return [home / ".gemini" / "tmp"]

    def file_session(self, path: Path) -> str | None:
        return None

    def record_id(self, record: dict[str, Any], file_session: str | None) -> str | None:
        rid = record.get("rid")
        return string(rid)

    def records_of(self, path: Path, doc: Any) -> list[dict[str, Any]]:
        if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list) or "sessionId" not in doc:
            return []  # another JSON file of the Gemini folder (logs.json, settings, checkpoints)
        sid = doc["sessionId"]
        out = []
        for message in doc["messages"]:
            if isinstance(message, dict):
                digest = content_hash(json.dumps(message, sort_keys=True).encode())
                rid = f"gemini:{sid}:{message.get('id')}:{digest}"  # a message rewritten is handled again
                ts = message.get("timestamp")
                out.append({"rid": rid, "sessionId": sid, "timestamp": ts, "message": message})
        return out

    def handle(self, record: dict[str, Any], imp: Importer) -> None:
        sid, ts, m = record.get("sessionId"), record.get("timestamp"), record["message"]
        if not isinstance(sid, str) or not isinstance(ts, str):
            imp.bad(
                Reason.MISSING_FIELD, "a Gemini CLI message needs the session's 'sessionId' and a 'timestamp'"
            )
            return
        if problem := id_problem(sid):
            imp.bad(Reason.INVALID_ID, f"'sessionId' {problem}")
            return
        try:
            parse_timestamp(ts)
        except ValueError:
            imp.bad(Reason.INVALID_TIMESTAMP, f"'timestamp' is not ISO 8601: {ts!r:.60}")
            return
        s = imp.session(sid, ts)
        kind, text = m.get("type"), _text(m.get("content")).strip()
        if kind == "user":
            if text:
                imp.prompt(s, ts, text, s.get("cwd"))
        elif kind == "gemini":
            self._gemini(m, s, ts, text, imp)
        elif kind == "error":
            imp.api_error(s, ts, text or "error")
        elif kind not in self.known_types:
            imp.unknown(f"message:{kind}")

    def _gemini(self, m: dict[str, Any], s: dict[str, Any], ts: str, text: str, imp: Importer) -> None:
        model = string(m.get("model"))
        if model:
            s["ctx"]["model"] = model
        calls = seq(m.get("toolCalls"))
        for call in calls:
            if not isinstance(call, dict):
                continue
            call_id = string(call.get("id"))
            at = string(call.get("timestamp")) or ts
            name = str(call.get("name") or "tool")
            imp.tool_call(s, at, call_id, name, call.get("args"))
            status = call.get("status")
            if status in ("success", "error", "cancelled"):
                output = string(call.get("resultDisplay")) or ""
                imp.tool_result(
                    s,
                    at,
                    call_id,
                    output,
                    is_error=status == "error",
                    interrupted=status == "cancelled",
                    name=name,
                )
        tokens = m.get("tokens")
        if isinstance(tokens, dict):  # the message is written again as it completes: its growth counts
            key = f"gemini:{s['id']}:{m.get('id')}"
            count_growth(imp, s, key, model or s["ctx"].get("model"), usage_of(tokens), ts)
        if text:
            imp.answered(s)
