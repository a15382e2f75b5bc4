"""OpenCode sessions (``~/.local/share/opencode/storage/``) as events.

OpenCode (sst/opencode) keeps one small JSON file per thing, rewritten as it progresses:

* ``session/<project>/<session>.json`` — ``{"id", "projectID", "directory", "title", "parentID"?,
  "time": {"created", "updated"}}`` (epoch ms; a ``parentID`` is a sub-agent's session);
* ``message/<session>/<message>.json`` — ``{"id", "sessionID", "role", "time": {"created",
  "completed"?}, "modelID", "providerID", "cost", "tokens": {"input", "output", "reasoning",
  "cache": {"read", "write"}}, "error"?}``;
* ``part/<message>/<part>.json`` — a message's parts: ``text`` (the user's prompt), and ``tool``
  parts ``{"callID", "tool", "state": {"status": pending | running | completed | error, "input",
  "output" | "error", "time": {"start", "end"}}}``.

=====================================================  =======================================
file                                                   events
=====================================================  =======================================
user message (text from its ``text`` parts)            ``session_start`` / ``followup_sent``
``tool`` part, ``completed`` / ``error``               ``tool_call`` and ``tool_result`` (an
                                                       ``error`` also an ``error``)
assistant message, completed                           the turn's answer; tokens and cost
assistant message with ``error``                       ``error``; ``MessageAbortedError``:
                                                       ``status_change`` to ``interrupted``
=====================================================  =======================================

**Tokens and cost** as ccusage counts them (``apps/opencode/src/data-loader.ts``): an assistant
message with input, output and both cache counts, a provider and a model; ``input`` is uncached
input, ``output`` the output (``reasoning`` is not added); its ``cost`` is the message's own (USD)
and wins like Claude Code's ``costUSD``. A message is written several times; its usage counts once.
Newer OpenCode versions also keep these rows in ``opencode.db``: import the ``storage`` folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent_pipelines.core.contract import Reason, id_problem
from agent_pipelines.core.settings import Settings
from agent_pipelines.ingest.importers.core import Importer
from agent_pipelines.ingest.importers.documents import iso_ms
from agent_pipelines.ingest.importers.files import open_regular
from agent_pipelines.ingest.importers.pricing import Usage
from agent_pipelines.ingest.importers.tally import count_growth
from agent_pipelines.ingest.importers.text import obj, string

NAME = "opencode"
EXECUTOR = "OPENCODE"
MAX_PROMPT_PARTS = 50


def _n(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else 0


def _ms(value: Any) -> float | None:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else None
    )


def _kind(path: Path) -> str | None:
    """``session`` / ``message`` / ``part``: the storage folder a file sits in."""
    for parent in path.parents:
        if parent.parent.name == "storage":
            return parent.name if parent.name in ("session", "message", "part") else None
    return None


MAX_PART_BYTES = 1 << 20  # a prompt's text part; more is not a prompt


def prompt_text(path: Path, message_id: str) -> str:
    """A user message's text: its ``text`` parts (``storage/part/<message>/``), in order."""
    storage = next((p for p in path.parents if p.name == "storage"), None)
    folder = storage / "part" / message_id if storage else None
    if folder is None or not folder.is_dir():
        return ""
    texts = []
    for part_path in sorted(folder.glob("*.json"))[:MAX_PROMPT_PARTS]:
        try:
            with open_regular(part_path) as handle:  # a linked part is not read: it may be anything
                part = json.loads(handle.read(MAX_PART_BYTES).decode("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(part, dict) and part.get("type") == "text" and not part.get("synthetic"):
            texts.append(str(part.get("text") or ""))
    return "\n".join(t for t in texts if t).strip()


class OpenCode:
    name = NAME
    executor = EXECUTOR
    known_types = frozenset({"session", "message", "tool"})
    suffixes = (".json",)
    documents = True

    def default_roots(self, settings: Settings) -> list[Path]:
        configured = settings.opencode_data_dir
        base = Path(configured).expanduser() if configured else Path.home() / ".local" / "share" / "opencode"
        return [base / "storage"]

    def file_session(self, path: Path) -> str | None:
        return None

    def record_id(self, record: dict[str, Any], file_session: str | None) -> str | None:
        rid = record.get("rid")
        return string(rid)

    def records_of(self, path: Path, doc: Any) -> list[dict[str, Any]]:
        kind = _kind(path)
        if not isinstance(doc, dict) or kind is None:
            return []
        if kind == "session":
            created = _ms((doc.get("time") or {}).get("created"))
            if not isinstance(doc.get("id"), str) or created is None:
                return []
            return [
                {
                    "rid": f"oc:s:{doc['id']}",
                    "kind": "session",
                    "sessionId": doc["id"],
                    "timestamp": iso_ms(created),
                    "doc": doc,
                }
            ]
        if kind == "message":
            time = obj(doc.get("time"))
            when = _ms(time.get("completed")) or _ms(time.get("created"))
            if when is None or not isinstance(doc.get("id"), str):
                return []
            done = _ms(time.get("completed")) is not None or "error" in doc
            record = {
                "rid": f"oc:m:{doc['id']}:{done}",
                "kind": "message",
                "sessionId": doc.get("sessionID"),
                "timestamp": iso_ms(when),
                "doc": doc,
            }
            if doc.get("role") == "user":
                record["prompt"] = prompt_text(path, doc["id"])
            return [record]
        if doc.get("type") != "tool" or not isinstance(doc.get("state"), dict):
            return []  # text, reasoning, step and patch parts carry no event of their own
        state = doc["state"]
        if state.get("status") not in ("completed", "error"):
            return []  # pending / running: the finished part is written again
        times = obj(state.get("time"))
        start = _ms(times.get("start"))
        if start is None:
            return []
        end = _ms(times.get("end")) or start
        return [
            {
                "rid": f"oc:p:{doc.get('id')}:{state['status']}",
                "kind": "tool",
                "sessionId": doc.get("sessionID"),
                "timestamp": iso_ms(start),
                "end": iso_ms(end),
                "doc": doc,
            }
        ]

    def handle(self, record: dict[str, Any], imp: Importer) -> None:
        sid, ts, doc, kind = record.get("sessionId"), record["timestamp"], record["doc"], record.get("kind")
        if not isinstance(sid, str):
            imp.bad(Reason.MISSING_FIELD, "an OpenCode record needs its session's id ('sessionID')")
            return
        if problem := id_problem(sid):
            imp.bad(Reason.INVALID_ID, f"'sessionID' {problem}")
            return
        s = imp.session(sid, ts)
        if kind == "session":
            if isinstance(doc.get("directory"), str):
                s["cwd"] = doc["directory"]
            if isinstance(doc.get("parentID"), str):
                s["ctx"]["executor_variant"] = f"opencode (sub-agent of {doc['parentID']})"
        elif kind == "tool":
            state, call_id = doc["state"], string(doc.get("callID"))
            name = str(doc.get("tool") or "tool")
            imp.tool_call(s, ts, call_id, name, state.get("input"))
            failed = state["status"] == "error"
            output = str(state.get("error") or "") if failed else ""
            interrupted = failed and "aborted" in output.lower()
            imp.tool_result(
                s, record["end"], call_id, output, is_error=failed, interrupted=interrupted, name=name
            )
        elif doc.get("role") == "user":
            if record.get("prompt"):
                imp.prompt(s, ts, record["prompt"], s.get("cwd"))
        elif doc.get("role") == "assistant":
            self._assistant(doc, s, ts, imp)

    def _assistant(self, doc: dict[str, Any], s: dict[str, Any], ts: str, imp: Importer) -> None:
        model = string(doc.get("modelID"))
        if model:
            s["ctx"]["model"] = model
        tokens = doc.get("tokens")
        if isinstance(tokens, dict) and model and doc.get("providerID"):
            cache = obj(tokens.get("cache"))
            usage = Usage(
                input=int(_n(tokens.get("input"))),
                output=int(_n(tokens.get("output"))),
                cache_write=int(_n(cache.get("write"))),
                cache_read=int(_n(cache.get("read"))),
            )
            cost = doc.get("cost")
            own = (
                float(cost)
                if isinstance(cost, int | float) and not isinstance(cost, bool) and cost > 0
                else None
            )
            if usage.total:
                count_growth(imp, s, f"opencode:{doc['id']}", model, usage, ts, own)
        error = doc.get("error")
        if isinstance(error, dict):
            data = obj(error.get("data"))
            if error.get("name") == "MessageAbortedError":
                imp.interrupted(s, ts, "user_abort")
            else:
                imp.api_error(s, ts, str(data.get("message") or error.get("name") or "error"))
        elif _ms((doc.get("time") or {}).get("completed")) is not None:  # the loop answered: turn over
            imp.answered(s)
            if s["turn"] == "done":
                imp.turn_over(s, ts, "completed")
