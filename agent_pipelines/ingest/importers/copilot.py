"""GitHub Copilot CLI sessions (``~/.copilot/session-state/<session>/events.jsonl``) as events.

Each line is a session event ``{"type", "data", "id", "timestamp", "parentId"}`` (the schema the
Copilot CLI runtime publishes with github/copilot-sdk, ``session-events.schema.json``; older
versions wrote ``session-state/<session>.jsonl``, same lines):

=====================================================  =======================================
event                                                  events
=====================================================  =======================================
``session.start`` (sessionId, copilotVersion,          the session's context
``context.cwd`` / ``branch``, ``selectedModel``)
``user.message``                                       ``session_start`` / ``followup_sent``
``tool.execution_start``                               ``tool_call``
``tool.execution_complete`` (``success``, ``error``)   ``tool_result``; a failure also an ``error``
``assistant.turn_end`` / ``assistant.message`` text    the turn's answer
``session.error``                                      ``error`` (category from its text)
``abort``                                              ``status_change`` to ``interrupted``
``assistant.usage`` (when written)                     tokens and cost of one request
``session.shutdown`` ``modelMetrics``                  tokens of the session by model (when no
                                                       ``assistant.usage`` was written: that event
                                                       is ephemeral in the schema)
=====================================================  =======================================

``inputTokens`` are read as uncached input (``cacheReadTokens`` and ``cacheWriteTokens`` are given
apart, as the SDK's own usage examples add them). The ``cost`` of these events is a premium-request
multiplier, not dollars: cost comes from the price table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent_pipelines.core.contract import Reason, id_problem, parse_timestamp
from agent_pipelines.core.settings import Settings
from agent_pipelines.ingest.importers import shapes
from agent_pipelines.ingest.importers.core import Importer
from agent_pipelines.ingest.importers.pricing import Usage
from agent_pipelines.ingest.importers.tally import count_growth
from agent_pipelines.ingest.importers.text import obj, string

NAME = "copilot-cli"
EXECUTOR = "COPILOT_CLI"
QUIET = ("session.", "assistant.", "tool.", "subagent.", "hook.", "permission.", "system.", "skill.")


def _n(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_of(u: dict[str, Any]) -> Usage:
    return Usage(
        input=_n(u.get("inputTokens")),
        output=_n(u.get("outputTokens")),
        cache_write=_n(u.get("cacheWriteTokens")),
        cache_read=_n(u.get("cacheReadTokens")),
    )


class CopilotCli:
    name = NAME
    executor = EXECUTOR
    known_types = frozenset(
        {"session.start", "user.message", "tool.execution_start", "tool.execution_complete"}
    )

    def default_roots(self, settings: Settings) -> list[Path]:
        home = Path(settings.copilot_home or Path.home() / ".copilot").expanduser()
        return [home / "session-state"]

    def file_session(self, path: Path) -> str | None:
        first = shapes.first_record(path)
        data = first.get("data") if first else None
        sid = data.get("sessionId") if isinstance(data, dict) else None
        if isinstance(sid, str) and not id_problem(sid):
            return sid
        return shapes.session_from_name(path.parent if path.name == "events.jsonl" else path)

    def record_id(self, record: dict[str, Any], file_session: str | None) -> str | None:
        eid = record.get("id")
        return f"copilot:{eid}" if isinstance(eid, str) else None

    def handle(self, record: dict[str, Any], imp: Importer) -> None:
        kind, ts, data = record.get("type"), record.get("timestamp"), record.get("data")
        if not isinstance(kind, str) or not isinstance(ts, str):
            imp.bad(Reason.MISSING_FIELD, "a Copilot CLI event needs 'type' and 'timestamp'")
            return
        try:
            parse_timestamp(ts)
        except ValueError:
            imp.bad(Reason.INVALID_TIMESTAMP, f"'timestamp' is not ISO 8601: {ts!r:.60}")
            return
        data = obj(data)
        sid = imp.file_session
        if sid is None:
            imp.bad(Reason.MISSING_FIELD, "no session id (session.start or the file's name)")
            return
        s = imp.session(sid, ts)
        if kind == "session.start":
            ctx = obj(data.get("context"))
            if isinstance(ctx.get("cwd"), str):
                s["cwd"] = ctx["cwd"]
            if isinstance(ctx.get("branch"), str):
                s["ctx"]["branch"] = ctx["branch"]
            if isinstance(data.get("copilotVersion"), str):
                s["ctx"]["executor_variant"] = f"copilot {data['copilotVersion']}"
            if isinstance(data.get("selectedModel"), str):
                s["ctx"]["model"] = data["selectedModel"]
        elif kind == "session.model_change" and isinstance(data.get("newModel"), str):
            s["ctx"]["model"] = data["newModel"]
        elif kind == "user.message":
            text = data.get("content")
            if isinstance(text, str) and text.strip():
                imp.prompt(s, ts, text.strip(), s.get("cwd"))
        elif kind == "tool.execution_start":
            call_id = string(data.get("toolCallId"))
            imp.tool_call(s, ts, call_id, str(data.get("toolName") or "tool"), data.get("arguments"))
        elif kind == "tool.execution_complete":
            self._result(data, s, ts, imp)
        elif kind == "assistant.message":
            if isinstance(data.get("model"), str):
                s["ctx"]["model"] = data["model"]
            if str(data.get("content") or "").strip() and not data.get("toolRequests"):
                imp.answered(s)
        elif kind == "assistant.turn_end":  # the turn is over, unless a tool call still awaits its result
            imp.answered(s)
            if s["turn"] == "done":
                imp.turn_over(s, ts, "turn_end")
        elif kind == "session.error":
            imp.api_error(s, ts, str(data.get("message") or data.get("errorType") or "error"))
        elif kind == "abort":
            imp.interrupted(s, ts, str(data.get("reason") or "abort"))
        elif kind == "assistant.usage":
            s["copilot_usage"] = True
            model = data.get("model") if isinstance(data.get("model"), str) else s["ctx"].get("model")
            imp.add_usage(s, model, usage_of(data), ts)
        elif kind == "session.shutdown":
            self._shutdown(data, s, ts, imp)
        elif not kind.startswith(QUIET) and kind not in ("abort", "pending_messages.modified"):
            imp.unknown(kind)

    def _result(self, data: dict[str, Any], s: dict[str, Any], ts: str, imp: Importer) -> None:
        call_id = string(data.get("toolCallId"))
        error = data.get("error")
        result = data.get("result")
        if isinstance(error, dict):
            output = str(error.get("message") or "")
        elif isinstance(result, dict):
            output = str(result.get("content") or "")
        else:
            output = json.dumps(result) if result is not None else ""
        rejected = isinstance(error, dict) and error.get("code") in ("rejected", "denied", "cancelled")
        imp.tool_result(
            s,
            ts,
            call_id,
            output,
            is_error=data.get("success") is False and not rejected,
            interrupted=rejected,
        )

    def _shutdown(self, data: dict[str, Any], s: dict[str, Any], ts: str, imp: Importer) -> None:
        if isinstance(data.get("currentModel"), str):
            s["ctx"]["model"] = data["currentModel"]
        metrics = data.get("modelMetrics")
        if s.get("copilot_usage") or not isinstance(metrics, dict):
            return  # the requests were counted one by one
        for model, metric in metrics.items():
            usage = metric.get("usage") if isinstance(metric, dict) else None
            if isinstance(
                usage, dict
            ):  # totals of the session so far: a resumed session's next shutdown grows them
                count_growth(imp, s, f"copilot:{s['id']}:{model}", str(model), usage_of(usage), ts)
